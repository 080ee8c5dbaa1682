"""Usage counters: counted in memory by the token endpoint, flushed in the background."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from admin_support import account_admin, create_client, sign_in, token_for
from conftest import LiveServer, start_server, stop_server
from credgate.credentials import generate_client_secret
from credgate.storage.models import Client, ClientSecret, UsageCounter
from credgate.usage import UsageBatch, hour_of, write_batch

# Well-formed: a secret with a bad checksum is refused before any read, so it is not counted.
WRONG_SECRET = generate_client_secret()


def _counters(server: LiveServer, client_id: str) -> list[UsageCounter]:
    async def read(runtime):  # type: ignore[no-untyped-def]
        async with runtime.sessions() as session:
            query = select(UsageCounter).where(UsageCounter.client_id == client_id)
            return (await session.scalars(query)).all()

    return list(server.run(read))


def _eventually(check: Callable[[], Any], timeout: float = 10) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.25)


def test_tokens_and_failures_reach_the_chart_within_seconds(server: LiveServer) -> None:
    admin = account_admin(server)
    with sign_in(server, admin) as http:
        created = create_client(http, server)
        client_id = created["client_id"]
        for _ in range(3):
            assert token_for(server, client_id, created["client_secret"]).status_code == 200
        assert token_for(server, client_id, WRONG_SECRET).status_code == 401

        def counted() -> dict[str, Any] | None:
            usage = http.get("/admin/api/usage", params={"client_id": client_id}).json()
            return usage if sum(usage["tokens_issued"]) == 3 else None

        usage = _eventually(counted)
        account = http.get("/admin/api/usage", params={"period": "30d"}).json()

    assert usage is not None, "the counts never reached the database"
    assert usage["period"] == "24h"
    assert len(usage["starts"]) == 24
    assert usage["tokens_issued"][-1] == 3
    assert usage["auth_failures"][-1] == 1
    assert len(account["starts"]) == 30
    assert account["tokens_issued"][-1] >= 3


def test_failures_of_unknown_client_ids_are_not_counted(server: LiveServer) -> None:
    unknown = "cgc_" + "Z" * 22
    seeded = server.client()

    assert token_for(server, unknown, WRONG_SECRET).status_code == 401
    assert token_for(server, seeded.client_id, WRONG_SECRET).status_code == 401
    _eventually(lambda: _counters(server, seeded.client_id))

    assert _counters(server, unknown) == []
    assert _counters(server, seeded.client_id)[0].auth_failures == 1


def test_last_used_times_of_client_and_secret_are_set_by_the_flush(server: LiveServer) -> None:
    seeded = server.client()
    before = datetime.now(UTC)

    server.token(seeded)

    async def read(runtime):  # type: ignore[no-untyped-def]
        async with runtime.sessions() as session:
            client = await session.get(Client, seeded.client_id)
            secret = await session.scalar(
                select(ClientSecret).where(ClientSecret.client_id == seeded.client_id)
            )
            return client.last_used_at, secret.last_used_at

    client_used, secret_used = _eventually(lambda: all(server.run(read)) and server.run(read))
    assert client_used >= before.replace(microsecond=0)
    assert secret_used >= before.replace(microsecond=0)


def test_flushes_add_to_the_same_hour_with_an_upsert(server: LiveServer) -> None:
    seeded = server.client()
    account_id = server.run(lambda rt: _account_of(rt, seeded.client_id))
    bucket = (hour_of(datetime(2026, 1, 2, 3, 45, tzinfo=UTC)), seeded.client_id, account_id)

    for issued, failures in ((2, 1), (5, 0)):
        batch = UsageBatch()
        batch.issued[bucket] = issued
        batch.failures[bucket] = failures
        server.run(lambda rt, batch=batch: write_batch(rt, batch))

    rows = [r for r in _counters(server, seeded.client_id) if r.bucket == bucket[0]]
    assert [(r.tokens_issued, r.auth_failures) for r in rows] == [(7, 1)]


async def _account_of(runtime, client_id):  # type: ignore[no-untyped-def]
    async with runtime.sessions() as session:
        return (await session.get(Client, client_id)).account_id


def test_counts_are_flushed_at_shutdown(tmp_path: Path) -> None:
    process, live = start_server(tmp_path)
    try:
        seeded = live.client()
        live.token(seeded)
    finally:
        stop_server(process)

    rows = _counters(live, seeded.client_id)
    assert [r.tokens_issued for r in rows] == [1]


@pytest.mark.parametrize("period", ["1h", "year"])
def test_unknown_period_is_a_400(server: LiveServer, period: str) -> None:
    with sign_in(server, account_admin(server)) as http:
        response = http.get("/admin/api/usage", params={"period": period})

    assert response.status_code == 400
    assert response.json()["fields"][0]["field"] == "query.period"
