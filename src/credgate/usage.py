"""Usage counts per client and hour, kept in memory and flushed in the background.

The token endpoint must not pay a database write per request for statistics, so each process
counts in memory and a background task adds its counts to ``usage_counters`` every few
seconds (and once more at shutdown) with one upsert per client and hour. The same flush sets
``last_used_at`` of clients and secrets. Counts of a process that dies without a clean
shutdown since its last flush are lost; that is a few seconds of statistics, never a
credential.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import SQLAlchemyError

from credgate.cache.revocation import announce_nothing
from credgate.runtime import Runtime
from credgate.storage.models import Client, ClientSecret, UsageCounter

logger = logging.getLogger("credgate.usage")

FLUSH_INTERVAL = 2.0

# A bucket: (the hour it starts, client id, account id).
Bucket = tuple[datetime, str, str]


def hour_of(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


@dataclass
class UsageBatch:
    """What one process counted since its last flush."""

    issued: Counter[Bucket] = field(default_factory=Counter)
    failures: Counter[Bucket] = field(default_factory=Counter)
    clients_used: dict[str, datetime] = field(default_factory=dict)
    secrets_used: dict[str, datetime] = field(default_factory=dict)

    def is_empty(self) -> bool:
        return not (self.issued or self.failures or self.clients_used or self.secrets_used)


class UsageRecorder:
    """In-memory counters; the hot path only touches dictionaries, never the database."""

    def __init__(self) -> None:
        self._batch = UsageBatch()

    def count_token_issued(self, client: Client, now: datetime) -> None:
        self._batch.issued[(hour_of(now), client.client_id, client.account_id)] += 1

    def count_authentication(
        self, client: Client, secret: ClientSecret | None, now: datetime
    ) -> None:
        """Count a failure of a client that exists, or note when the client and secret ran."""
        if secret is None or client.status != "active":
            self._batch.failures[(hour_of(now), client.client_id, client.account_id)] += 1
            return
        self._batch.clients_used[client.client_id] = now
        self._batch.secrets_used[secret.id] = now

    def take(self) -> UsageBatch:
        batch, self._batch = self._batch, UsageBatch()
        return batch

    def put_back(self, batch: UsageBatch) -> None:
        """Merge a batch that could not be written, so the next flush tries it again."""
        self._batch.issued.update(batch.issued)
        self._batch.failures.update(batch.failures)
        for client_id, moment in batch.clients_used.items():
            self._batch.clients_used.setdefault(client_id, moment)
        for secret_id, moment in batch.secrets_used.items():
            self._batch.secrets_used.setdefault(secret_id, moment)


USAGE = UsageRecorder()


def _upsert(dialect: str, bucket: Bucket, issued: int, failures: int) -> object:
    # INSERT ... ON CONFLICT DO UPDATE: both SQLite (3.24+) and PostgreSQL speak it. Each
    # dialect's module is imported here, where the engine has loaded it already: a server
    # on SQLite would otherwise hold all of PostgreSQL's dialects (about 3 MB).
    module = "postgresql" if dialect == "postgresql" else "sqlite"
    insert = importlib.import_module(f"sqlalchemy.dialects.{module}").insert
    hour, client_id, account_id = bucket
    statement = insert(UsageCounter).values(
        bucket=hour,
        client_id=client_id,
        account_id=account_id,
        tokens_issued=issued,
        auth_failures=failures,
    )
    return statement.on_conflict_do_update(
        index_elements=["bucket", "client_id"],
        set_={
            "tokens_issued": UsageCounter.tokens_issued + statement.excluded.tokens_issued,
            "auth_failures": UsageCounter.auth_failures + statement.excluded.auth_failures,
        },
    )


async def write_batch(runtime: Runtime, batch: UsageBatch) -> None:
    """Add a batch to the counters and last-use times, in one transaction."""
    buckets = set(batch.issued) | set(batch.failures)
    dialect = runtime.engine.dialect.name
    async with runtime.sessions.begin() as session:
        announce_nothing(session)  # usage changes no token's validity
        for bucket in sorted(buckets):
            statement = _upsert(dialect, bucket, batch.issued[bucket], batch.failures[bucket])
            await session.execute(statement)  # type: ignore[call-overload]
        for client_id, moment in sorted(batch.clients_used.items()):
            await session.execute(
                update(Client).where(Client.client_id == client_id).values(last_used_at=moment)
            )
        for secret_id, moment in sorted(batch.secrets_used.items()):
            await session.execute(
                update(ClientSecret)
                .where(ClientSecret.id == secret_id)
                .values(last_used_at=moment)
            )


async def flush_usage(runtime: Runtime, recorder: UsageRecorder = USAGE) -> None:
    batch = recorder.take()
    if batch.is_empty():
        return
    try:
        await write_batch(runtime, batch)
    except (OSError, SQLAlchemyError) as exc:
        recorder.put_back(batch)
        logger.warning("usage.flush_failed", extra={"error": type(exc).__name__})


async def _flush_forever(runtime: Runtime, interval: float) -> None:
    while True:
        await asyncio.sleep(interval)
        await flush_usage(runtime)


class UsageFlusher:
    """The background task that writes the process's usage counts every few seconds."""

    def __init__(self, runtime: Runtime, interval: float = FLUSH_INTERVAL) -> None:
        self._runtime = runtime
        self._task = asyncio.create_task(_flush_forever(runtime, interval), name="credgate.usage")

    async def stop(self) -> None:
        """Stop the task and write what is left, so a clean shutdown loses no count."""
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        await flush_usage(self._runtime)


@dataclass(frozen=True)
class UsageSeries:
    """Counts per period, oldest first, ready for a chart."""

    period: str
    starts: list[datetime]
    tokens_issued: list[int]
    auth_failures: list[int]

    def as_dict(self) -> dict[str, object]:
        return {
            "period": self.period,
            "starts": [int(start.timestamp()) for start in self.starts],
            "tokens_issued": self.tokens_issued,
            "auth_failures": self.auth_failures,
        }


PERIODS = {"24h": (timedelta(hours=1), 24), "30d": (timedelta(days=1), 30)}


async def usage_series(
    runtime: Runtime,
    period: str,
    now: datetime,
    *,
    account_id: str | None = None,
    client_id: str | None = None,
) -> UsageSeries:
    """Hourly counts of the last 24 hours or daily counts of the last 30 days."""
    step, count = PERIODS[period]
    last = hour_of(now) if period == "24h" else hour_of(now).replace(hour=0)
    starts = [last - step * (count - 1 - index) for index in range(count)]
    query = select(UsageCounter).where(UsageCounter.bucket >= starts[0])
    if account_id is not None:
        query = query.where(UsageCounter.account_id == account_id)
    if client_id is not None:
        query = query.where(UsageCounter.client_id == client_id)
    async with runtime.sessions() as session:
        rows = (await session.scalars(query)).all()

    issued, failures = [0] * count, [0] * count
    for row in rows:
        index = min(int((row.bucket - starts[0]) / step), count - 1)
        issued[index] += row.tokens_issued
        failures[index] += row.auth_failures
    return UsageSeries(period, starts, issued, failures)
