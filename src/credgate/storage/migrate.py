"""Schema migrations (Alembic), run by ``credgate migrate`` and on first start on SQLite."""

from __future__ import annotations

import asyncio
import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from credgate import __version__
from credgate.storage.database import create_engine

MIGRATIONS_DIR = Path(__file__).parent / "migrations"

MIGRATE_COMMAND = "credgate migrate"


class SchemaOutOfDate(RuntimeError):
    """The database schema is not the one this version of credgate was written for."""


@dataclass(frozen=True)
class SchemaState:
    current: str | None
    head: str | None
    known: bool

    @property
    def is_current(self) -> bool:
        return self.current == self.head

    def problem(self) -> str | None:
        """What is wrong with the schema and the command that fixes it; None when current."""
        if self.is_current:
            return None
        if not self.known:
            # A newer credgate migrated this database; downgrading the schema from here
            # would need migrations this version does not have.
            return (
                f"database schema is at revision {self.current}, which credgate "
                f"{__version__} does not know (written by a newer version?): run "
                "`pip install --upgrade credgate` to the version that migrated it"
            )
        return (
            f"database schema is at {self.current or 'nothing (empty database)'}, credgate "
            f"{__version__} needs {self.head}: run `{MIGRATE_COMMAND}`"
        )


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


async def engine_schema_state(engine: AsyncEngine) -> SchemaState:
    """The schema state through an engine the process already holds (``/readyz``)."""
    async with engine.connect() as connection:
        current = await connection.run_sync(_current_revision)
    return SchemaState(current=current, head=head_revision(), known=_is_known(current))


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
