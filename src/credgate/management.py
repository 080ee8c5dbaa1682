"""What admins do to accounts, clients, secrets and tokens, shared by the CLI and the portal.

Each operation runs in one transaction with its audit event, so a failure leaves neither a
half-made client nor an unrecorded change. Generated secrets are returned once, here, and
only their hashes are stored.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from credgate.credentials import (
    generate_client_id,
    generate_client_secret,
    secret_hint,
    validate_imported_secret,
)
from credgate.oauth2.scopes import format_scope, parse_scope
from credgate.oauth2.tokens import revoke_token as revoke_one_token
from credgate.runtime import Runtime
from credgate.storage import accounts as account_store
from credgate.storage import clients as client_store
from credgate.storage import tokens as token_store
from credgate.storage import users as user_store
from credgate.storage.audit import record_event
from credgate.storage.database import AsyncSession
from credgate.storage.models import AccessToken, Account, Client, ClientSecret, User, utcnow

logger = logging.getLogger("credgate.management")

MAX_TOKEN_TTL = 7 * 24 * 3600


class ManagementError(Exception):
    """A request an admin made that cannot be carried out, with the reason in plain words."""


@dataclass(frozen=True)
class NewSecret:
    client: Client
    client_secret: str = field(repr=False)


async def _account_named(session: AsyncSession, name: str) -> Account:
    account = await account_store.find_account_by_name(session, name)
    if account is None:
        raise ManagementError(f"no account named {name!r}")
    return account


async def _client(session: AsyncSession, client_id: str) -> Client:
    client = await client_store.find_client(session, client_id)
    if client is None:
        raise ManagementError(f"no client {client_id!r}")
    return client


def _validate_scope(runtime: Runtime, scope: str) -> str:
    try:
        scopes = parse_scope(scope)
    except ValueError as exc:
        raise ManagementError(str(exc)) from None
    unknown = scopes - set(runtime.settings.scopes)
    if unknown:
        known = " ".join(runtime.settings.scopes)
        raise ManagementError(f"unknown scope {' '.join(sorted(unknown))}; known: {known}")
    return format_scope(scopes)


async def create_account(runtime: Runtime, name: str, *, actor: str) -> Account:
    name = name.strip()
    if not name or len(name) > 200:
        raise ManagementError("an account name needs 1 to 200 characters")
    async with runtime.sessions.begin() as session:
        if await account_store.find_account_by_name(session, name):
            raise ManagementError(f"an account named {name!r} exists already")
        account = await account_store.save_account(session, name)
        await record_event(
            session, actor=actor, action="account.created", account_id=account.id, target=name
        )
    logger.info("account.created", extra={"account_id": account.id, "actor": actor})
    return account


async def list_accounts(runtime: Runtime) -> Sequence[Account]:
    async with runtime.sessions() as session:
        return await account_store.list_accounts(session)


async def create_client(
    runtime: Runtime,
    *,
    account_name: str,
    name: str,
    scope: str,
    token_ttl: int | None = None,
    imported_secret: str | None = None,
    actor: str,
    token_quota: int | None = None,
    allowed_networks: Sequence[str] = (),
) -> NewSecret:
    ttl = runtime.settings.default_token_ttl if token_ttl is None else token_ttl
    if token_quota is not None and token_quota < 1:
        raise ManagementError("the token quota must be at least 1 per hour")
    networks = _validate_networks(allowed_networks)
    if not 1 <= ttl <= MAX_TOKEN_TTL:
        raise ManagementError(f"the token lifetime must be 1 to {MAX_TOKEN_TTL} seconds")
    if not name.strip() or len(name) > 200:
        raise ManagementError("a client name needs 1 to 200 characters")
    scope = _validate_scope(runtime, scope)
    secret = _new_secret_value(imported_secret)

    async with runtime.sessions.begin() as session:
        account = await _account_named(session, account_name)
        client = Client(
            client_id=generate_client_id(),
            account_id=account.id,
            name=name.strip(),
            scope=scope,
            token_ttl=ttl,
            token_quota_per_hour=token_quota,
            allowed_networks=networks,
        )
        await client_store.save_client(session, client)
        await _save_secret(runtime, session, client, secret)
        await record_event(
            session,
            actor=actor,
            action="client.created",
            account_id=account.id,
            client_id=client.client_id,
            details={
                "scope": scope,
                "token_ttl": ttl,
                "imported_secret": imported_secret is not None,
                "token_quota_per_hour": token_quota,
                "allowed_networks": networks,
            },
        )
    logger.info("client.created", extra={"client_id": client.client_id, "actor": actor})
    return NewSecret(client, secret)


def _validate_networks(networks: Sequence[str]) -> list[str] | None:
    """Normalised CIDR networks, or None for no allowlist at all."""
    normalised = []
    for network in networks:
        try:
            normalised.append(str(ipaddress.ip_network(network.strip(), strict=False)))
        except ValueError:
            raise ManagementError(f"not an IP network in CIDR notation: {network!r}") from None
    return normalised or None


def _new_secret_value(imported: str | None) -> str:
    if imported is None:
        return generate_client_secret()
    try:
        validate_imported_secret(imported)
    except ValueError as exc:
        raise ManagementError(str(exc)) from None
    return imported


async def _save_secret(
    runtime: Runtime, session: AsyncSession, client: Client, secret: str
) -> ClientSecret:
    row = ClientSecret(
        client_id=client.client_id,
        secret_hash=runtime.hasher.hash(secret),
        hint=secret_hint(secret),
    )
    return await client_store.save_secret(session, row)


async def rotate_secret(
    runtime: Runtime,
    client_id: str,
    *,
    grace: int = 0,
    imported_secret: str | None = None,
    actor: str,
) -> NewSecret:
    """Give the client a new secret; the old ones keep working for ``grace`` seconds."""
    if grace < 0:
        raise ManagementError("the grace period cannot be negative")
    secret = _new_secret_value(imported_secret)
    now = utcnow()
    async with runtime.sessions.begin() as session:
        client = await _client(session, client_id)
        if client.status == "revoked":
            raise ManagementError("the client is revoked")
        row = await _save_secret(runtime, session, client, secret)
        await client_store.expire_secrets(
            session, client.client_id, now + timedelta(seconds=grace), keep_secret_id=row.id
        )
        await record_event(
            session,
            actor=actor,
            action="secret.rotated",
            account_id=client.account_id,
            client_id=client.client_id,
            target=row.id,
            details={"grace_seconds": grace},
        )
    logger.info("secret.rotated", extra={"client_id": client_id, "grace": grace, "actor": actor})
    return NewSecret(client, secret)


async def revoke_client(runtime: Runtime, client_id: str, *, actor: str) -> int:
    """Revoke a client for good; its live tokens stop at once. Returns how many."""
    now = utcnow()
    async with runtime.sessions.begin() as session:
        client = await _client(session, client_id)
        client.status = "revoked"
        revoked = await token_store.revoke_client_tokens(session, client_id, now)
        await record_event(
            session,
            actor=actor,
            action="client.revoked",
            account_id=client.account_id,
            client_id=client_id,
            details={"tokens_revoked": revoked},
        )
    logger.info("client.revoked", extra={"client_id": client_id, "actor": actor})
    return revoked


async def list_clients(runtime: Runtime, account_name: str) -> Sequence[Client]:
    async with runtime.sessions() as session:
        account = await _account_named(session, account_name)
        return await client_store.list_clients(session, account.id)


async def list_live_tokens(runtime: Runtime, client_id: str) -> Sequence[AccessToken]:
    async with runtime.sessions() as session:
        await _client(session, client_id)
        return await token_store.list_live_tokens(session, client_id, utcnow())


async def revoke_token(runtime: Runtime, token_id: str, *, actor: str) -> None:
    async with runtime.sessions.begin() as session:
        token = await token_store.find_token(session, token_id)
        if token is None:
            raise ManagementError(f"no token {token_id!r}")
        if not await revoke_one_token(session, token, utcnow(), actor=actor):
            raise ManagementError("the token was already revoked")


async def create_user(runtime: Runtime, account_name: str, email: str, name: str) -> User:
    async with runtime.sessions.begin() as session:
        account = await _account_named(session, account_name)
        return await user_store.save_user(session, account.id, email.lower(), name)
