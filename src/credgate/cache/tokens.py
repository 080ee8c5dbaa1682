"""The token validation cache: what a token's row and its client said, by the token's hash.

Entries are keyed by the keyed hash of the token (never the token) and hold no secret:
ids, scope, times and the client's status. Two layers:

- in the process, while the credential change counter has not moved
  (``credgate.cache.changes``), so a revocation from anywhere (another worker, the CLI,
  another machine) is seen here within a second; the process's own changes clear it at once.
  A process that does not watch the counter (the CLI, a script) reads the database each time;
- with Redis, in Redis, shared by the fleet, valid only under the revocation generation they
  were read under (``credgate.cache.revocation``).

Unknown tokens are not cached: each is one indexed read, as without a cache.
"""

from __future__ import annotations

import json
import secrets
import time
from collections import OrderedDict
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from credgate import metrics
from credgate.cache.changes import ChangeWatcher
from credgate.cache.redis_link import RedisLink
from credgate.storage import tokens as token_store
from credgate.storage.database import AsyncSession
from credgate.storage.models import utcnow

# The counter decides when an entry ends; this only bounds how long an idle one is kept.
LOCAL_MAX_AGE_SECONDS = 60.0
LOCAL_MAX_ENTRIES = 10_000
SHARED_TTL_SECONDS = 60
_KEY_PREFIX = "credgate:token:"
GENERATION_KEY = "credgate:revocation-generation"

_TIMES = ("issued_at", "expires_at", "chain_started_at", "revoked_at")


@dataclass(frozen=True)
class TokenRecord:
    """A token row as validation reads it."""

    token_id: str
    client_id: str
    account_id: str
    scope: str
    issued_at: datetime
    expires_at: datetime
    chain_started_at: datetime
    revoked_at: datetime | None
    secret_id: str | None


@dataclass(frozen=True)
class ClientRecord:
    """The part of the token's client that validation reads."""

    status: str


Found = tuple[TokenRecord, ClientRecord]


def _record(found: tuple[Any, Any]) -> Found:
    token, client = found
    fields = {name: getattr(token, name) for name in TokenRecord.__dataclass_fields__}
    return TokenRecord(**fields), ClientRecord(status=client.status)


def _encode(found: Found, generation: int, changes: int) -> str:
    token, client = found
    fields: dict[str, Any] = asdict(token)
    for name in _TIMES:
        fields[name] = fields[name].isoformat() if fields[name] is not None else None
    document = {"token": fields, "client_status": client.status, "gen": generation}
    return json.dumps({**document, "changes": changes})


def _decode(raw: bytes | str) -> tuple[Found, int, int | None]:
    document = json.loads(raw)
    fields = document["token"]
    for name in _TIMES:
        fields[name] = datetime.fromisoformat(fields[name]) if fields[name] else None
    found = (TokenRecord(**fields), ClientRecord(status=document["client_status"]))
    return found, int(document["gen"]), document.get("changes")


class TokenCache:
    def __init__(self, redis: RedisLink | None, watcher: ChangeWatcher | None = None) -> None:
        self.redis = redis
        self.watcher = watcher or ChangeWatcher()
        # token hash -> (epoch it was read under, when the read began, what it found)
        self._local: OrderedDict[str, tuple[int, float, Found]] = OrderedDict()
        # Announcements of this process's own changes still on their way to Redis: until
        # they land, shared entries may predate them, so Redis is not read.
        self.shared_fence = 0

    def forget_local(self) -> None:
        self.watcher.forget()
        self._local.clear()

    def find_locally(self, token_hash: str) -> Found | None:
        """What this process holds of the token while it is trusted, else None: no I/O.

        A miss is not counted here: the caller goes on to ``find_token_by_hash``, which
        looks again and counts it, so each lookup counts once in the metrics.
        """
        return self._local_get(token_hash, count_miss=False)

    async def find_token_by_hash(self, session: AsyncSession, token_hash: str) -> Found | None:
        """The token and its client as ``storage.tokens.find_token_by_hash`` would read them."""
        found = self._local_get(token_hash)
        if found is not None:
            return found

        # Counts and epoch are taken before the read: a change during it retires the entry.
        epoch, started, changes = self.watcher.read_epoch(), time.monotonic(), self._changes_seen()
        generation, found = await self._shared_get(token_hash, changes)
        if found is None:
            row = await token_store.find_token_by_hash(session, token_hash)
            if row is None:
                return None
            found = _record(row)
            if generation is not None and changes is not None:
                await self._shared_put(token_hash, found, generation, changes)
        self._local_put(token_hash, found, epoch, started)
        return found

    def _local_get(self, token_hash: str, count_miss: bool = True) -> Found | None:
        epoch = self.watcher.current_epoch()
        if epoch is None:
            return None  # the change counter is not being read: nothing here is trusted
        entry = self._local.get(token_hash)
        hit = (
            entry is not None
            and entry[0] == epoch
            and time.monotonic() - entry[1] < LOCAL_MAX_AGE_SECONDS
        )
        if hit or count_miss:
            metrics.count_cache_lookup("local", hit)
        return entry[2] if entry is not None and hit else None

    def _local_put(self, token_hash: str, found: Found, epoch: int, read_started: float) -> None:
        # The epoch is the one current before the read: a change during it retires the entry.
        self._local[token_hash] = (epoch, read_started, found)
        self._local.move_to_end(token_hash)
        while len(self._local) > LOCAL_MAX_ENTRIES:
            self._local.popitem(last=False)

    async def _shared_get(
        self, token_hash: str, changes: int | None
    ) -> tuple[int | None, Found | None]:
        """(current generation, entry if valid under it); (None, None) without Redis."""
        if self.redis is None or self.shared_fence or changes is None:
            return None, None
        key = _KEY_PREFIX + token_hash
        values = await self.redis.call(lambda redis: redis.mget(GENERATION_KEY, key))
        if values is None:
            return None, None
        if values[0] is None:
            metrics.count_cache_lookup("redis", False)
            await self._start_generation()
            return None, None
        generation = int(values[0])
        found: Found | None = None
        if values[1] is not None:
            cached, cached_generation, cached_changes = _decode(values[1])
            # Both counts must still hold: Redis's, and the database's as this process last
            # read it, which moves even when the change's author could not reach Redis.
            if cached_generation == generation and cached_changes == changes:
                found = cached
        metrics.count_cache_lookup("redis", found is not None)
        return generation, found

    def _changes_seen(self) -> int | None:
        """The database's change count as last read, while it is still trusted."""
        if self.watcher.current_epoch() is None:
            return None
        return self.watcher.generation

    async def _start_generation(self) -> None:
        """A new or emptied Redis: start the generation at a random number, not at 0, so an
        entry left from before the key was lost (evicted, say) cannot match it by chance."""
        if self.redis is None:
            return
        start = secrets.randbelow(2**62)
        await self.redis.call(lambda redis: redis.set(GENERATION_KEY, start, nx=True))

    async def _shared_put(
        self, token_hash: str, found: Found, generation: int, changes: int
    ) -> None:
        if self.redis is None:
            return
        remaining = (found[0].expires_at - utcnow()).total_seconds()
        ttl = max(1, min(SHARED_TTL_SECONDS, int(remaining) + 1))
        value = _encode(found, generation, changes)
        await self.redis.call(lambda redis: redis.set(_KEY_PREFIX + token_hash, value, ex=ttl))


async def find_validation_facts(
    session: AsyncSession, token_hash: str, cache: TokenCache | None
) -> Found | None:
    """Through the cache when there is one, else straight from the database."""
    if cache is not None:
        return await cache.find_token_by_hash(session, token_hash)
    row = await token_store.find_token_by_hash(session, token_hash)
    return None if row is None else _record(row)
