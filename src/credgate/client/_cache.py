"""Shared token caches, so several processes on a host use one token instead of one each.

A cache stores the token itself: whoever can read the cache can call the API as the client
until the token expires. The file cache keeps tokens in a directory only its owner can read
(0700, files 0600); the Redis cache relies on Redis's own access control. Neither is used
unless asked for. Entries are keyed by a SHA-256 of token URL, client id and scope, never by
anything derived from the secret.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from credgate.client._token import Token

if TYPE_CHECKING:
    import redis


def cache_key(token_url: str, client_id: str, scope: str | None) -> str:
    """The key of a client's token in a shared cache: a SHA-256, never the secret.

    ```python
    cache_key("https://auth.example.com/oauth/token", "cgc_...", "users:read")
    ```
    """
    material = json.dumps([token_url, client_id, scope or ""])
    return hashlib.sha256(material.encode()).hexdigest()


class TokenCache(Protocol):
    """What a shared token cache offers the auth object.

    ``lock`` is held across load, token request and save, so of all the processes sharing the
    cache only one asks the server for a token at a time. Any object with these three methods
    will do, e.g. one backed by memcached:

    ```python
    class MemcachedTokenCache:
        def load(self, key): ...
        def save(self, key, token): ...
        def lock(self, key): ...

    auth = ClientCredentialsAuth.from_env(cache=MemcachedTokenCache())
    ```
    """

    def load(self, key: str) -> Token | None: ...

    def save(self, key: str, token: Token) -> None: ...

    def lock(self, key: str) -> contextlib.AbstractContextManager[Any]: ...


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "credgate" / "tokens"


class FileTokenCache:
    """Tokens in files of a private directory, guarded by a lock file (``filelock``).

    ```python
    auth = ClientCredentialsAuth.from_env(cache=FileTokenCache())
    ```

    The directory defaults to ``$XDG_CACHE_HOME/credgate/tokens`` (``~/.cache/...``).
    """

    def __init__(self, directory: str | os.PathLike[str] | None = None, timeout: float = 60):
        self.directory = Path(directory) if directory is not None else default_cache_dir()
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"FileTokenCache(directory={str(self.directory)!r})"

    def _path(self, key: str, suffix: str) -> Path:
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        return self.directory / f"{key}{suffix}"

    def load(self, key: str) -> Token | None:
        """The stored token, or ``None`` when there is none or it is unreadable."""
        try:
            text = self._path(key, ".json").read_text()
            return Token.from_dict(json.loads(text))
        except (OSError, ValueError):
            return None

    def save(self, key: str, token: Token) -> None:
        """Store the token: written to a 0600 temporary file, then renamed into place, so a
        reader never sees half a token."""
        target = self._path(key, ".json")
        descriptor, temporary = tempfile.mkstemp(dir=self.directory, prefix=".tmp-")
        try:
            with os.fdopen(descriptor, "w") as file:
                json.dump(token.to_dict(), file)
            os.replace(temporary, target)
        except BaseException:
            os.unlink(temporary)
            raise

    @contextlib.contextmanager
    def lock(self, key: str) -> Iterator[None]:
        """An exclusive lock between processes for this key."""
        import filelock

        path = self._path(key, ".lock")
        with filelock.FileLock(str(path), timeout=self.timeout, mode=0o600):
            yield


class RedisTokenCache:
    """Tokens in Redis, guarded by a Redis lock, for processes on one host or a fleet.

    ```python
    auth = ClientCredentialsAuth.from_env(
        cache=RedisTokenCache("redis://127.0.0.1:6379/0")
    )
    ```

    Entries expire with their token. Hosts sharing a Redis cache should keep their clocks in
    sync: a token's expiry is stored on the clock of the host that received it.
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        client: redis.Redis | None = None,
        prefix: str = "credgate:client-token:",
        timeout: float = 60,
    ) -> None:
        if client is None:
            import redis as redis_module

            client = redis_module.Redis.from_url(url or "redis://127.0.0.1:6379/0")
        self.redis = client
        self.prefix = prefix
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"RedisTokenCache(prefix={self.prefix!r})"

    def load(self, key: str) -> Token | None:
        """The stored token, or ``None``."""
        raw = self.redis.get(self.prefix + key)
        if raw is None:
            return None
        try:
            return Token.from_dict(json.loads(raw))
        except ValueError:
            return None

    def save(self, key: str, token: Token) -> None:
        """Store the token until it expires."""
        remaining_ms = int((token.expires_at - time.time()) * 1000)
        if remaining_ms > 0:
            self.redis.set(self.prefix + key, json.dumps(token.to_dict()), px=remaining_ms)

    def lock(self, key: str) -> contextlib.AbstractContextManager[Any]:
        """A Redis lock for this key that frees itself if its holder dies."""
        lock: contextlib.AbstractContextManager[Any] = self.redis.lock(
            self.prefix + key + ":lock", timeout=self.timeout, blocking_timeout=self.timeout
        )
        return lock
