"""Watching the credential change counter, so caches in this process know when to let go.

A server process reads the counter every ``POLL_SECONDS``. Cache entries carry the *epoch*
current when their read began; the epoch moves on whenever the counter moves or this process
changes credentials itself, and an entry of an older epoch is never used again.

Entries are trusted only while the last successful read of the counter began less than
``TRUST_SECONDS`` ago. A change committed anywhere is therefore seen by every process within
that time, whatever the load or the state of Redis; when the counter cannot be read (the
database is away, or the process is too busy to read it), caches are skipped, not trusted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from credgate.storage.changes import read_generation

logger = logging.getLogger("credgate.cache")

POLL_SECONDS = 0.2
# Under the one second within which a revocation must be refused everywhere.
TRUST_SECONDS = 0.8


class ChangeWatcher:
    """The epoch that cache entries of this process must carry to be used."""

    def __init__(self) -> None:
        self._epoch = 0
        self._generation: int | None = None
        self._trusted_until = float("-inf")
        self._task: asyncio.Task[None] | None = None

    def current_epoch(self) -> int | None:
        """The epoch a cache entry must carry to be used now; None when none may be."""
        if time.monotonic() >= self._trusted_until:
            return None
        return self._epoch

    def read_epoch(self) -> int:
        """The epoch to tag an entry with: take it *before* reading what the entry holds."""
        return self._epoch

    def forget(self) -> None:
        """Retire every entry: this process has just changed credentials itself."""
        self._epoch += 1

    def start(self, engine: AsyncEngine) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._watch(engine))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self._trusted_until = float("-inf")

    async def _watch(self, engine: AsyncEngine) -> None:
        failing = False
        while True:
            started = time.monotonic()
            try:
                generation = await read_generation(engine)
            except (OSError, SQLAlchemyError) as exc:
                if not failing:
                    error = type(exc).__name__
                    logger.warning("cache.change_counter_unreadable", extra={"error": error})
                failing = True
            else:
                failing = False
                self.observe(generation, started)
            await asyncio.sleep(POLL_SECONDS)

    def observe(self, generation: int, read_started: float) -> None:
        """Take in a read of the counter that began at ``read_started`` (monotonic clock)."""
        if generation != self._generation:
            self._generation = generation
            self._epoch += 1
        self._trusted_until = read_started + TRUST_SECONDS

    @property
    def generation(self) -> int | None:
        """The counter as last read; None before the first read."""
        return self._generation
