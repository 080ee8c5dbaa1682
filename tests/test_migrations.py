"""``credgate migrate`` and the schema check at start-up, on the run's kind of database."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from conftest import LiveServer, free_port
from credgate.storage.database import create_engine, is_sqlite
from credgate.storage.migrate import _scripts, current_revision, head_revision
from credgate.storage.schema import engine_schema_state, shipped_revisions
from test_cli import cli

FUTURE_REVISION = "9999_from_the_future"


@pytest.fixture()
def env(tmp_path: Path, scratch_database_url: str) -> dict[str, str]:
    """The environment of a credgate pointed at an empty database."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("CREDGATE_")}
    return {
        **base,
        "CREDGATE_DATA_DIR": str(tmp_path / "data"),
        "CREDGATE_DATABASE_URL": scratch_database_url,
    }


def _execute(url: str, statement: str) -> None:
    async def main() -> None:
        engine = create_engine(url)
        try:
            async with engine.begin() as connection:
                await connection.execute(text(statement))
        finally:
            await engine.dispose()

    asyncio.run(main())


def _revision(url: str) -> str | None:
    return asyncio.run(current_revision(url))


def _serve(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``credgate serve`` expected to refuse: it must exit by itself, long before the timeout."""
    return cli("serve", "--port", str(free_port()), env=env, timeout=30)


def test_the_server_reads_the_migrations_as_alembic_does() -> None:
    # /readyz lists the migrations from their file names; Alembic from their contents.
    alembic_revisions = [script.revision for script in _scripts().walk_revisions()]

    assert shipped_revisions() == list(reversed(alembic_revisions))
    assert shipped_revisions()[-1] == head_revision()


def test_the_server_reads_the_revision_alembic_wrote(env: dict[str, str]) -> None:
    url = env["CREDGATE_DATABASE_URL"]

    async def state() -> tuple[str | None, bool]:
        engine = create_engine(url)
        try:
            read = await engine_schema_state(engine)
        finally:
            await engine.dispose()
        return read.current, read.is_current

    before = asyncio.run(state())
    assert cli("migrate", env=env).returncode == 0

    assert before == (None, False)
    assert asyncio.run(state()) == (_revision(url), True)


def test_migrate_brings_an_empty_database_to_the_newest_schema(env: dict[str, str]) -> None:
    url = env["CREDGATE_DATABASE_URL"]

    result = cli("migrate", env=env)

    assert result.returncode == 0, result.stderr
    assert "database is up to date" in result.stdout
    assert _revision(url) == head_revision()
    assert cli("accounts", "create", "acme", env=env).returncode == 0


def test_instances_migrating_at_once_all_succeed(env: dict[str, str]) -> None:
    command = [sys.executable, "-m", "credgate", "migrate"]
    runs = [
        subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(4)
    ]

    errors = [run.communicate(timeout=60)[1] for run in runs]

    assert [run.returncode for run in runs] == [0, 0, 0, 0], errors
    assert _revision(env["CREDGATE_DATABASE_URL"]) == head_revision()


def test_serve_on_an_unmigrated_database_names_the_migrate_command(env: dict[str, str]) -> None:
    if is_sqlite(env["CREDGATE_DATABASE_URL"]):
        pytest.skip("SQLite is created and migrated on first start, by design")

    result = _serve(env)

    assert result.returncode == 1
    assert f"needs {head_revision()}" in result.stderr
    assert "run `credgate migrate`" in result.stderr
    assert "Traceback" not in result.stderr
    assert _revision(env["CREDGATE_DATABASE_URL"]) is None


def test_sqlite_is_migrated_on_first_use(env: dict[str, str]) -> None:
    if not is_sqlite(env["CREDGATE_DATABASE_URL"]):
        pytest.skip("only SQLite is migrated without being asked")

    result = cli("accounts", "list", env=env)

    assert result.returncode == 0, result.stderr
    assert _revision(env["CREDGATE_DATABASE_URL"]) == head_revision()


def test_serve_and_migrate_refuse_a_schema_this_version_does_not_know(
    env: dict[str, str],
) -> None:
    url = env["CREDGATE_DATABASE_URL"]
    assert cli("migrate", env=env).returncode == 0
    _execute(url, "UPDATE alembic_version SET version_num = '9999_from_the_future'")

    served = _serve(env)
    migrated = cli("migrate", env=env)

    for result in (served, migrated):
        assert result.returncode == 1
        assert f"revision {FUTURE_REVISION}" in result.stderr
        assert "pip install --upgrade credgate" in result.stderr
        assert "Traceback" not in result.stderr
    assert _revision(url) == FUTURE_REVISION


def test_serve_names_the_database_setting_when_the_database_is_unreachable(
    env: dict[str, str],
) -> None:
    env = {**env, "CREDGATE_DATABASE_URL": f"postgresql://nobody@127.0.0.1:{free_port()}/x"}

    result = _serve(env)

    assert result.returncode == 1
    assert "cannot reach the database" in result.stderr
    assert "CREDGATE_DATABASE_URL" in result.stderr
    assert "Traceback" not in result.stderr


def test_migrate_on_the_live_database_keeps_the_server_answering(server: LiveServer) -> None:
    seeded = server.client()
    before = server.token(seeded)

    result = cli("migrate", env=server.env)

    assert result.returncode == 0, result.stderr
    with server.http() as http:
        response = http.get(
            f"/oauth/tokens/{before['token_id']}",
            headers={"Authorization": f"Bearer {before['access_token']}"},
        )
    assert response.status_code == 200
    assert server.token(seeded)["token_type"] == "Bearer"
