"""Signing keys of JWT access tokens: the active one, the published ones, retirement."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, or_, select, update

from credgate.storage.database import AsyncSession
from credgate.storage.models import AccessToken, Client, SigningKey


async def save_signing_key(session: AsyncSession, key: SigningKey) -> SigningKey:
    session.add(key)
    await session.flush()
    return key


async def find_active_key(session: AsyncSession) -> SigningKey | None:
    """The newest key that is not retired: the one that signs new tokens."""
    query = (
        select(SigningKey)
        .where(SigningKey.retired_at.is_(None))
        .order_by(SigningKey.created_at.desc(), SigningKey.kid)
        .limit(1)
    )
    return (await session.scalars(query)).first()


async def find_signing_key(session: AsyncSession, kid: str) -> SigningKey | None:
    return await session.get(SigningKey, kid)


async def list_published_keys(session: AsyncSession, now: datetime) -> Sequence[SigningKey]:
    """Keys whose tokens may still be live: active ones and retired ones before not_after."""
    query = (
        select(SigningKey)
        .where(or_(SigningKey.not_after.is_(None), SigningKey.not_after > now))
        .order_by(SigningKey.created_at)
    )
    return (await session.scalars(query)).all()


async def list_signing_keys(session: AsyncSession) -> Sequence[SigningKey]:
    return (await session.scalars(select(SigningKey).order_by(SigningKey.created_at))).all()


async def retire_keys(
    session: AsyncSession, keep_kid: str, now: datetime, not_after: datetime
) -> int:
    """Retire every active key but ``keep_kid``; they stay published until ``not_after``."""
    result = await session.execute(
        update(SigningKey)
        .where(SigningKey.kid != keep_kid, SigningKey.retired_at.is_(None))
        .values(retired_at=now, not_after=not_after)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def find_longest_token_ttl(session: AsyncSession) -> int | None:
    """The longest token lifetime any client has: no token outlives it."""
    value = await session.scalar(select(func.max(Client.token_ttl)))
    return None if value is None else int(value)


async def find_latest_token_expiry(session: AsyncSession) -> datetime | None:
    """When the last token that is not revoked expires."""
    query = select(func.max(AccessToken.expires_at)).where(AccessToken.revoked_at.is_(None))
    # max() keeps the column's type, so the value comes back aware, in UTC.
    expiry: datetime | None = await session.scalar(query)
    return expiry
