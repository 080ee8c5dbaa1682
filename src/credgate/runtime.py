"""What one credgate process holds: its settings, database engine and hashing key."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from credgate.cache.changes import ChangeWatcher
from credgate.cache.clients import ClientCache
from credgate.cache.redis_link import RedisLink
from credgate.cache.revocation import RevocationBroadcast
from credgate.cache.tokens import TokenCache
from credgate.config import Settings
from credgate.credentials import CredentialHasher
from credgate.storage.database import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_engine,
    create_sessionmaker,
)
from credgate.storage.reads import Reads
from credgate.storage.token_writer import TokenWriter

_KEY_FILE = "hash.key"


def load_hash_key(settings: Settings) -> bytes:
    """The server key for hashing secrets and tokens, created on first run when not set.

    Losing or changing this key invalidates every stored secret and token, so it is written
    once, readable by its owner only, and never printed.
    """
    if settings.hash_key:
        return bytes.fromhex(settings.hash_key)
    path = settings.data_dir / _KEY_FILE
    if not path.exists():
        _write_private_file(path, secrets.token_hex(32))
    return bytes.fromhex(path.read_text().strip())


def _write_private_file(path: Path, content: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(content)


@dataclass
class Runtime:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    hasher: CredentialHasher = field(repr=False)
    redis: RedisLink | None
    token_cache: TokenCache
    broadcast: RevocationBroadcast
    clients: ClientCache
    token_writer: TokenWriter
    reads: Reads

    @classmethod
    def start(cls, settings: Settings) -> Runtime:
        engine = create_engine(settings.resolved_database_url)
        redis = RedisLink(settings.redis_url) if settings.redis_url else None
        watcher = ChangeWatcher()
        token_cache = TokenCache(redis, watcher)
        broadcast = RevocationBroadcast(token_cache, redis)
        sessions = create_sessionmaker(engine)
        sessions.configure(info=broadcast.session_info())
        return cls(
            settings=settings,
            engine=engine,
            sessions=sessions,
            hasher=CredentialHasher(load_hash_key(settings)),
            redis=redis,
            token_cache=token_cache,
            broadcast=broadcast,
            clients=ClientCache(sessions, watcher),
            token_writer=TokenWriter(engine),
            reads=Reads(engine),
        )

    @property
    def redis_state(self) -> str:
        """``absent`` (not configured), ``up`` or ``degraded`` (answering from the database)."""
        return "absent" if self.redis is None else self.redis.state

    def start_watching(self) -> None:
        """In a server process: keep the caches, which only a watching process trusts."""
        self.token_cache.watcher.start(self.engine)

    async def close(self) -> None:
        await self.token_writer.close()
        await self.token_cache.watcher.stop()
        await self.broadcast.close()
        if self.redis is not None:
            await self.redis.close()
        await self.reads.close()
        await self.engine.dispose()
