"""The client cache: a client and its unrevoked secrets, by client id, for authentication.

Creating a token should not cost two database reads for a client that asked a moment ago.
Entries live while the credential change counter has not moved (``credgate.cache.changes``),
so a disabled client or a revoked secret is refused by every process within a second.

The rows held are detached from any session and shared by concurrent requests: they are
read, never changed. Only secret hashes are held, never a secret.

Known shortcoming: a client id that was used a moment ago is answered from memory and an
unknown one is read from the database, so the two take measurably different times. Client
ids are not secrets (RFC 6749 §2.2), and a wrong secret still takes as long as a right one.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Sequence
from datetime import datetime

from credgate.cache.changes import ChangeWatcher
from credgate.storage import clients as client_store
from credgate.storage.database import AsyncSession, async_sessionmaker
from credgate.storage.models import Client, ClientSecret

MAX_CLIENTS = 10_000
MAX_AGE_SECONDS = 60.0

Credentials = tuple[Client | None, Sequence[ClientSecret]]


async def read_client_credentials(
    session: AsyncSession, client_id: str, now: datetime
) -> Credentials:
    """The client, or None, and its secrets that are usable at ``now``."""
    client = await client_store.find_client(session, client_id)
    if client is None:
        return None, ()
    return client, await client_store.find_usable_secrets(session, client_id, now)


class ClientCache:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], watcher: ChangeWatcher):
        self.sessions = sessions
        self.watcher = watcher
        # client id -> (epoch it was read under, when the read began, client, unrevoked secrets)
        self._entries: OrderedDict[str, tuple[int, float, Client, Sequence[ClientSecret]]] = (
            OrderedDict()
        )

    async def find(self, client_id: str, now: datetime) -> Credentials:
        """Like ``read_client_credentials``, from memory when the entry is still good."""
        entry = self._entries.get(client_id)
        epoch = self.watcher.current_epoch()
        if entry is not None and entry[0] == epoch and _is_young(entry[1]):
            return entry[2], _usable(entry[3], now)

        epoch, started = self.watcher.read_epoch(), time.monotonic()
        async with self.sessions() as session:
            client = await client_store.find_client(session, client_id)
            # Unrevoked rather than usable: expiry is checked on every use, from memory.
            secrets = () if client is None else await _unrevoked_secrets(session, client_id)
        if client is not None:
            self._put(client_id, (epoch, started, client, secrets))
        return client, _usable(secrets, now)

    def _put(
        self, client_id: str, entry: tuple[int, float, Client, Sequence[ClientSecret]]
    ) -> None:
        self._entries[client_id] = entry
        self._entries.move_to_end(client_id)
        while len(self._entries) > MAX_CLIENTS:
            self._entries.popitem(last=False)


async def _unrevoked_secrets(session: AsyncSession, client_id: str) -> Sequence[ClientSecret]:
    return [
        secret
        for secret in await client_store.list_secrets(session, client_id)
        if secret.revoked_at is None
    ]


def _usable(secrets: Sequence[ClientSecret], now: datetime) -> Sequence[ClientSecret]:
    return [s for s in secrets if s.expires_at is None or s.expires_at > now]


def _is_young(read_started: float) -> bool:
    return time.monotonic() - read_started < MAX_AGE_SECONDS
