"""Redis goes away during a run and comes back: answers stay right throughout.

The server uses a private redis-server that the test stops and starts. Meanwhile tokens are
issued, validated and revoked from the database; the outage is logged once and shown on
/readyz; when Redis returns the server uses it again, and nothing it cached before the
outage outlives a revocation made during it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from conftest import LiveServer, start_server, stop_server
from fleet_support import bearer, fleet_env, join_fleet, seconds_until, status_of
from private_redis import PrivateRedis, private_redis
from test_metrics import METRICS_KEY, sample, scrape

USERS = "/api/users"


@pytest.fixture(scope="module")
def redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateRedis]:
    # It keeps its keys over the restart, as a Redis that was only unreachable would.
    yield from private_redis(tmp_path_factory.mktemp("outage-redis"), persistent=True)


@pytest.fixture(scope="module")
def cached(tmp_path_factory: pytest.TempPathFactory, redis: PrivateRedis) -> Iterator[LiveServer]:
    env = fleet_env(None, redis.url)
    env |= {"CREDGATE_METRICS": "true", "CREDGATE_METRICS_TOKEN": METRICS_KEY}
    process, live = start_server(tmp_path_factory.mktemp("cached"), env)
    yield join_fleet(live, redis.url)
    stop_server(process)


def events(server: LiveServer, name: str) -> list[dict]:  # type: ignore[type-arg]
    lines = server.log_file.read_text().splitlines()
    found = [json.loads(line) for line in lines if line.startswith("{")]
    return [line for line in found if line["event"] == name]


def redis_state(server: LiveServer) -> tuple[int, str]:
    with server.http() as http:
        answer = http.get("/readyz")
    return answer.status_code, answer.json()["redis"]


def revoke(http: httpx.Client, token: dict) -> int:  # type: ignore[type-arg]
    return http.delete(f"/oauth/tokens/{token['token_id']}", headers=bearer(token)).status_code


def test_shared_cache_serves_validation_while_redis_is_up(cached: LiveServer) -> None:
    token = cached.token(cached.client())
    with cached.http() as http:
        statuses = [status_of(http, USERS, token) for _ in range(3)]
    text = scrape(cached)

    assert statuses == [200, 200, 200]
    assert redis_state(cached) == (200, "up")
    assert sample(text, "credgate_cache_lookups_total", cache="redis", result="miss") >= 1


def test_redis_outage_keeps_answers_right_and_recovers(
    cached: LiveServer, redis: PrivateRedis
) -> None:
    seeded = cached.client()
    before = cached.token(seeded)
    kept = cached.token(seeded)
    with cached.http() as http:
        for token in (before, kept):
            assert status_of(http, USERS, token) == 200  # now in the shared cache

        redis.stop()
        during = cached.token(seeded)
        statuses = [status_of(http, USERS, token) for token in (before, kept, during)]
        revoked = revoke(http, before)
        refused_at_once = status_of(http, USERS, before)
        degraded = redis_state(cached)
        unavailable_lines = len(events(cached, "redis.unavailable"))
        for _ in range(5):  # more requests in the outage log nothing more
            status_of(http, USERS, during)

        hits_before = sample(scrape(cached), "credgate_cache_lookups_total", cache="redis")
        redis.start()
        recovered_in = seconds_until(lambda: redis_state(cached) == (200, "up"))
        after = [status_of(http, USERS, token) for token in (before, kept, during)]
        hits_after = sample(scrape(cached), "credgate_cache_lookups_total", cache="redis")

    assert statuses == [200, 200, 200]
    assert (revoked, refused_at_once) == (204, 401)
    assert degraded == (200, "degraded")
    assert unavailable_lines == 1
    assert len(events(cached, "redis.unavailable")) == 1
    assert events(cached, "redis.unavailable")[0]["level"] == "WARNING"
    assert recovered_in < 3
    assert len(events(cached, "redis.recovered")) == 1
    # Revoked while Redis was away, and cached in Redis before: still refused after.
    assert after == [401, 200, 200]
    assert hits_after > hits_before


def _config_show(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("CREDGATE_")}
    return subprocess.run(
        [sys.executable, "-m", "credgate", "config", "show", "--json"],
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_redis_url_that_is_not_one_stops_start_up_naming_the_setting(tmp_path: Path) -> None:
    shown = _config_show(
        {"CREDGATE_DATA_DIR": str(tmp_path), "CREDGATE_REDIS_URL": "http://cache:6379"}
    )

    assert shown.returncode == 1
    assert "CREDGATE_REDIS_URL" in shown.stderr


def test_config_show_masks_the_redis_password_and_the_metrics_key(tmp_path: Path) -> None:
    env = {
        "CREDGATE_DATA_DIR": str(tmp_path),
        "CREDGATE_REDIS_URL": "redis://:redis-password-123@cache.internal:6379/2",
        "CREDGATE_METRICS": "true",
        "CREDGATE_METRICS_TOKEN": "metrics-key-456",
    }
    shown = _config_show(env)

    settings = json.loads(shown.stdout)["settings"]
    assert settings["redis_url"].startswith("redis://")
    assert settings["redis_url"].endswith("@cache.internal:6379/2")
    assert settings["metrics"] is True
    assert "redis-password-123" not in shown.stdout
    assert "metrics-key-456" not in shown.stdout
