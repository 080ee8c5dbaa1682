"""Alembic environment: runs credgate's migrations on the async engine of the given URL."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import text
from sqlalchemy.engine import Connection

from credgate.storage.database import create_engine
from credgate.storage.models import Base

config = context.config
target_metadata = Base.metadata

# Any fixed number, the same for every credgate: instances that run `credgate migrate` at the
# same moment queue on it, and the later one finds the schema current.
_MIGRATION_LOCK = 0x63726764


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        # SQLite does run DDL in transactions; saying so keeps all the steps in the one
        # exclusive transaction begun below, with no commit between revisions.
        transactional_ddl=True,
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK}
            )
        if connection.dialect.name == "sqlite":
            # SQLite has no advisory lock, and runs DDL outside a transaction unless one is
            # begun: an exclusive one makes a second migrator wait, then find the schema current.
            connection.exec_driver_sql("BEGIN EXCLUSIVE")
        context.run_migrations()


async def _run_online() -> None:
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "")
    async with engine.connect() as connection:
        await connection.run_sync(_run)
        await connection.commit()
    await engine.dispose()


if context.is_offline_mode():
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
    )
    with context.begin_transaction():
        context.run_migrations()
else:
    asyncio.run(_run_online())
