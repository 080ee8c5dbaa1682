"""Group commit of token rows: every row durable before its request is answered, rows batched,
and one bad row failing alone."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from sqlalchemy import event, func, select
from sqlalchemy.exc import IntegrityError

from conftest import LiveServer
from credgate.runtime import Runtime
from credgate.storage.models import AccessToken, Client, new_uuid, utcnow
from credgate.storage.token_writer import TokenWriter


def _row(client: Client, **changes: Any) -> dict[str, Any]:
    now = utcnow()
    row = {
        "token_id": new_uuid(),
        "token_hash": new_uuid().replace("-", "") * 2,
        "client_id": client.client_id,
        "account_id": client.account_id,
        "scope": "users:read",
        "issued_at": now,
        "expires_at": now + timedelta(hours=1),
        "chain_started_at": now,
        "renewed_from": None,
        "secret_id": None,
        "revoked_at": None,
        "replaced_at": None,
    }
    return {**row, **changes}


async def _client_row(runtime: Runtime, client_id: str) -> Client:
    async with runtime.sessions() as session:
        client = await session.get(Client, client_id)
    assert client is not None
    return client


async def _stored(runtime: Runtime, token_ids: list[str]) -> int:
    async with runtime.sessions() as session:
        query = select(func.count()).where(AccessToken.token_id.in_(token_ids))
        return int((await session.execute(query)).scalar_one())


def _count_commits(runtime: Runtime) -> list[int]:
    commits: list[int] = []
    event.listen(runtime.engine.sync_engine, "commit", lambda _conn: commits.append(1))
    return commits


def test_concurrent_tokens_share_transactions_and_all_are_stored(server: LiveServer) -> None:
    seeded = server.client()

    async def scenario(runtime: Runtime) -> tuple[int, int, int]:
        client = await _client_row(runtime, seeded.client_id)
        writer = TokenWriter(runtime.engine)
        commits = _count_commits(runtime)
        rows = [_row(client) for _ in range(200)]
        await asyncio.gather(*(writer.save(row) for row in rows))
        ids = [row["token_id"] for row in rows]
        return await _stored(runtime, ids), len(commits), len(rows)

    stored, commits, asked = server.run(scenario)
    assert stored == asked
    assert 1 <= commits < asked / 4, f"{commits} commits for {asked} rows: not grouped"


def test_a_row_that_cannot_be_stored_fails_alone(server: LiveServer) -> None:
    seeded = server.client()

    async def scenario(runtime: Runtime) -> tuple[list[Any], int]:
        client = await _client_row(runtime, seeded.client_id)
        writer = TokenWriter(runtime.engine)
        good = [_row(client) for _ in range(20)]
        # Same hash as a good row: the unique index refuses it, whichever batch it lands in.
        clash = _row(client, token_hash=good[3]["token_hash"])
        outcomes = await asyncio.gather(
            *(writer.save(row) for row in [*good[:10], clash, *good[10:]]),
            return_exceptions=True,
        )
        return outcomes, await _stored(runtime, [row["token_id"] for row in good])

    outcomes, stored = server.run(scenario)
    failures = [outcome for outcome in outcomes if outcome is not None]
    assert len(failures) == 1 and isinstance(failures[0], IntegrityError)
    assert outcomes[10] is failures[0]  # the clashing row, and only it
    assert stored == 20


def test_a_row_the_driver_refuses_fails_its_request_not_the_writer(server: LiveServer) -> None:
    seeded = server.client()

    async def scenario(runtime: Runtime) -> tuple[BaseException | None, int]:
        client = await _client_row(runtime, seeded.client_id)
        writer = TokenWriter(runtime.engine)
        naive = _row(client, issued_at=utcnow().replace(tzinfo=None))
        failed = await asyncio.gather(writer.save(naive), return_exceptions=True)
        after = _row(client)
        await writer.save(after)  # the writer still works
        return failed[0], await _stored(runtime, [naive["token_id"], after["token_id"]])

    failure, stored = server.run(scenario)
    assert failure is not None
    assert "naive" in str(failure)
    assert stored == 1


def test_close_waits_for_rows_in_flight(server: LiveServer) -> None:
    seeded = server.client()

    async def scenario(runtime: Runtime) -> int:
        client = await _client_row(runtime, seeded.client_id)
        writer = TokenWriter(runtime.engine)
        rows = [_row(client) for _ in range(30)]
        saving = [asyncio.ensure_future(writer.save(row)) for row in rows]
        await asyncio.sleep(0)  # handed over, not yet committed
        await writer.close()
        stored = await _stored(runtime, [row["token_id"] for row in rows])
        await asyncio.gather(*saving)
        return stored

    assert server.run(scenario) == 30
