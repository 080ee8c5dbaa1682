"""``/readyz`` tells a load balancer whether this instance can serve: 200 or 503, with why."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from conftest import LiveServer, start_server, stop_server
from credgate.storage.database import create_engine
from credgate.storage.migrate import head_revision
from private_postgres import PrivatePostgres


def _execute(url: str, statement: str, **params: str | None) -> None:
    async def main() -> None:
        engine = create_engine(url)
        try:
            async with engine.begin() as connection:
                await connection.execute(text(statement), params)
        finally:
            await engine.dispose()

    asyncio.run(main())


def readiness(server: LiveServer) -> httpx.Response:
    with server.http() as http:
        return http.get("/readyz")


def test_ready_server_reports_each_check(http: httpx.Client) -> None:
    answer = http.get("/readyz")

    assert answer.status_code == 200
    assert answer.headers["cache-control"] == "no-store"
    assert answer.json() == {
        "status": "ready",
        "database": "up",
        "schema": "current",
        "redis": "absent",
    }


def test_schema_behind_this_version_is_not_ready(
    tmp_path: Path, scratch_database_url: str
) -> None:
    process, live = start_server(tmp_path, {"CREDGATE_DATABASE_URL": scratch_database_url})
    try:
        _execute(scratch_database_url, "UPDATE alembic_version SET version_num = 'older'")
        behind = readiness(live)
        _execute(
            scratch_database_url,
            "UPDATE alembic_version SET version_num = :head",
            head=head_revision(),
        )
        restored = readiness(live)
    finally:
        stop_server(process)

    assert behind.status_code == 503
    assert behind.json() == {
        "status": "unavailable",
        "database": "up",
        "schema": "outdated",
        "redis": "absent",
    }
    assert restored.status_code == 200


@pytest.fixture()
def postgres() -> Iterator[PrivatePostgres]:
    if os.environ.get("CREDGATE_TEST_DATABASE_URL"):
        pytest.skip("the database outage does not depend on the run's database: SQLite pass")
    instance = PrivatePostgres()
    instance.start()
    yield instance
    instance.remove()


def test_unreachable_database_is_not_ready_until_it_returns(
    tmp_path: Path, postgres: PrivatePostgres
) -> None:
    process, live = start_server(tmp_path, {"CREDGATE_DATABASE_URL": postgres.url})
    try:
        postgres.stop("immediate")
        down = readiness(live)
        postgres.start()
        up = readiness(live)
    finally:
        stop_server(process)

    assert down.status_code == 503
    assert down.json()["status"] == "unavailable"
    assert down.json()["database"] == "unreachable"
    assert up.status_code == 200
