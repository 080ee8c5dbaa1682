"""Group commit of new token rows: many requests share one transaction, each answered after it.

A token is answered only once its row is durable (committed). Committing one row per request
costs a transaction per token; here requests hand their row to the writer and wait, and the
writer commits whatever has gathered in one multi-row INSERT. There is no added delay: while
one batch commits, the next gathers, so batches grow with the load and stay at one row when
the server is quiet.

If a batch fails, its rows are tried again one per transaction, so a row that cannot be
written (its client deleted meanwhile, say) fails alone and the others are still stored.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from credgate.storage.models import AccessToken

logger = logging.getLogger("credgate.storage")

MAX_BATCH_ROWS = 500

TokenRow = dict[str, Any]
_Pending = tuple[TokenRow, "asyncio.Future[None]"]


class TokenWriter:
    """Writes access token rows in shared transactions; ``save`` returns once committed."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._pending: list[_Pending] = []
        self._task: asyncio.Task[None] | None = None

    async def save(self, row: TokenRow) -> None:
        """Store one row (the columns of ``access_tokens``); raises what its INSERT raised."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((row, done))
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._write_all())
        await done

    async def close(self) -> None:
        """Wait for rows handed over but not yet committed."""
        if self._task is not None:
            await asyncio.shield(self._task)

    async def _write_all(self) -> None:
        try:
            while self._pending:
                batch = self._pending[:MAX_BATCH_ROWS]
                del self._pending[:MAX_BATCH_ROWS]
                await self._write(batch)
        finally:
            self._task = None

    async def _write(self, batch: list[_Pending]) -> None:
        try:
            await self._insert([row for row, _ in batch])
        except Exception as exc:  # every waiting request must hear of it
            if len(batch) == 1:
                _settle(batch[0][1], exc)
                return
            # One bad row must not fail its neighbours: each is tried on its own.
            for one in batch:
                await self._write([one])
            return
        for _, done in batch:
            _settle(done, None)

    async def _insert(self, rows: list[TokenRow]) -> None:
        async with self.engine.begin() as connection:
            await connection.execute(insert(AccessToken), rows)


def _settle(done: asyncio.Future[None], error: BaseException | None) -> None:
    if done.done():
        return  # its request was cancelled (the client went away); the row is kept
    if error is None:
        done.set_result(None)
    else:
        done.set_exception(error)
