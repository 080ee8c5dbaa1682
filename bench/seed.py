"""Databases for a run: created, migrated, given a client and a user, filled for scale, dropped.

The scale fill writes rows straight through the driver (``executemany`` on SQLite, ``COPY``
on PostgreSQL), not through the ORM: a million ORM objects would take longer than the run.
"""

from __future__ import annotations

import asyncio
import secrets
import sqlite3
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg

from credgate import management
from credgate.config import Settings
from credgate.runtime import Runtime
from credgate.storage.migrate import upgrade

POSTGRES_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
DATABASE_PREFIX = "credgate_bench"


@dataclass(frozen=True)
class BenchClient:
    client_id: str
    client_secret: str = field(repr=False)
    user_id: str


def create_database(kind: str, workdir: Path) -> str:
    if kind == "sqlite":
        return f"sqlite:///{workdir / 'credgate.db'}"
    name = f"{DATABASE_PREFIX}_{secrets.token_hex(4)}"
    asyncio.run(_postgres_admin(f'CREATE DATABASE "{name}"'))
    return POSTGRES_SERVER.rsplit("/", 1)[0] + "/" + name


def drop_database(url: str) -> None:
    if url.startswith("postgresql"):
        name = url.rsplit("/", 1)[1]
        asyncio.run(_postgres_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _postgres_admin(statement: str) -> None:
    connection = await asyncpg.connect(POSTGRES_SERVER, timeout=5)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


def postgres_version() -> str:
    async def query() -> str:
        connection = await asyncpg.connect(POSTGRES_SERVER, timeout=5)
        try:
            return str(await connection.fetchval("SHOW server_version"))
        finally:
            await connection.close()

    return asyncio.run(query()).split()[0]


def prepare(settings: Settings) -> BenchClient:
    """Migrate, then create the account, client and user every scenario uses."""
    upgrade(settings.resolved_database_url)

    async def make() -> BenchClient:
        runtime = Runtime.start(settings)
        try:
            await management.create_account(runtime, "bench", actor="bench")
            made = await management.create_client(
                runtime, account_name="bench", name="bench", scope="users:read", actor="bench"
            )
            user = await management.create_user(runtime, "bench", "ada@example.com", "Ada")
        finally:
            await runtime.close()
        return BenchClient(made.client.client_id, made.client_secret, user.id)

    return asyncio.run(make())


def _scale_rows(
    clients: int, tokens: int
) -> tuple[str, list[tuple[object, ...]], list[tuple[object, ...]], list[tuple[object, ...]]]:
    now = datetime.now(UTC)
    account_id = str(uuid.uuid4())
    client_rows = [
        (f"cgc_scale{n:017d}", account_id, f"scale {n}", "users:read", 3600, "active", now, now)
        for n in range(clients)
    ]
    secret_rows = [
        (str(uuid.uuid4()), row[0], secrets.token_hex(32), "xxxx", now) for row in client_rows
    ]
    expires = now + timedelta(days=7)
    # Random hashes stand for tokens nobody holds: the index sizes are what matter here.
    token_rows = [
        (
            str(uuid.uuid4()),
            secrets.token_hex(32),
            client_rows[n % clients][0],
            account_id,
            "users:read",
            now,
            expires,
            now,
        )
        for n in range(tokens)
    ]
    return account_id, client_rows, secret_rows, token_rows


_CLIENT_COLUMNS = (
    "client_id",
    "account_id",
    "name",
    "scope",
    "token_ttl",
    "status",
    "created_at",
    "updated_at",
)
_SECRET_COLUMNS = ("id", "client_id", "secret_hash", "hint", "created_at")
_TOKEN_COLUMNS = (
    "token_id",
    "token_hash",
    "client_id",
    "account_id",
    "scope",
    "issued_at",
    "expires_at",
    "chain_started_at",
)


def fill_for_scale(url: str, clients: int, tokens: int) -> None:
    account_id, client_rows, secret_rows, token_rows = _scale_rows(clients, tokens)
    account = (account_id, f"scale-{account_id[:8]}", "active", datetime.now(UTC))
    if url.startswith("sqlite"):
        _fill_sqlite(url, account, client_rows, secret_rows, token_rows)
    else:
        asyncio.run(_fill_postgres(url, account, client_rows, secret_rows, token_rows))


def _sqlite_time(value: object) -> object:
    # SQLAlchemy's SQLite DateTime format: naive UTC text with microseconds.
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    return value


def _fill_sqlite(
    url: str,
    account: tuple[object, ...],
    client_rows: list[tuple[object, ...]],
    secret_rows: list[tuple[object, ...]],
    token_rows: list[tuple[object, ...]],
) -> None:
    connection = sqlite3.connect(url.removeprefix("sqlite:///"))
    try:
        with connection:
            tables = [
                ("accounts", ("id", "name", "status", "created_at"), [account]),
                ("clients", _CLIENT_COLUMNS, client_rows),
                ("client_secrets", _SECRET_COLUMNS, secret_rows),
                ("access_tokens", _TOKEN_COLUMNS, token_rows),
            ]
            for table, columns, rows in tables:
                marks = ", ".join("?" for _ in columns)
                connection.executemany(
                    f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})",  # noqa: S608
                    ([_sqlite_time(value) for value in row] for row in rows),
                )
        connection.execute("ANALYZE")
    finally:
        connection.close()


async def _fill_postgres(
    url: str,
    account: tuple[object, ...],
    client_rows: list[tuple[object, ...]],
    secret_rows: list[tuple[object, ...]],
    token_rows: list[tuple[object, ...]],
) -> None:
    connection = await asyncpg.connect(url, timeout=5)
    try:
        async with connection.transaction():
            await connection.copy_records_to_table(
                "accounts", records=[account], columns=["id", "name", "status", "created_at"]
            )
            await connection.copy_records_to_table(
                "clients", records=client_rows, columns=list(_CLIENT_COLUMNS)
            )
            await connection.copy_records_to_table(
                "client_secrets", records=secret_rows, columns=list(_SECRET_COLUMNS)
            )
            await connection.copy_records_to_table(
                "access_tokens", records=token_rows, columns=list(_TOKEN_COLUMNS)
            )
        await connection.execute("ANALYZE")
    finally:
        await connection.close()
