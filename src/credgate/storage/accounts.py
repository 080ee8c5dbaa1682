"""Accounts: the tenants that own clients, tokens and users."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select

from credgate.storage.database import AsyncSession
from credgate.storage.models import Account


async def save_account(session: AsyncSession, name: str) -> Account:
    account = Account(name=name)
    session.add(account)
    await session.flush()
    return account


async def find_account_by_name(session: AsyncSession, name: str) -> Account | None:
    return await session.scalar(select(Account).where(Account.name == name))


async def find_account(session: AsyncSession, account_id: str) -> Account | None:
    return await session.get(Account, account_id)


async def list_accounts(session: AsyncSession) -> Sequence[Account]:
    return (await session.scalars(select(Account).order_by(Account.name))).all()
