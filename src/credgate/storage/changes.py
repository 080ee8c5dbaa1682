"""The credential change counter: one row that every credential-changing commit moves on."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import Session

from credgate.storage.models import CredentialChanges

_ROW = 1


def count_change(session: Session) -> None:
    """Move the counter on inside the session's transaction, so it commits with the change."""
    result = session.execute(
        update(CredentialChanges)
        .where(CredentialChanges.id == _ROW)
        .values(generation=CredentialChanges.generation + 1)
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        # A schema made without the migrations' seed row: start the count here.
        session.add(CredentialChanges(id=_ROW, generation=1))
        session.flush()


async def read_generation(engine: AsyncEngine) -> int:
    """The counter as committed now; 0 before the first change."""
    async with engine.connect() as connection:
        query = select(CredentialChanges.generation).where(CredentialChanges.id == _ROW)
        generation = (await connection.execute(query)).scalar()
    return int(generation or 0)
