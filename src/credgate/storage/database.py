"""Engines and sessions: one async SQLAlchemy engine per process, SQLite or PostgreSQL."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

__all__ = [
    "AsyncEngine",
    "AsyncSession",
    "async_sessionmaker",
    "create_engine",
    "create_sessionmaker",
]

CONNECT_TIMEOUT_SECONDS = 5
IDLE_PING_SECONDS = 2.0
SQLITE_POOL_SIZE = 20
POSTGRES_POOL_SIZE = 10
_CHECKED_IN_AT = "credgate.checked_in_at"

# Written as users write them; credgate picks the async driver it ships with.
_ASYNC_DRIVERS = {
    "sqlite": "sqlite+aiosqlite",
    "postgresql": "postgresql+asyncpg",
    "postgres": "postgresql+asyncpg",
}


def async_database_url(url: str) -> str:
    """Map ``sqlite:///x`` or ``postgresql://...`` to the async driver credgate uses."""
    parsed = make_url(url)
    driver = _ASYNC_DRIVERS.get(parsed.drivername)
    if driver is not None:
        parsed = parsed.set(drivername=driver)
    return parsed.render_as_string(hide_password=False)


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def _sqlite_path(url: str) -> Path | None:
    database = make_url(url).database
    if not database or database == ":memory:":
        return None
    return Path(database)


def _set_sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers run beside the one writer; NORMAL sync in WAL mode loses nothing
    # when the process crashes, only possibly the last commits on power loss.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def create_engine(url: str) -> AsyncEngine:
    url = async_database_url(url)
    if is_sqlite(url):
        path = _sqlite_path(url)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        # No overflow: each aiosqlite connection is a thread of its own, and overflow ones
        # were started and ended per request under load.
        engine = create_async_engine(url, pool_size=SQLITE_POOL_SIZE, max_overflow=0)
        event.listen(engine.sync_engine, "connect", _set_sqlite_pragmas)
        return engine
    # The short connect and pool timeouts make an unreachable database a quick 503 rather
    # than a hung request. No overflow: under a burst, a request waits a moment for a pooled
    # connection, where an overflow one would cost a new PostgreSQL backend per request and
    # be closed again right after.
    engine = create_async_engine(
        url,
        pool_size=POSTGRES_POOL_SIZE,
        max_overflow=0,
        pool_timeout=CONNECT_TIMEOUT_SECONDS,
        connect_args={"timeout": CONNECT_TIMEOUT_SECONDS},
    )
    _ping_idle_connections(engine)
    return engine


def _ping_idle_connections(engine: AsyncEngine) -> None:
    """Check a pooled connection before use only when it sat idle a while.

    A connection can die while idle (a database restart, a firewall's idle timeout); one in
    steady use cannot go unnoticed for long, and pinging it on every checkout would cost a
    round trip per request. A dead one is replaced before the request sees it; one that dies
    while busy fails that request with a 503, and the pool replaces all its connections.
    """
    dialect = engine.dialect

    @event.listens_for(engine.sync_engine, "checkin")
    def _note_checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info[_CHECKED_IN_AT] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkout")
    def _ping_if_idle(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        checked_in = record.info.get(_CHECKED_IN_AT)
        if checked_in is None or time.monotonic() - checked_in < IDLE_PING_SECONDS:
            return
        try:
            dialect.do_ping(dbapi_connection)
        except Exception as exc:  # whatever the driver raises, the connection is gone
            raise DisconnectionError("idle connection no longer answers") from exc


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)
