"""Users of the sample protected API, always read within one account."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select

from credgate.storage.database import AsyncSession
from credgate.storage.models import User


async def save_user(session: AsyncSession, account_id: str, email: str, name: str) -> User:
    user = User(account_id=account_id, email=email, name=name)
    session.add(user)
    await session.flush()
    return user


async def find_user(session: AsyncSession, account_id: str, user_id: str) -> User | None:
    query = select(User).where(User.id == user_id, User.account_id == account_id)
    return await session.scalar(query)


async def find_user_by_email(session: AsyncSession, account_id: str, email: str) -> User | None:
    query = select(User).where(User.email == email, User.account_id == account_id)
    return await session.scalar(query)


async def list_users(
    session: AsyncSession, account_id: str, limit: int, offset: int
) -> Sequence[User]:
    query = (
        select(User)
        .where(User.account_id == account_id)
        .order_by(User.created_at, User.id)
        .limit(limit)
        .offset(offset)
    )
    return (await session.scalars(query)).all()
