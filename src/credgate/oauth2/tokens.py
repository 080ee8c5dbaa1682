"""Issuing, validating, renewing and revoking access tokens."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from credgate import metrics
from credgate.cache.tokens import (
    ClientRecord,
    Found,
    TokenCache,
    TokenRecord,
    find_validation_facts,
)
from credgate.credentials import CredentialHasher, generate_access_token, is_well_formed_token
from credgate.oauth2.errors import InvalidGrant, InvalidToken, RefusedToken
from credgate.oauth2.jwt_tokens import looks_like_jwt
from credgate.oauth2.scopes import format_scope, parse_scope
from credgate.storage import tokens as token_store
from credgate.storage.audit import record_event
from credgate.storage.database import AsyncSession
from credgate.storage.models import AccessToken, Client, new_uuid

if TYPE_CHECKING:
    from credgate.oauth2.jwt_tokens import JwtContext
    from credgate.runtime import Runtime

logger = logging.getLogger("credgate.oauth2")


@dataclass(frozen=True)
class IssuedToken:
    token_id: str
    token: str = field(repr=False)
    client_id: str
    scope: str
    issued_at: datetime
    expires_at: datetime

    def response(self) -> dict[str, Any]:
        """The Create Token answer: RFC 6749 §5.1 fields plus credgate's own."""
        expires_at = math.floor(self.expires_at.timestamp())
        expires_in = max(0, round((self.expires_at - self.issued_at).total_seconds()))
        return {
            "token_id": self.token_id,
            "token": self.token,
            "access_token": self.token,
            "token_type": "Bearer",
            "expires_at": expires_at,
            "expires_in": expires_in,
            "scope": self.scope,
        }


@dataclass(frozen=True)
class ValidToken:
    """A token that passed every check, with the client and account it speaks for."""

    token_id: str
    client_id: str
    account_id: str
    scopes: frozenset[str]
    issued_at: datetime
    expires_at: datetime
    chain_started_at: datetime
    secret_id: str | None = None


@dataclass(frozen=True)
class _Plan:
    token_id: str
    scope: str
    expires_at: datetime
    chain_started_at: datetime


def _plan(
    client: Client,
    scopes: frozenset[str],
    now: datetime,
    max_age: int,
    chain_started_at: datetime | None,
) -> _Plan:
    # A renewal chain never outlives the renewal maximum age, counted from its first token.
    chain_started_at = chain_started_at or now
    expires_at = min(
        now + timedelta(seconds=client.token_ttl),
        chain_started_at + timedelta(seconds=max_age),
    )
    return _Plan(new_uuid(), format_scope(scopes), expires_at, chain_started_at)


def _row(
    plan: _Plan,
    token_hash: str,
    client: Client,
    now: datetime,
    renewed_from: str | None,
    secret_id: str | None,
) -> dict[str, Any]:
    return {
        "token_id": plan.token_id,
        "token_hash": token_hash,
        "client_id": client.client_id,
        "account_id": client.account_id,
        "scope": plan.scope,
        "issued_at": now,
        "expires_at": plan.expires_at,
        "chain_started_at": plan.chain_started_at,
        "renewed_from": renewed_from,
        "secret_id": secret_id,
        "revoked_at": None,
        "replaced_at": None,
    }


async def issue_token(
    session: AsyncSession,
    hasher: CredentialHasher,
    client: Client,
    scopes: frozenset[str],
    now: datetime,
    *,
    max_age: int,
    chain_started_at: datetime | None = None,
    renewed_from: str | None = None,
    secret_id: str | None = None,
    jwt: JwtContext | None = None,
) -> IssuedToken:
    """Create a token and add its row to ``session``; the caller commits before answering.

    With ``jwt``, clients whose format is JWT get an RFC 9068 token, stored like any other.
    """
    plan = _plan(client, scopes, now, max_age, chain_started_at)
    if jwt is not None and jwt.wants_jwt(client):
        value = await jwt.encode(session, client, plan.token_id, plan.scope, now, plan.expires_at)
    else:
        value = generate_access_token()
    row = _row(plan, hasher.hash(value), client, now, renewed_from, secret_id)
    await token_store.save_token(session, AccessToken(**row))
    return IssuedToken(plan.token_id, value, client.client_id, plan.scope, now, plan.expires_at)


async def issue_token_durably(
    runtime: Runtime,
    client: Client,
    scopes: frozenset[str],
    now: datetime,
    *,
    secret_id: str,
    jwt: JwtContext | None = None,
) -> IssuedToken:
    """Create a token and return once its row is committed, in a transaction shared with the
    tokens of other requests (``credgate.storage.token_writer``)."""
    plan = _plan(client, scopes, now, runtime.settings.renewal_max_age, None)
    if jwt is not None and jwt.wants_jwt(client):
        # A transaction: the first JWT of a fresh install creates the signing key it uses.
        async with runtime.sessions.begin() as session:
            value = await jwt.encode(
                session, client, plan.token_id, plan.scope, now, plan.expires_at
            )
    else:
        value = generate_access_token()
    row = _row(plan, runtime.hasher.hash(value), client, now, None, secret_id)
    await runtime.token_writer.save(row)
    return IssuedToken(plan.token_id, value, client.client_id, plan.scope, now, plan.expires_at)


def log_issued(issued: IssuedToken, grant: str) -> None:
    metrics.count_issued(issued.client_id, grant)
    logger.info(
        "token.issued",
        extra={
            "client_id": issued.client_id,
            "token_id": issued.token_id,
            "scope": issued.scope,
            "grant": grant,
            "expires_at": math.floor(issued.expires_at.timestamp()),
        },
    )


async def validate_access_token(
    session: AsyncSession,
    hasher: CredentialHasher,
    value: str,
    now: datetime,
    *,
    jwt: JwtContext | None = None,
    cache: TokenCache | None = None,
) -> ValidToken:
    """The token's facts if it is live, else ``InvalidToken`` (RFC 6750 §3.1).

    A value without credgate's shape or checksum is refused before any database read. A JWT
    (accepted only with ``jwt``) must carry a valid signature and claims, and its row must be
    live like an opaque token's: revocation holds for both formats.
    """
    if jwt is not None and looks_like_jwt(value):
        await jwt.verify(session, value, now)
    elif not is_well_formed_token(value):
        raise InvalidToken("the access token is malformed")
    found = await find_validation_facts(session, hasher.hash(value), cache)
    return _valid_token(found, now)


def validate_remembered_token(
    cache: TokenCache, hasher: CredentialHasher, value: str, now: datetime
) -> ValidToken | None:
    """``validate_access_token`` for an opaque token this process holds a trusted entry of,
    with no session and no database; None when it holds none (or the value is a JWT, whose
    signature is checked on the full path)."""
    if looks_like_jwt(value):
        return None
    if not is_well_formed_token(value):
        raise InvalidToken("the access token is malformed")
    found = cache.find_locally(hasher.hash(value))
    return None if found is None else _valid_token(found, now)


def _valid_token(found: Found | None, now: datetime) -> ValidToken:
    if found is None:
        raise InvalidToken("the access token is not recognised")
    token, client = found
    reason = _refusal_reason(token, client, now)
    if reason is not None:
        raise RefusedToken(reason, token.token_id, token.client_id)
    return ValidToken(
        token_id=token.token_id,
        client_id=token.client_id,
        account_id=token.account_id,
        scopes=parse_scope(token.scope),
        issued_at=token.issued_at,
        expires_at=token.expires_at,
        chain_started_at=token.chain_started_at,
        secret_id=token.secret_id,
    )


def _refusal_reason(token: TokenRecord, client: ClientRecord, now: datetime) -> str | None:
    if token.revoked_at is not None:
        return "the access token was revoked"
    if token.expires_at <= now:
        return "the access token expired"
    if client.status != "active":
        return "the client of the access token is not active"
    return None


async def renew_token(
    session: AsyncSession,
    hasher: CredentialHasher,
    current: ValidToken,
    client: Client,
    now: datetime,
    *,
    overlap: float,
    max_age: int,
    jwt: JwtContext | None = None,
) -> IssuedToken:
    """Exchange a live token for a fresh one; the old one ends after ``overlap`` seconds."""
    chain_deadline = current.chain_started_at + timedelta(seconds=max_age)
    if chain_deadline <= current.expires_at or chain_deadline <= now:
        raise InvalidGrant(
            "the token reached its maximum renewal age: request a new token with the secret"
        )

    ends_at = min(current.expires_at, now + timedelta(seconds=overlap))
    if not await token_store.mark_replaced(session, current.token_id, now, ends_at):
        raise InvalidGrant("the token was already renewed")
    return await issue_token(
        session,
        hasher,
        client,
        current.scopes,
        now,
        max_age=max_age,
        chain_started_at=current.chain_started_at,
        renewed_from=current.token_id,
        secret_id=current.secret_id,
        jwt=jwt,
    )


def describe_token(token: AccessToken | ValidToken) -> dict[str, Any]:
    """What a client may read about its own token: never the token value."""
    scope = token.scope if isinstance(token, AccessToken) else format_scope(token.scopes)
    return {
        "token_id": token.token_id,
        "client_id": token.client_id,
        "scope": scope,
        "issued_at": math.floor(token.issued_at.timestamp()),
        "expires_at": math.floor(token.expires_at.timestamp()),
    }


async def revoke_token(
    session: AsyncSession,
    token: AccessToken | ValidToken,
    now: datetime,
    *,
    actor: str,
    source_address: str | None = None,
) -> bool:
    """Revoke one token, audit it and log it; False when it was already revoked."""
    if not await token_store.revoke_token(session, token.token_id, now):
        return False
    await record_event(
        session,
        actor=actor,
        action="token.revoked",
        account_id=token.account_id,
        client_id=token.client_id,
        target=token.token_id,
        source_address=source_address,
    )
    logger.info(
        "token.revoked",
        extra={"client_id": token.client_id, "token_id": token.token_id, "actor": actor},
    )
    return True
