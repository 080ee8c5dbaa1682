"""Keyed single-row reads on the request path, as Core statements without an ORM session.

An ORM session costs more than the read itself on a hot path: identity map, unit of work,
a transaction begun and rolled back. These reads need none of that. On SQLite they run
inline on the calling thread through a synchronous, read-only connection: a WAL reader
never waits for the writer, and an indexed lookup takes less time than the hop to
aiosqlite's thread and back, which every statement of the async driver pays. Everywhere
else they run on a pooled connection of the async engine, as Core statements, outside any
transaction: one statement needs none, and on PostgreSQL that is one round trip for the
``SELECT`` instead of three with ``BEGIN`` and ``ROLLBACK``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import sqlalchemy
from sqlalchemy import Engine, Executable, Row, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from credgate.storage.database import AsyncEngine, is_sqlite

logger = logging.getLogger("credgate.storage")

# A reader may meet a lock only while the database recovers its WAL index or another
# process shuts it down; it gives up quickly and the read goes through the async engine,
# as every read does when the file cannot be opened read-only (logged once).
# Known cost: the inline read runs on the event loop, so while it waits on such a lock
# (up to this long) every request of the worker waits with it.
_INLINE_BUSY_TIMEOUT_MS = 50
_KEPT_FOR_SESSIONS = 2
_UNSIZED_POOL_READERS = 4


class Reads:
    """Runs single-row Core ``SELECT``s for one process."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._inline = _inline_engine(engine)
        # SQLAlchemy's own idiom: the same pool, each connection put in autocommit for the
        # time it is checked out here, and set back to the default as it returns to the pool.
        # (SQLite's driver begins no transaction for a SELECT in the first place.)
        self._pooled = engine
        if engine.dialect.name == "postgresql":
            self._pooled = engine.execution_options(isolation_level="AUTOCOMMIT")
        self._queue = asyncio.Semaphore(_readers_allowed(engine))
        self._deferred_before = False

    async def first(
        self, statement: Executable, parameters: Mapping[str, Any] | None = None
    ) -> Row[Any] | None:
        """The first row the statement returns with these bound parameters, or None."""
        if self._inline is not None:
            try:
                with self._inline.connect() as connection:
                    return connection.execute(statement, parameters).first()
            except OperationalError as exc:
                self._note_deferred(exc)
        async with self._queue, self._pooled.connect() as connection:
            return (await connection.execute(statement, parameters)).first()

    def _note_deferred(self, exc: OperationalError) -> None:
        if not self._deferred_before:
            self._deferred_before = True
            logger.warning("storage.inline_read_failed", extra={"reason": str(exc.orig)})

    async def close(self) -> None:
        if self._inline is not None:
            self._inline.dispose()


def _readers_allowed(engine: AsyncEngine) -> int:
    """How many reads may hold a pooled connection at once.

    Reads wait their turn on a semaphore, first come first served, rather than on the pool:
    the pool's asyncio queue lets a newcomer take a connection just given back before the
    waiter woken for it runs, and that waiter goes to the back of the line. Under load a few
    unlucky reads waited hundreds of milliseconds (p99 300 to 650 ms on one worker at 64
    connections, against 85 to 100 ms through the semaphore). Two connections stay out of
    the readers' reach, for sessions and the change counter.

    Known shortcoming: sessions (the token writer, cache misses, the Admin Portal) still wait
    on the pool's own queue, so under a burst one of them can lose its turn the same way.
    """
    pool_size = getattr(engine.pool, "size", lambda: _UNSIZED_POOL_READERS)()
    return max(1, pool_size - _KEPT_FOR_SESSIONS)


def _inline_engine(engine: AsyncEngine) -> Engine | None:
    """A synchronous read-only engine on the same SQLite file, or None (not SQLite, or a
    database in memory, which another connection would not see)."""
    url = engine.url
    if not is_sqlite(url.render_as_string(hide_password=False)):
        return None
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    # Reads never yield to the event loop, so one connection serves the whole process.
    inline_url = make_url(f"sqlite+pysqlite:///file:{quote(database)}?mode=ro&uri=true")
    inline = sqlalchemy.create_engine(inline_url, pool_size=1, max_overflow=4)
    event.listen(inline, "connect", _read_only_pragmas)
    return inline


def _read_only_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA query_only=ON")
    cursor.execute(f"PRAGMA busy_timeout={_INLINE_BUSY_TIMEOUT_MS}")
    cursor.close()
