"""Rate limits and quotas on the token endpoint and the protected API.

Counters live in Redis when ``CREDGATE_REDIS_URL`` is set, so that every instance shares them,
and in the process otherwise. A Redis outage never stops token issuance: the limiter falls
back to counting in memory, says so once, and tries Redis again every few seconds.

Keys name the thing limited (a client id, a source address), so one client's spent limit
never touches another's. Failures are counted per client id only for ids that exist, which
bounds the memory an attacker can make the server spend on made-up ids.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from limits import RateLimitItem, RateLimitItemPerHour, parse
from limits.aio.storage import MemoryStorage, RedisStorage
from limits.aio.strategies import FixedWindowRateLimiter
from limits.errors import StorageError
from starlette.requests import HTTPConnection

from credgate.config import Settings
from credgate.credentials import looks_like_client_id
from credgate.metrics import count_rate_limited
from credgate.oauth2.client_auth import (
    ClientLookup,
    authenticate_client_secret,
    validate_source_network,
)
from credgate.oauth2.endpoints import client_address, runtime_of
from credgate.oauth2.errors import InvalidClient, SlowDown
from credgate.oauth2.requests import ClientCredentials
from credgate.storage.models import Client, ClientSecret

logger = logging.getLogger("credgate.limits")

T = TypeVar("T")

_REDIS_RETRY_SECONDS = 10.0
_REDIS_TIMEOUT_SECONDS = 0.25
_KEY_PREFIX = "credgate-limits"


class _Counters:
    """The rate-limit strategy over Redis, falling back to memory while Redis is down."""

    def __init__(self, redis_url: str | None) -> None:
        self.memory = FixedWindowRateLimiter(MemoryStorage())
        self.redis: FixedWindowRateLimiter | None = None
        if redis_url:
            storage = RedisStorage(
                "async+" + redis_url,
                implementation="redispy",
                wrap_exceptions=True,
                key_prefix=_KEY_PREFIX,
                socket_timeout=_REDIS_TIMEOUT_SECONDS,
                socket_connect_timeout=_REDIS_TIMEOUT_SECONDS,
            )
            self.redis = FixedWindowRateLimiter(storage)
        self.redis_down_until = 0.0

    async def run(self, operation: Callable[[FixedWindowRateLimiter], Awaitable[T]]) -> T:
        if self.redis is not None and time.monotonic() >= self.redis_down_until:
            try:
                result = await operation(self.redis)
            except StorageError as exc:
                self._redis_failed(exc)
            else:
                self._redis_answered()
                return result
        return await operation(self.memory)

    def _redis_failed(self, exc: StorageError) -> None:
        if self.redis_down_until == 0.0:
            # One line per outage: counting goes on in memory, per process, meanwhile.
            logger.warning(
                "rate_limit.storage_unavailable",
                extra={"error": type(exc.storage_error).__name__, "fallback": "memory"},
            )
        self.redis_down_until = time.monotonic() + _REDIS_RETRY_SECONDS

    def _redis_answered(self) -> None:
        if self.redis_down_until != 0.0:
            logger.info("rate_limit.storage_restored")
            self.redis_down_until = 0.0


@dataclass(frozen=True)
class Limit:
    """One limit: its name in logs and metrics, its rate, and the key space it counts in."""

    name: str
    item: RateLimitItem


class RateLimiter:
    """The limits of one process, from its settings."""

    def __init__(self, settings: Settings) -> None:
        self.enabled = settings.rate_limits
        self.counters = _Counters(settings.redis_url)
        self.failures_per_client = Limit(
            "auth_failures_client", parse(settings.auth_failure_limit)
        )
        self.failures_per_address = Limit(
            "auth_failures_address", parse(settings.auth_failure_limit_per_address)
        )
        self.api = Limit("api", parse(settings.api_rate_limit))
        self.default_quota = settings.token_quota_per_hour

    async def _has_room(self, limit: Limit, key: str) -> bool:
        return await self.counters.run(lambda counter: counter.test(limit.item, limit.name, key))

    async def _count(self, limit: Limit, key: str) -> bool:
        """Count one request under ``limit``; False when there was no room for it."""
        return await self.counters.run(lambda counter: counter.hit(limit.item, limit.name, key))

    async def _refuse(self, limit: Limit, key: str, **log: str | None) -> SlowDown:
        stats = await self.counters.run(
            lambda counter: counter.get_window_stats(limit.item, limit.name, key)
        )
        retry_after = math.ceil(stats.reset_time - time.time())
        count_rate_limited(limit.name)
        logger.warning(
            "request.rate_limited",
            extra={"limit": limit.name, "retry_after": retry_after, **log},
        )
        return SlowDown("too many requests: retry later", retry_after=retry_after)

    # --- the token endpoint ----------------------------------------------------------------
    async def check_failures(self, client_id: str, address: str | None) -> None:
        """Refuse a client id or address that failed to authenticate too often of late.

        Read-only, and the same work for ids that exist and ids that do not, so neither
        the answer's timing nor the memory it takes depends on the id being real.
        """
        if not self.enabled:
            return
        client_id = _client_key(client_id)
        if not await self._has_room(self.failures_per_client, client_id):
            # The id is logged only once known: a refusal here means it failed for real.
            raise await self._refuse(self.failures_per_client, client_id, client_id=client_id)
        if address is not None and not await self._has_room(self.failures_per_address, address):
            raise await self._refuse(self.failures_per_address, address, source_address=address)

    async def record_failure(
        self, failure: InvalidClient, client_id: str, address: str | None
    ) -> None:
        """Count a failed authentication against its address, and its client id if real."""
        if not self.enabled:
            return
        client_id = _client_key(client_id)
        if address is not None:
            await self._count(self.failures_per_address, address)
        if failure.reason in _CLIENT_UNKNOWN:
            # A read in place of the write keeps an unknown id as slow as a known one.
            await self._has_room(self.failures_per_client, client_id)
            return
        await self._count(self.failures_per_client, client_id)

    async def check_token_quota(self, client_id: str, quota: int | None) -> None:
        """Count a successful Create Token against the client's hourly quota."""
        quota = quota if quota is not None else self.default_quota
        if not self.enabled or quota is None:
            return
        limit = Limit("token_quota", RateLimitItemPerHour(quota))
        if not await self._count(limit, client_id):
            raise await self._refuse(limit, client_id, client_id=client_id)

    # --- the protected API -----------------------------------------------------------------
    async def check_api(self, client_id: str) -> None:
        """Count one API call of the client; refuse it past ``CREDGATE_API_RATE_LIMIT``."""
        if not self.enabled:
            return
        if not await self._count(self.api, client_id):
            raise await self._refuse(self.api, client_id, client_id=client_id)


def _client_key(client_id: str) -> str:
    # A value without a client id's shape may be a secret sent in the wrong field: it never
    # becomes part of a key, not even one only read (Redis would see it on the wire).
    return client_id if looks_like_client_id(client_id) else "not-a-client-id"


# Failures that say nothing of a real client: these never create a per-client counter.
_CLIENT_UNKNOWN = {None, "unknown_client", "malformed_secret", "malformed_client_id"}


def install_rate_limiter(state: object, settings: Settings) -> RateLimiter:
    limiter = RateLimiter(settings)
    state.rate_limiter = limiter  # type: ignore[attr-defined]
    return limiter


def rate_limiter_of(connection: HTTPConnection) -> RateLimiter:
    limiter: RateLimiter = connection.app.state.rate_limiter
    return limiter


async def authenticate_within_limits(
    request: HTTPConnection, credentials: ClientCredentials, now: datetime, lookup: ClientLookup
) -> tuple[Client, ClientSecret]:
    """Client authentication behind the failure limits and the client's network allowlist.

    The source address is the proxy-resolved one: uvicorn's proxy-headers middleware takes it
    from ``X-Forwarded-For`` only when the direct peer is a trusted proxy.
    """
    runtime = runtime_of(request)
    limiter = rate_limiter_of(request)
    address = client_address(request)
    await limiter.check_failures(credentials.client_id, address)
    try:
        client, secret = await authenticate_client_secret(lookup, runtime.hasher, credentials, now)
        validate_source_network(client, credentials, address)
    except InvalidClient as failure:
        await limiter.record_failure(failure, credentials.client_id, address)
        raise
    return client, secret
