"""One process's connection to Redis, and whether it may be used right now.

Any Redis failure marks the link degraded (logged once, ``redis.unavailable``); callers then
go to the database. A background probe pings Redis until it answers, runs the recovery hooks
(which must succeed before the link is trusted again) and logs ``redis.recovered``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Literal, TypeVar

if TYPE_CHECKING:
    from redis.asyncio import Redis

logger = logging.getLogger("credgate.cache")

T = TypeVar("T")

RedisState = Literal["up", "degraded"]

# A lost Redis must cost a request milliseconds, not seconds: fail fast, then the database.
SOCKET_TIMEOUT_SECONDS = 0.25
PROBE_INTERVAL_SECONDS = 0.5


class RedisLink:
    def __init__(self, url: str) -> None:
        # Imported here, when a Redis URL is configured: without one no process holds redis.
        from redis.asyncio import Redis
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff
        from redis.exceptions import RedisError

        # What a call to Redis raises when Redis is away or failing.
        self.errors: tuple[type[Exception], ...] = (RedisError, OSError)
        self.client: Redis = Redis.from_url(
            url,
            socket_timeout=SOCKET_TIMEOUT_SECONDS,
            socket_connect_timeout=SOCKET_TIMEOUT_SECONDS,
            retry=Retry(NoBackoff(), 0),
        )
        self.state: RedisState = "up"
        self.recovery_hooks: list[Callable[[Redis], Awaitable[object]]] = []
        self._probe: asyncio.Task[None] | None = None

    async def call(self, operation: Callable[[Redis], Awaitable[T]]) -> T | None:
        """The operation's result, or None when Redis is degraded or the operation failed."""
        if self.state != "up":
            return None
        try:
            return await operation(self.client)
        except self.errors as exc:
            self.degrade(exc)
            return None

    def degrade(self, exc: BaseException) -> None:
        if self.state == "degraded":
            return
        self.state = "degraded"
        logger.warning("redis.unavailable", extra={"error": type(exc).__name__})
        self._probe = asyncio.get_running_loop().create_task(self._probe_until_recovered())

    async def _probe_until_recovered(self) -> None:
        while True:
            await asyncio.sleep(PROBE_INTERVAL_SECONDS)
            try:
                await self.client.ping()
                for hook in self.recovery_hooks:
                    await hook(self.client)
            except self.errors:
                continue
            self.state = "up"
            self._probe = None
            logger.info("redis.recovered")
            return

    async def close(self) -> None:
        if self._probe is not None:
            self._probe.cancel()
        await self.client.aclose()
