"""Who is calling, and what of the tenants' data they may reach.

Every lookup by id goes through here. Something that belongs to another account answers
exactly like something that does not exist (404), and the attempt is audited, so an account
admin learns nothing by guessing ids.
"""

from __future__ import annotations

import logging

from starlette.requests import HTTPConnection, Request

from credgate.admin.api_keys import authenticate_api_key
from credgate.admin.auth import Principal, find_session_admin
from credgate.admin.csrf import HEADER, SAFE_METHODS, csrf_token_for, validate_csrf
from credgate.admin.errors import Forbidden, SignInRequired
from credgate.oauth2.endpoints import client_address, runtime_of
from credgate.oauth2.errors import NotFound
from credgate.storage import accounts as account_store
from credgate.storage import clients as client_store
from credgate.storage import tokens as token_store
from credgate.storage.audit import record_event
from credgate.storage.models import AccessToken, Account, AdminUser, Client, ClientSecret

logger = logging.getLogger("credgate.admin")

SESSION_COOKIE = "credgate_admin"


async def find_principal(connection: HTTPConnection) -> Principal | None:
    """The admin behind an API key (``Authorization: Bearer cgk_...``) or a session cookie."""
    runtime = runtime_of(connection)
    authorization = connection.headers.get("authorization", "")
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() == "bearer":
        return await authenticate_api_key(runtime, value.strip())
    cookie = connection.cookies.get(SESSION_COOKIE)
    if not cookie:
        return None
    admin = await find_session_admin(runtime, cookie)
    if admin is None:
        return None
    csrf = csrf_token_for(runtime.hasher, cookie)
    return Principal(admin.id, admin.email, admin.role, admin.account_id, "session", csrf)


async def require_principal(request: Request) -> Principal:
    """FastAPI dependency of the admin API: authenticated, and CSRF-checked when by cookie."""
    principal = await find_principal(request)
    if principal is None:
        raise SignInRequired("sign in, or send an admin API key as a bearer token")
    if principal.via == "session" and request.method not in SAFE_METHODS:
        validate_csrf(principal.csrf_token, request.headers.get(HEADER))
    return principal


def require_operator(principal: Principal) -> None:
    if not principal.is_operator:
        raise Forbidden("only operators may do this")


async def deny(
    connection: HTTPConnection,
    principal: Principal,
    kind: str,
    target: str,
    owner_account_id: str | None,
) -> NotFound:
    """Audit an attempt to reach another account's data; the caller raises what it returns."""
    runtime = runtime_of(connection)
    async with runtime.sessions.begin() as session:
        await record_event(
            session,
            actor=principal.actor,
            action="admin.access_denied",
            account_id=principal.account_id,
            target=target[:200],
            source_address=client_address(connection),
            details={"kind": kind, "owner_account_id": owner_account_id},
        )
    logger.warning("admin.access_denied", extra={"kind": kind, "admin_id": principal.admin_id})
    return NotFound(f"no such {kind}")


async def account_in_reach(
    connection: HTTPConnection, principal: Principal, account_id: str
) -> Account:
    async with runtime_of(connection).sessions() as session:
        account = await account_store.find_account(session, account_id)
    if account is None:
        raise NotFound("no such account")
    if not principal.reaches(account.id):
        raise await deny(connection, principal, "account", account_id, account.id)
    return account


async def client_in_reach(
    connection: HTTPConnection, principal: Principal, client_id: str
) -> Client:
    async with runtime_of(connection).sessions() as session:
        client = await client_store.find_client(session, client_id)
    if client is None:
        raise NotFound("no such client")
    if not principal.reaches(client.account_id):
        raise await deny(connection, principal, "client", client_id, client.account_id)
    return client


async def secret_in_reach(
    connection: HTTPConnection, principal: Principal, client: Client, secret_id: str
) -> ClientSecret:
    async with runtime_of(connection).sessions() as session:
        secret = await session.get(ClientSecret, secret_id)
        owner = await client_store.find_client(session, secret.client_id) if secret else None
    if secret is None or owner is None:
        raise NotFound("no such secret")
    if secret.client_id != client.client_id:
        if not principal.reaches(owner.account_id):
            raise await deny(connection, principal, "secret", secret_id, owner.account_id)
        raise NotFound("no such secret")
    return secret


async def token_in_reach(
    connection: HTTPConnection, principal: Principal, client: Client, token_id: str
) -> AccessToken:
    async with runtime_of(connection).sessions() as session:
        token = await token_store.find_token(session, token_id)
    if token is None:
        raise NotFound("no such token")
    if token.client_id != client.client_id:
        if not principal.reaches(token.account_id):
            raise await deny(connection, principal, "token", token_id, token.account_id)
        raise NotFound("no such token")
    return token


async def admin_in_reach(
    connection: HTTPConnection, principal: Principal, admin_id: str
) -> AdminUser:
    async with runtime_of(connection).sessions() as session:
        admin = await session.get(AdminUser, admin_id)
    if admin is None:
        raise NotFound("no such admin")
    if not principal.reaches(admin.account_id):
        raise await deny(connection, principal, "admin", admin_id, admin.account_id)
    return admin


async def scoped_account_id(
    connection: HTTPConnection, principal: Principal, account_id: str | None
) -> str | None:
    """The account a listing is limited to: the admin's own, or any one an operator names."""
    if account_id is not None:
        return (await account_in_reach(connection, principal, account_id)).id
    return None if principal.is_operator else principal.account_id
