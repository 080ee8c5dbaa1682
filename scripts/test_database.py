"""Create or drop the throwaway PostgreSQL database of one test run.

    test_database.py create   prints the new database's URL, or exits 3 when no server answers
    test_database.py drop URL drops that database

The server is ``CREDGATE_TEST_POSTGRES_URL`` (default: the machine's PostgreSQL at
127.0.0.1:5432 as user ``postgres``); each run gets a database of its own, named
``$CREDGATE_TEST_DATABASE_PREFIX_<random>``, so runs never see each other's rows.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import sys

import asyncpg
from sqlalchemy.engine import make_url

SERVER_URL = os.environ.get(
    "CREDGATE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
PREFIX = os.environ.get("CREDGATE_TEST_DATABASE_PREFIX", "credgate_test")
UNREACHABLE = 3


async def _admin() -> asyncpg.Connection:
    return await asyncpg.connect(SERVER_URL, timeout=5)


async def create() -> int:
    try:
        connection = await _admin()
    except (OSError, asyncpg.PostgresError) as exc:
        print(f"no PostgreSQL at {make_url(SERVER_URL)!r}: {exc}", file=sys.stderr)
        return UNREACHABLE
    name = f"{PREFIX}_{secrets.token_hex(4)}"
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    print(make_url(SERVER_URL).set(database=name).render_as_string(hide_password=False))
    return 0


async def drop(url: str) -> int:
    name = make_url(url).database or ""
    if not name.startswith(PREFIX + "_"):
        print(f"refusing to drop {name!r}: not a test database", file=sys.stderr)
        return 2
    connection = await _admin()
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()
    return 0


def main() -> int:
    if sys.argv[1:] == ["create"]:
        return asyncio.run(create())
    if len(sys.argv) == 3 and sys.argv[1] == "drop":
        return asyncio.run(drop(sys.argv[2]))
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
