"""The audit log: one row per credential or admin event, never a secret or token."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select

from credgate.storage.database import AsyncSession
from credgate.storage.models import AuditEvent


async def record_event(
    session: AsyncSession,
    *,
    actor: str,
    action: str,
    account_id: str | None = None,
    client_id: str | None = None,
    target: str | None = None,
    source_address: str | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    session.add(
        AuditEvent(
            actor=actor,
            action=action,
            account_id=account_id,
            client_id=client_id,
            target=target,
            source_address=source_address,
            details=details or {},
        )
    )


async def list_events(
    session: AsyncSession, account_id: str | None = None, limit: int = 100
) -> Sequence[AuditEvent]:
    query = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit)
    if account_id is not None:
        query = query.where(AuditEvent.account_id == account_id)
    return (await session.scalars(query)).all()
