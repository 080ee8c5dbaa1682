"""How a change to credentials reaches every cache: a counter in the database, and in Redis.

Any committed transaction that updated or deleted a token, client, secret or account row
(revoke, renew, client revoke, rotate, purge, whatever path did it) is a credential change.

- In the database, the same transaction moves the ``credential_changes`` counter on
  (``credgate.storage.changes``). Every server process reads it a few times a second and
  empties its own caches when it moves (``credgate.cache.changes``): this holds with or
  without Redis, for changes made by any process, the CLI included.
- With Redis, once committed the change also increments a generation number there. Entries
  of the shared token cache record the generation they were read under and are used only
  while it is still current, so one increment retires every shared entry fleet-wide at once.
  The increment is also published, and every server process empties its own caches at once
  instead of at its next read of the counter.

The Redis increment comes after the commit on purpose: an instance reading the database
before the commit stores its entry under the old generation, which the increment retires;
one reading after it sees the change itself.

If the increment cannot reach Redis, the link is degraded and its recovery increments the
generation before Redis is used again. An instance cut off from Redis while the others
still reach it cannot move the generation, but its changes still move the database's
counter, and shared entries carry the count they were read under: the others stop using
them within a second all the same.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction

from credgate.cache.redis_link import RedisLink
from credgate.cache.tokens import GENERATION_KEY, TokenCache
from credgate.storage.changes import count_change
from credgate.storage.models import AccessToken, Account, Client, ClientSecret

if TYPE_CHECKING:
    from redis.asyncio import Redis

# Accounts too: deleting one removes its clients and tokens through the database's cascade,
# which no ORM event sees.
_WATCHED_MODELS = (Account, AccessToken, Client, ClientSecret)
_WATCHED_TABLES = frozenset(model.__tablename__ for model in _WATCHED_MODELS)
_BROADCAST = "credgate.broadcast"
_CHANGED = "credgate.credentials_changed"
_QUIET = "credgate.unannounced"
# Published after each increment: processes clear their own layer at once on hearing it,
# instead of waiting out its lifetime. A lost message costs only that wait.
CHANNEL = "credgate:revocations"
LISTEN_RETRY_SECONDS = 1.0


class RevocationBroadcast:
    """Told of every committed change to credentials; tells this process and the fleet."""

    def __init__(self, cache: TokenCache, link: RedisLink | None) -> None:
        self.cache = cache
        self.link = link
        self._pending: set[asyncio.Task[None]] = set()
        self._listener: asyncio.Task[None] | None = None
        if link is not None:
            link.recovery_hooks.append(_advance)

    def credentials_changed(self) -> None:
        # This process forgets at once, so a revocation answered here holds for the very next
        # request; the fleet hears of it as soon as Redis has the new generation.
        self.cache.forget_local()
        if self.link is not None:
            self.cache.shared_fence += 1
            task = asyncio.get_running_loop().create_task(self.announce())
            self._pending.add(task)
            task.add_done_callback(self._announced)

    async def announce(self) -> None:
        """Move the generation on: every instance's shared cache entries are retired."""
        if self.link is not None:
            await self.link.call(_advance)

    def _announced(self, task: asyncio.Task[None]) -> None:
        self._pending.discard(task)
        self.cache.shared_fence -= 1

    def start_listening(self) -> None:
        """In a server process: clear this process's layer whenever another one announces."""
        if self.link is not None and self._listener is None:
            self._listener = asyncio.get_running_loop().create_task(self._listen())

    async def _listen(self) -> None:
        while self.link is not None:
            try:
                await self._listen_once(self.link.client)
            except self.link.errors:
                # Redis is away: entries of this layer still end within their lifetime.
                await asyncio.sleep(LISTEN_RETRY_SECONDS)

    async def _listen_once(self, client: Redis) -> None:
        async with client.pubsub(ignore_subscribe_messages=True) as pubsub:
            await pubsub.subscribe(CHANNEL)
            # Anything announced while not subscribed is covered by clearing now.
            self.cache.forget_local()
            while True:
                message = await pubsub.get_message(timeout=LISTEN_RETRY_SECONDS)
                if message is not None:
                    self.cache.forget_local()

    def session_info(self) -> dict[str, Any]:
        """Put on every session of the runtime, so the listeners know whom to tell."""
        return {_BROADCAST: self}

    async def flush(self) -> None:
        """Wait for announcements in flight (a CLI command must not exit before them)."""
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)

    async def close(self) -> None:
        await self.flush()
        if self._listener is not None:
            self._listener.cancel()


async def _advance(client: Redis) -> None:
    await client.incr(GENERATION_KEY)
    await client.publish(CHANNEL, b"changed")


def announce_nothing(session: AsyncSession) -> None:
    """Let this session's changes pass unannounced.

    For writes that cannot change a validation answer (last-use times, deleting rows that
    had already ended): announcing them would empty every cache of the fleet for nothing.
    """
    session.sync_session.info[_QUIET] = True


def _watches(session: Session) -> bool:
    return _QUIET not in session.info


@event.listens_for(Session, "do_orm_execute")
def _note_bulk_change(state: ORMExecuteState) -> None:
    if not (state.is_update or state.is_delete) or not _watches(state.session):
        return
    table = getattr(state.statement, "table", None)
    if getattr(table, "name", None) in _WATCHED_TABLES:
        state.session.info[_CHANGED] = True


@event.listens_for(Session, "before_flush")
def _note_changed_rows(session: Session, _flush: UOWTransaction, _instances: Any) -> None:
    if not _watches(session):
        return
    changed = [*session.dirty, *session.deleted]
    if any(isinstance(row, _WATCHED_MODELS) for row in changed):
        session.info[_CHANGED] = True


@event.listens_for(Session, "before_commit")
def _count_change(session: Session) -> None:
    # Every session counts its changes in the database, whatever made it (a server, the CLI,
    # a script on the library): that count is what other processes' caches watch.
    if not _watches(session):
        return
    session.flush()  # pending rows are noted by the flush, so flush before looking
    if session.info.get(_CHANGED):
        count_change(session)


@event.listens_for(Session, "after_commit")
def _announce_after_commit(session: Session) -> None:
    if session.info.pop(_CHANGED, False) and _BROADCAST in session.info:
        broadcast: RevocationBroadcast = session.info[_BROADCAST]
        broadcast.credentials_changed()


@event.listens_for(Session, "after_rollback")
def _forget_rolled_back(session: Session) -> None:
    session.info.pop(_CHANGED, None)
