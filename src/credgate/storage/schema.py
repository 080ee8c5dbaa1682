"""Which schema a database is at, and whether this version of credgate can serve it.

Read without Alembic, because a running server asks at every ``/readyz``: Alembic, with the
Mako it imports, would add about 11 MB to every server worker to read one row and list the
migrations shipped. Each migration file is named after its revision (``0004_client_limits.py``
holds revision ``0004``) and each follows the one before, so the newest file is the head;
tests/test_migrations.py checks that Alembic sees the same. Migrating stays with Alembic,
in ``credgate.storage.migrate``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from credgate import __version__

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
MIGRATE_COMMAND = "credgate migrate"
# Alembic's own name for its table, which migrations/env.py leaves as it is.
VERSION_TABLE = "alembic_version"


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


def shipped_revisions() -> list[str]:
    """The revisions of the migrations this version ships, oldest first."""
    files = (MIGRATIONS_DIR / "versions").glob("[0-9]*_*.py")
    return sorted(path.name.partition("_")[0] for path in files)


def state_of(current: str | None) -> SchemaState:
    """The state of a database whose version table holds ``current``."""
    revisions = shipped_revisions()
    head = revisions[-1] if revisions else None
    return SchemaState(current=current, head=head, known=current is None or current in revisions)


def current_revision_of(connection: Connection) -> str | None:
    """The revision in the version table, None for a database never migrated."""
    if not inspect(connection).has_table(VERSION_TABLE):
        return None
    query = text("SELECT version_num FROM alembic_version")
    revisions = [str(revision) for revision in connection.execute(query).scalars()]
    if len(revisions) > 1:
        # Alembic refuses such a table too: credgate's migrations form one line.
        raise RuntimeError(f"the version table holds several revisions: {revisions}")
    return revisions[0] if revisions else None


async def engine_schema_state(engine: AsyncEngine) -> SchemaState:
    """The schema state through an engine the process already holds (``/readyz``)."""
    async with engine.connect() as connection:
        current = await connection.run_sync(current_revision_of)
    return state_of(current)
