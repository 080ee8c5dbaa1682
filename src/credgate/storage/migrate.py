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
from sqlalchemy.engine import Connection

from credgate import __version__
from credgate.storage.database import _sqlite_path, create_engine, is_sqlite

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
    """SQLite has no advisory lock: two processes creating one database (two CLI commands on
    a fresh data dir) both saw no schema and the second failed with "table already exists".
    An exclusive lock on a file beside the database makes them take turns."""
    path = _sqlite_path(database_url) if is_sqlite(database_url) else None
    if path is None:
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.with_name(path.name + ".migrate-lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
