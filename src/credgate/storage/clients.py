"""Clients and their secrets."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, or_, select, update

from credgate.storage.database import AsyncSession
from credgate.storage.models import Client, ClientSecret


async def save_client(session: AsyncSession, client: Client) -> Client:
    session.add(client)
    await session.flush()
    return client


async def save_secret(session: AsyncSession, secret: ClientSecret) -> ClientSecret:
    session.add(secret)
    await session.flush()
    return secret


async def find_client(session: AsyncSession, client_id: str) -> Client | None:
    return await session.get(Client, client_id)


async def list_clients(session: AsyncSession, account_id: str) -> Sequence[Client]:
    query = select(Client).where(Client.account_id == account_id).order_by(Client.created_at)
    return (await session.scalars(query)).all()


async def list_all_clients(session: AsyncSession) -> Sequence[Client]:
    return (await session.scalars(select(Client).order_by(Client.created_at))).all()


async def find_usable_secrets(
    session: AsyncSession, client_id: str, now: datetime
) -> Sequence[ClientSecret]:
    """Secrets of the client that are neither revoked nor past their expiry."""
    query = select(ClientSecret).where(
        ClientSecret.client_id == client_id,
        ClientSecret.revoked_at.is_(None),
        or_(ClientSecret.expires_at.is_(None), ClientSecret.expires_at > now),
    )
    return (await session.scalars(query)).all()


async def list_secrets(session: AsyncSession, client_id: str) -> Sequence[ClientSecret]:
    query = (
        select(ClientSecret)
        .where(ClientSecret.client_id == client_id)
        .order_by(ClientSecret.created_at)
    )
    return (await session.scalars(query)).all()


async def expire_secrets(
    session: AsyncSession, client_id: str, expires_at: datetime, keep_secret_id: str
) -> None:
    """End every usable secret of the client but one at ``expires_at`` (or sooner)."""
    await session.execute(
        update(ClientSecret)
        .where(
            ClientSecret.client_id == client_id,
            ClientSecret.id != keep_secret_id,
            ClientSecret.revoked_at.is_(None),
            or_(ClientSecret.expires_at.is_(None), ClientSecret.expires_at > expires_at),
        )
        .values(expires_at=expires_at)
    )


async def find_secret(
    session: AsyncSession, client_id: str, secret_id: str
) -> ClientSecret | None:
    query = select(ClientSecret).where(
        ClientSecret.id == secret_id, ClientSecret.client_id == client_id
    )
    return await session.scalar(query)


async def delete_client(session: AsyncSession, client: Client) -> None:
    """Delete a client and its secrets (explicitly: SQLite may not enforce cascades)."""
    await session.execute(delete(ClientSecret).where(ClientSecret.client_id == client.client_id))
    await session.delete(client)
    await session.flush()
