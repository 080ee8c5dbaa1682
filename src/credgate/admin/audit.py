"""Reading the audit log with the portal's filters: account, client, actor and type."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select

from credgate.runtime import Runtime
from credgate.storage.models import AuditEvent

MAX_EVENTS = 500


@dataclass(frozen=True)
class AuditFilter:
    account_id: str | None = None
    client_id: str | None = None
    actor: str | None = None
    action: str | None = None
    limit: int = 100


async def search_events(runtime: Runtime, criteria: AuditFilter) -> Sequence[AuditEvent]:
    """Newest first; ``action`` matches a type (``secret.rotated``) or a family (``secret``)."""
    query = select(AuditEvent).order_by(AuditEvent.id.desc())
    query = query.limit(max(1, min(criteria.limit, MAX_EVENTS)))
    if criteria.account_id is not None:
        query = query.where(AuditEvent.account_id == criteria.account_id)
    if criteria.client_id:
        query = query.where(AuditEvent.client_id == criteria.client_id)
    if criteria.actor:
        query = query.where(AuditEvent.actor == criteria.actor)
    if criteria.action:
        family = criteria.action.rstrip(".") + ".%"
        query = query.where(
            (AuditEvent.action == criteria.action) | AuditEvent.action.like(family)
        )
    async with runtime.sessions() as session:
        return (await session.scalars(query)).all()
