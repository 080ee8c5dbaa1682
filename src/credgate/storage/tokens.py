"""Access tokens, looked up by the keyed hash of their value or by their token id."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, select, update

from credgate.storage.database import AsyncSession
from credgate.storage.models import AccessToken, Client


async def save_token(session: AsyncSession, token: AccessToken) -> AccessToken:
    session.add(token)
    await session.flush()
    return token


async def find_token_by_hash(
    session: AsyncSession, token_hash: str
) -> tuple[AccessToken, Client] | None:
    """The token and its client, in one round trip: validation needs the client's status."""
    query = (
        select(AccessToken, Client)
        .join(Client, Client.client_id == AccessToken.client_id)
        .where(AccessToken.token_hash == token_hash)
    )
    row = (await session.execute(query)).first()
    return None if row is None else (row[0], row[1])


async def find_token(session: AsyncSession, token_id: str) -> AccessToken | None:
    return await session.get(AccessToken, token_id)


async def list_live_tokens(
    session: AsyncSession, client_id: str, now: datetime
) -> Sequence[AccessToken]:
    query = (
        select(AccessToken)
        .where(
            AccessToken.client_id == client_id,
            AccessToken.revoked_at.is_(None),
            AccessToken.expires_at > now,
        )
        .order_by(AccessToken.issued_at)
    )
    return (await session.scalars(query)).all()


async def revoke_token(session: AsyncSession, token_id: str, now: datetime) -> bool:
    """Mark one token revoked; False when it was unknown or already revoked."""
    result = await session.execute(
        update(AccessToken)
        .where(AccessToken.token_id == token_id, AccessToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def revoke_client_tokens(session: AsyncSession, client_id: str, now: datetime) -> int:
    result = await session.execute(
        update(AccessToken)
        .where(
            AccessToken.client_id == client_id,
            AccessToken.revoked_at.is_(None),
            AccessToken.expires_at > now,
        )
        .values(revoked_at=now)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def mark_replaced(
    session: AsyncSession, token_id: str, now: datetime, ends_at: datetime
) -> bool:
    """Record that a token was renewed and shorten it to the overlap window.

    The update only matches a token not replaced before, so two renewals racing on one token
    cannot both win: the loser sees False.
    """
    result = await session.execute(
        update(AccessToken)
        .where(
            AccessToken.token_id == token_id,
            AccessToken.replaced_at.is_(None),
            AccessToken.revoked_at.is_(None),
        )
        .values(replaced_at=now, expires_at=ends_at)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def revoke_secret_tokens(session: AsyncSession, secret_id: str, now: datetime) -> int:
    """End the live tokens whose chain began with this secret."""
    result = await session.execute(
        update(AccessToken)
        .where(
            AccessToken.secret_id == secret_id,
            AccessToken.revoked_at.is_(None),
            AccessToken.expires_at > now,
        )
        .values(revoked_at=now)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def delete_client_tokens(session: AsyncSession, client_id: str) -> None:
    await session.execute(delete(AccessToken).where(AccessToken.client_id == client_id))
