"""Users of the sample protected API, always read within one account."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, bindparam, select

from credgate.storage.database import AsyncSession
from credgate.storage.models import User
from credgate.storage.reads import Reads

# Built once: a statement object keeps its compiled form, so a request pays no SQL building.
_READ_USER = select(User.id, User.email, User.name, User.created_at).where(
    User.id == bindparam("user_id"), User.account_id == bindparam("account_id")
)


async def save_user(session: AsyncSession, account_id: str, email: str, name: str) -> User:
    user = User(account_id=account_id, email=email, name=name)
    session.add(user)
    await session.flush()
    return user


async def read_user(reads: Reads, account_id: str, user_id: str) -> Row[Any] | None:
    """The user's ``id``, ``email``, ``name`` and ``created_at``, read without a session."""
    return await reads.first(_READ_USER, {"user_id": user_id, "account_id": account_id})


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
