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
from datetime import datetime, timedelta

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


async def create_account(
    runtime: Runtime, name: str, *, actor: str, source_address: str | None = None
) -> Account:
    name = name.strip()
    if not name or len(name) > 200:
        raise ManagementError("an account name needs 1 to 200 characters")
    async with runtime.sessions.begin() as session:
        if await account_store.find_account_by_name(session, name):
            raise ManagementError(f"an account named {name!r} exists already")
        account = await account_store.save_account(session, name)
        await record_event(
            session,
            actor=actor,
            action="account.created",
            account_id=account.id,
            target=name,
            source_address=source_address,
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
    source_address: str | None = None,
    token_format: str | None = None,
    introspect: bool = False,
    token_quota: int | None = None,
    allowed_networks: Sequence[str] = (),
) -> NewSecret:
    if token_format not in (None, "jwt", "opaque"):
        raise ManagementError("the token format must be jwt or opaque")
    if token_quota is not None and token_quota < 1:
        raise ManagementError("the token quota must be at least 1 per hour")
    ttl = _validate_ttl(runtime.settings.default_token_ttl if token_ttl is None else token_ttl)
    name = _validate_name(name)
    networks = _validate_networks(allowed_networks)
    scope = _validate_scope(runtime, scope)
    secret = _new_secret_value(imported_secret)

    async with runtime.sessions.begin() as session:
        account = await _account_named(session, account_name)
        client = Client(
            client_id=generate_client_id(),
            account_id=account.id,
            name=name,
            scope=scope,
            token_ttl=ttl,
            token_format=token_format,
            introspect=introspect,
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
            source_address=source_address,
            details={
                "scope": scope,
                "token_ttl": ttl,
                "imported_secret": imported_secret is not None,
                "token_format": token_format,
                "introspect": introspect,
                "token_quota_per_hour": token_quota,
                "allowed_networks": networks,
            },
        )
    logger.info("client.created", extra={"client_id": client.client_id, "actor": actor})
    return NewSecret(client, secret)


def _validate_name(name: str) -> str:
    if not name.strip() or len(name) > 200:
        raise ManagementError("a client name needs 1 to 200 characters")
    return name.strip()


def _validate_ttl(ttl: int) -> int:
    if not 1 <= ttl <= MAX_TOKEN_TTL:
        raise ManagementError(f"the token lifetime must be 1 to {MAX_TOKEN_TTL} seconds")
    return ttl


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
    expires_at: datetime | None = None,
    actor: str,
    source_address: str | None = None,
) -> NewSecret:
    """Give the client a new secret; the old ones keep working for ``grace`` seconds.

    ``expires_at`` optionally ends the new secret at that moment.
    """
    if grace < 0:
        raise ManagementError("the grace period cannot be negative")
    secret = _new_secret_value(imported_secret)
    now = utcnow()
    if expires_at is not None and expires_at <= now + timedelta(seconds=grace):
        raise ManagementError("the new secret must outlive the overlap window")
    async with runtime.sessions.begin() as session:
        client = await _client(session, client_id)
        if client.status == "revoked":
            raise ManagementError("the client is revoked")
        row = await _save_secret(runtime, session, client, secret)
        row.expires_at = expires_at
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
            source_address=source_address,
            details={"grace_seconds": grace, "expires_at": _epoch(expires_at)},
        )
    logger.info("secret.rotated", extra={"client_id": client_id, "grace": grace, "actor": actor})
    return NewSecret(client, secret)


async def revoke_client(
    runtime: Runtime, client_id: str, *, actor: str, source_address: str | None = None
) -> int:
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
            source_address=source_address,
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


async def revoke_token(
    runtime: Runtime, token_id: str, *, actor: str, source_address: str | None = None
) -> None:
    async with runtime.sessions.begin() as session:
        token = await token_store.find_token(session, token_id)
        if token is None:
            raise ManagementError(f"no token {token_id!r}")
        revoked = await revoke_one_token(
            session, token, utcnow(), actor=actor, source_address=source_address
        )
        if not revoked:
            raise ManagementError("the token was already revoked")


async def create_user(runtime: Runtime, account_name: str, email: str, name: str) -> User:
    async with runtime.sessions.begin() as session:
        account = await _account_named(session, account_name)
        return await user_store.save_user(session, account.id, email.lower(), name)


def _epoch(moment: datetime | None) -> int | None:
    return None if moment is None else int(moment.timestamp())


async def update_client(
    runtime: Runtime,
    client_id: str,
    *,
    name: str | None = None,
    scope: str | None = None,
    token_ttl: int | None = None,
    actor: str,
    source_address: str | None = None,
) -> Client:
    """Change a client's name, scopes or token lifetime; live tokens keep what they got."""
    changes: dict[str, object] = {}
    if name is not None:
        changes["name"] = _validate_name(name)
    if scope is not None:
        changes["scope"] = _validate_scope(runtime, scope)
    if token_ttl is not None:
        changes["token_ttl"] = _validate_ttl(token_ttl)
    async with runtime.sessions.begin() as session:
        client = await _client(session, client_id)
        for key, value in changes.items():
            setattr(client, key, value)
        await record_event(
            session,
            actor=actor,
            action="client.updated",
            account_id=client.account_id,
            client_id=client_id,
            source_address=source_address,
            details=changes,
        )
    logger.info("client.updated", extra={"client_id": client_id, "actor": actor})
    return client


async def set_client_enabled(
    runtime: Runtime,
    client_id: str,
    enabled: bool,
    *,
    actor: str,
    source_address: str | None = None,
) -> Client:
    """Disable a client (its live tokens end at once) or enable it again."""
    now = utcnow()
    async with runtime.sessions.begin() as session:
        client = await _client(session, client_id)
        if client.status == "revoked":
            raise ManagementError("the client is revoked")
        client.status = "active" if enabled else "disabled"
        ended = 0 if enabled else await token_store.revoke_client_tokens(session, client_id, now)
        await record_event(
            session,
            actor=actor,
            action="client.enabled" if enabled else "client.disabled",
            account_id=client.account_id,
            client_id=client_id,
            source_address=source_address,
            details={} if enabled else {"tokens_revoked": ended},
        )
    logger.info("client.status_changed", extra={"client_id": client_id, "enabled": enabled})
    return client


async def delete_client(
    runtime: Runtime, client_id: str, *, actor: str, source_address: str | None = None
) -> None:
    """Delete a client with its secrets and tokens; its audit events stay."""
    async with runtime.sessions.begin() as session:
        client = await _client(session, client_id)
        await token_store.delete_client_tokens(session, client_id)
        await client_store.delete_client(session, client)
        await record_event(
            session,
            actor=actor,
            action="client.deleted",
            account_id=client.account_id,
            client_id=client_id,
            target=client.name,
            source_address=source_address,
        )
    logger.info("client.deleted", extra={"client_id": client_id, "actor": actor})


async def list_secrets(runtime: Runtime, client_id: str) -> Sequence[ClientSecret]:
    async with runtime.sessions() as session:
        await _client(session, client_id)
        return await client_store.list_secrets(session, client_id)


async def revoke_secret(
    runtime: Runtime,
    client_id: str,
    secret_id: str,
    *,
    end_tokens: bool = True,
    actor: str,
    source_address: str | None = None,
) -> int:
    """Revoke one secret; unless told otherwise, the live tokens issued with it end too."""
    now = utcnow()
    async with runtime.sessions.begin() as session:
        client = await _client(session, client_id)
        secret = await client_store.find_secret(session, client_id, secret_id)
        if secret is None:
            raise ManagementError(f"no secret {secret_id!r}")
        if secret.revoked_at is not None:
            raise ManagementError("the secret was already revoked")
        secret.revoked_at = now
        ended = 0
        if end_tokens:
            ended = await token_store.revoke_secret_tokens(session, secret_id, now)
        await record_event(
            session,
            actor=actor,
            action="secret.revoked",
            account_id=client.account_id,
            client_id=client_id,
            target=secret_id,
            source_address=source_address,
            details={"tokens_revoked": ended},
        )
    logger.info("secret.revoked", extra={"client_id": client_id, "secret_id": secret_id})
    return ended


async def revoke_client_tokens(
    runtime: Runtime, client_id: str, *, actor: str, source_address: str | None = None
) -> int:
    """End every live token of a client at once; the client and its secrets stay."""
    async with runtime.sessions.begin() as session:
        client = await _client(session, client_id)
        ended = await token_store.revoke_client_tokens(session, client_id, utcnow())
        await record_event(
            session,
            actor=actor,
            action="tokens.revoked_all",
            account_id=client.account_id,
            client_id=client_id,
            source_address=source_address,
            details={"tokens_revoked": ended},
        )
    logger.info("tokens.revoked_all", extra={"client_id": client_id, "count": ended})
    return ended


async def set_account_enabled(
    runtime: Runtime,
    account_id: str,
    enabled: bool,
    *,
    actor: str,
    source_address: str | None = None,
) -> Account:
    """Disable an account: its active clients are disabled and their live tokens end.

    Enabling the account again leaves its clients disabled, for its admins to enable one by one.
    """
    now = utcnow()
    async with runtime.sessions.begin() as session:
        account = await account_store.find_account(session, account_id)
        if account is None:
            raise ManagementError(f"no account {account_id!r}")
        account.status = "active" if enabled else "disabled"
        details: dict[str, object] = {}
        if not enabled:
            details = await _disable_account_clients(session, account_id, now)
        await record_event(
            session,
            actor=actor,
            action="account.enabled" if enabled else "account.disabled",
            account_id=account_id,
            target=account.name,
            source_address=source_address,
            details=details,
        )
    logger.info("account.status_changed", extra={"account_id": account_id, "enabled": enabled})
    return account


async def _disable_account_clients(
    session: AsyncSession, account_id: str, now: datetime
) -> dict[str, object]:
    clients = await client_store.list_clients(session, account_id)
    ended = 0
    for client in clients:
        if client.status == "active":
            client.status = "disabled"
            ended += await token_store.revoke_client_tokens(session, client.client_id, now)
    return {"clients_disabled": len(clients), "tokens_revoked": ended}
