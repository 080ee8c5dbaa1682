"""Deleting what has outlived its retention: ended access tokens and old audit events.

Deletes run in bounded batches, each its own short transaction, so a purge never holds locks
on many rows at once and a purge cut short leaves nothing half done. Every statement is
idempotent: two instances purging at the same moment delete each row once between them.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Delete, delete, or_, select

from credgate.cache.revocation import announce_nothing
from credgate.storage.database import AsyncSession, async_sessionmaker
from credgate.storage.models import AccessToken, AuditEvent


async def _delete_in_batches(
    sessions: async_sessionmaker[AsyncSession], statement: Delete, batch_size: int
) -> int:
    deleted = 0
    while True:
        async with sessions.begin() as session:
            # Rows that had already ended: no cached answer changes when they go.
            announce_nothing(session)
            # Nothing of these rows is loaded in the session, so there is nothing to sync.
            result = await session.execute(statement.execution_options(synchronize_session=False))
        count = int(result.rowcount)  # type: ignore[attr-defined]
        deleted += count
        if count < batch_size:
            return deleted


async def purge_tokens(
    sessions: async_sessionmaker[AsyncSession], ended_before: datetime, batch_size: int
) -> int:
    """Delete tokens that expired or were revoked before ``ended_before``; the count deleted.

    A purged token is as dead as a revoked one: its hash is no longer found, so it is refused.
    """
    ended = select(AccessToken.token_id).where(
        or_(AccessToken.expires_at < ended_before, AccessToken.revoked_at < ended_before)
    )
    statement = delete(AccessToken).where(
        AccessToken.token_id.in_(ended.limit(batch_size).scalar_subquery())
    )
    return await _delete_in_batches(sessions, statement, batch_size)


async def purge_audit_events(
    sessions: async_sessionmaker[AsyncSession], occurred_before: datetime, batch_size: int
) -> int:
    """Delete audit events older than ``occurred_before``; the count deleted."""
    old = select(AuditEvent.id).where(AuditEvent.occurred_at < occurred_before)
    statement = delete(AuditEvent).where(
        AuditEvent.id.in_(old.limit(batch_size).scalar_subquery())
    )
    return await _delete_in_batches(sessions, statement, batch_size)
