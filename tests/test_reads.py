"""Keyed reads without a session: what they return, that they see the latest commit, and
that they leave no transaction behind to hold up writers."""

from __future__ import annotations

import uuid
from datetime import UTC
from typing import Any

from sqlalchemy import text, update

from conftest import LiveServer
from credgate import management
from credgate.runtime import Runtime
from credgate.storage import users as user_store
from credgate.storage.models import User


async def _new_account(runtime: Runtime) -> str:
    account = await management.create_account(
        runtime, f"acct-{uuid.uuid4().hex[:8]}", actor="test"
    )
    return account.id


async def _new_user(runtime: Runtime, account: str, name: str) -> str:
    async with runtime.sessions.begin() as session:
        email = f"{uuid.uuid4().hex[:10]}@example.com"
        user = await user_store.save_user(session, account, email, name)
        return user.id


def test_a_read_sees_each_commit_made_just_before_it(server: LiveServer) -> None:
    async def scenario(runtime: Runtime) -> list[Any]:
        account = await _new_account(runtime)
        user_id = await _new_user(runtime, account, "Ada")
        first = await user_store.read_user(runtime.reads, account, user_id)
        async with runtime.sessions.begin() as session:
            await session.execute(update(User).where(User.id == user_id).values(name="Grace"))
        second = await user_store.read_user(runtime.reads, account, user_id)
        return [user_id, first, second]

    user_id, first, second = server.run(scenario)
    assert (first.id, first.name) == (user_id, "Ada")
    assert second.name == "Grace"
    assert first.created_at.tzinfo == UTC


def test_another_accounts_user_reads_as_missing(server: LiveServer) -> None:
    async def scenario(runtime: Runtime) -> list[Any]:
        owner, other = await _new_account(runtime), await _new_account(runtime)
        user_id = await _new_user(runtime, owner, "Ada")
        return [
            await user_store.read_user(runtime.reads, other, user_id),
            await user_store.read_user(runtime.reads, owner, str(uuid.uuid4())),
        ]

    assert server.run(scenario) == [None, None]


def test_reads_leave_no_transaction_open(server: LiveServer) -> None:
    async def scenario(runtime: Runtime) -> Any:
        account = await _new_account(runtime)
        user_id = await _new_user(runtime, account, "Ada")
        for _ in range(5):
            await user_store.read_user(runtime.reads, account, user_id)
        async with runtime.engine.connect() as connection:
            if runtime.engine.dialect.name == "sqlite":
                # A reader still inside a snapshot would make the checkpoint report busy.
                checkpoint = await connection.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
                return checkpoint.one()[0]
            idle_in_transaction = await connection.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                    " AND state LIKE 'idle in transaction%'"
                )
            )
            return idle_in_transaction.scalar_one()

    assert server.run(scenario) == 0


def test_a_connection_used_for_a_read_serves_sessions_in_transactions_again(
    server: LiveServer,
) -> None:
    async def scenario(runtime: Runtime) -> str:
        account = await _new_account(runtime)
        user_id = await _new_user(runtime, account, "Ada")
        # One at a time, so the session is handed the pooled connection the read gave back.
        await user_store.read_user(runtime.reads, account, user_id)
        async with runtime.sessions() as session:
            await session.execute(update(User).where(User.id == user_id).values(name="Grace"))
            await session.rollback()
        # Left in autocommit, the update would have been committed before the rollback.
        after_rollback = await user_store.read_user(runtime.reads, account, user_id)
        return after_rollback.name

    assert server.run(scenario) == "Ada"
