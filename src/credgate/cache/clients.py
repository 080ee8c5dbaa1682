"""The client cache: a client and its unrevoked secrets, by client id, for authentication.

Creating a token should not cost two database reads for a client that asked a moment ago.
Entries live while the credential change counter has not moved (``credgate.cache.changes``),
so a disabled client or a revoked secret is refused by every process within a second.

The rows held are detached from any session and shared by concurrent requests: they are
read, never changed. Only secret hashes are held, never a secret.

Only a success is decided from memory. A refusal (unknown client, wrong secret, client not
active) is decided on a fresh read, so every refusal costs the same database work whether
the id exists or not, and a secret just rotated in elsewhere works at once.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from credgate.cache.changes import ChangeWatcher
from credgate.storage import clients as client_store
from credgate.storage.database import AsyncSession, async_sessionmaker
from credgate.storage.models import Client, ClientSecret

MAX_CLIENTS = 10_000
MAX_AGE_SECONDS = 60.0


@dataclass(frozen=True)
class ClientFound:
    """A client, or None, with its secrets usable now, as a lookup found them."""

    client: Client | None
    secrets: Sequence[ClientSecret]
    fresh: bool  # read from the database by this lookup, not remembered


async def _read(session: AsyncSession, client_id: str) -> tuple[Client | None, list[ClientSecret]]:
    # Both reads, even for an unknown id: refusing one takes the same work as a known one.
    client = await client_store.find_client(session, client_id)
    secrets = [s for s in await client_store.list_secrets(session, client_id) if not s.revoked_at]
    return client, secrets


async def read_client_credentials(
    session: AsyncSession, client_id: str, now: datetime
) -> ClientFound:
    """The client, or None, and its secrets usable at ``now``, read in ``session``."""
    client, secrets = await _read(session, client_id)
    return ClientFound(client, _usable(secrets, now), fresh=True)


class ClientCache:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], watcher: ChangeWatcher):
        self.sessions = sessions
        self.watcher = watcher
        # client id -> (epoch it was read under, when the read began, client, unrevoked secrets)
        self._entries: OrderedDict[str, _Entry] = OrderedDict()

    async def find(self, client_id: str, now: datetime, fresh: bool = False) -> ClientFound:
        """Like ``read_client_credentials``; from memory when the entry is still good, unless
        ``fresh`` asks for the database's word."""
        entry = self._entries.get(client_id)
        if not fresh and entry is not None and self._is_good(entry):
            return ClientFound(entry[2], _usable(entry[3], now), fresh=False)

        epoch, started = self.watcher.read_epoch(), time.monotonic()
        async with self.sessions() as session:
            client, secrets = await _read(session, client_id)
        if client is not None:
            self._put(client_id, (epoch, started, client, secrets))
        return ClientFound(client, _usable(secrets, now), fresh=True)

    def _is_good(self, entry: _Entry) -> bool:
        young = time.monotonic() - entry[1] < MAX_AGE_SECONDS
        return young and entry[0] == self.watcher.current_epoch()

    def _put(self, client_id: str, entry: _Entry) -> None:
        self._entries[client_id] = entry
        self._entries.move_to_end(client_id)
        while len(self._entries) > MAX_CLIENTS:
            self._entries.popitem(last=False)


_Entry = tuple[int, float, Client, Sequence[ClientSecret]]


def _usable(secrets: Sequence[ClientSecret], now: datetime) -> Sequence[ClientSecret]:
    # Expiry is checked on every use, from memory: an entry outlives no secret's expiry.
    return [s for s in secrets if s.expires_at is None or s.expires_at > now]
