"""What the fleet tests share: a PostgreSQL database for several servers, one hashing key,
and a clock for how long a change takes to reach another instance."""

from __future__ import annotations

import secrets
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from conftest import LiveServer, shared_test_database_url

SCRIPTS = Path(__file__).parent.parent / "scripts"

# Every instance of a fleet hashes secrets and tokens with the same key.
FLEET_HASH_KEY = secrets.token_hex(32)


def fleet_database() -> Iterator[str]:
    """The run's PostgreSQL database, or on the SQLite pass a scratch one made for the test."""
    shared = shared_test_database_url()
    if shared is not None:
        yield shared
        return
    made = subprocess.run(
        [sys.executable, str(SCRIPTS / "test_database.py"), "create"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if made.returncode == 3:
        pytest.skip("a fleet shares PostgreSQL, and none is reachable")
    made.check_returncode()
    url = made.stdout.strip()
    yield url
    subprocess.run(
        [sys.executable, str(SCRIPTS / "test_database.py"), "drop", url], timeout=60, check=True
    )


def fleet_env(database_url: str | None, redis_url: str | None) -> dict[str, str]:
    env = {"CREDGATE_HASH_KEY": FLEET_HASH_KEY}
    if database_url:
        env["CREDGATE_DATABASE_URL"] = database_url
    if redis_url:
        env["CREDGATE_REDIS_URL"] = redis_url
    return env


def join_fleet(server: LiveServer, redis_url: str | None) -> LiveServer:
    """Seed and manage through this server's settings as its CLI would, with the fleet's
    key and Redis, so changes made that way are announced like the server's own."""
    update = {"hash_key": FLEET_HASH_KEY, "redis_url": redis_url}
    server.settings = server.settings.model_copy(update=update)
    return server


def bearer(token: dict) -> dict[str, str]:  # type: ignore[type-arg]
    return {"Authorization": f"Bearer {token['access_token']}"}


def seconds_until(check: Callable[[], bool], limit: float = 5.0) -> float:
    """How long until ``check()`` holds, polling; ``inf`` when it never does within ``limit``."""
    started = time.monotonic()
    while time.monotonic() - started < limit:
        if check():
            return time.monotonic() - started
        time.sleep(0.01)
    return float("inf")


def status_of(http: httpx.Client, path: str, token: dict) -> int:  # type: ignore[type-arg]
    return http.get(path, headers=bearer(token)).status_code
