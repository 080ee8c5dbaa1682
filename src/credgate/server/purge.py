"""The purge: on demand (``credgate tokens purge``) and on a schedule inside the server."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.exc import SQLAlchemyError

from credgate.runtime import Runtime
from credgate.storage.models import utcnow
from credgate.storage.purge import purge_audit_events, purge_tokens

logger = logging.getLogger("credgate.purge")


@dataclass(frozen=True)
class PurgeResult:
    tokens: int
    audit_events: int


async def purge_once(
    runtime: Runtime, now: datetime | None = None, *, token_retention: int | None = None
) -> PurgeResult:
    """Delete tokens ended longer than the retention ago and audit events past theirs."""
    settings = runtime.settings
    now = now or utcnow()
    retention = settings.token_retention if token_retention is None else token_retention
    tokens = await purge_tokens(
        runtime.sessions, now - timedelta(seconds=retention), settings.purge_batch_size
    )
    audit_events = await purge_audit_events(
        runtime.sessions,
        now - timedelta(days=settings.audit_retention_days),
        settings.purge_batch_size,
    )
    result = PurgeResult(tokens=tokens, audit_events=audit_events)
    logger.info("purge.completed", extra={"tokens": tokens, "audit_events": audit_events})
    return result


async def _purge_forever(runtime: Runtime, interval: float) -> None:
    # The first run comes after a random part of the interval, so instances started together
    # spread their purges instead of all deleting at once.
    delay = interval * random.uniform(0.1, 1.0)  # noqa: S311 (timing, not security)
    while True:
        await asyncio.sleep(delay)
        delay = interval
        try:
            await purge_once(runtime)
        except (OSError, SQLAlchemyError) as exc:
            # The database may be away for a while; the next run tries again.
            logger.warning("purge.failed", extra={"error": type(exc).__name__})


class ScheduledPurge:
    """A background task that purges every ``CREDGATE_PURGE_INTERVAL`` seconds (0: never)."""

    def __init__(self, runtime: Runtime) -> None:
        interval = runtime.settings.purge_interval
        self._task = (
            asyncio.create_task(_purge_forever(runtime, interval), name="credgate.purge")
            if interval > 0
            else None
        )

    async def stop(self) -> None:
        if self._task is None:
            return
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
