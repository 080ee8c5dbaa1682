"""Schema migrations (Alembic), run by ``credgate migrate`` and on first start on SQLite."""

from __future__ import annotations

import asyncio
import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection, make_url

from credgate.storage.database import create_engine
from credgate.storage.schema import MIGRATIONS_DIR, SchemaState


class SchemaOutOfDate(RuntimeError):
    """The database schema is not the one this version of credgate was written for."""


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config("sqlite://"))


def head_revision() -> str | None:
    return _scripts().get_current_head()


def _is_known(revision: str | None) -> bool:
    if revision is None:
        return True
    return revision in {script.revision for script in _scripts().walk_revisions()}


def _current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


async def current_revision(database_url: str) -> str | None:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(_current_revision)
    finally:
        await engine.dispose()


def schema_state(database_url: str) -> SchemaState:
    current = asyncio.run(current_revision(database_url))
    return SchemaState(current=current, head=head_revision(), known=_is_known(current))


def check_schema(database_url: str) -> None:
    """Raise ``SchemaOutOfDate`` with the command that fixes it when the schema is not head."""
    problem = schema_state(database_url).problem()
    if problem is not None:
        raise SchemaOutOfDate(problem)


def upgrade(database_url: str) -> None:
    """Bring the database to the newest schema; safe to run on a live database.

    Each migration runs in one transaction (PostgreSQL has transactional DDL), under an
    advisory lock taken in the migration environment, so two instances migrating at once run
    the steps once. A schema newer than this version is refused, not touched.
    """
    with _sqlite_migration_lock(database_url):
        state = schema_state(database_url)
        if not state.known:
            raise SchemaOutOfDate(state.problem())
        command.upgrade(alembic_config(database_url), "head")


@contextmanager
def _sqlite_migration_lock(database_url: str) -> Iterator[None]:
    """SQLite has no advisory lock, and its DDL here takes no lock early enough: two
    processes migrating one file at once would both create the tables. A lock file next to
    the database makes them take turns, as the advisory lock does on PostgreSQL."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        yield
        return
    lock_path = Path(f"{url.database}.migrate-lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
