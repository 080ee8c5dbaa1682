"""Prometheus metrics: off by default, behind a bearer key when one is set, counting what
users and operators rely on, summed over workers, and never showing a secret."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client import REGISTRY

from conftest import LiveServer, start_server, stop_server
from credgate.metrics import count_rate_limited
from private_redis import PrivateRedis, private_redis

METRICS_KEY = "metrics-key-for-tests-0123456789"


@pytest.fixture(scope="module")
def redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateRedis]:
    yield from private_redis(tmp_path_factory.mktemp("redis"))


@pytest.fixture(scope="module")
def metered(tmp_path_factory: pytest.TempPathFactory, redis: PrivateRedis) -> Iterator[LiveServer]:
    tmp = tmp_path_factory.mktemp("metrics")
    env = {"CREDGATE_METRICS": "true", "CREDGATE_METRICS_TOKEN": METRICS_KEY}
    env["CREDGATE_REDIS_URL"] = redis.url
    process, live = start_server(tmp, env)
    yield live
    stop_server(process)


def scrape(server: LiveServer) -> str:
    with server.http() as http:
        answer = http.get("/metrics", headers={"Authorization": f"Bearer {METRICS_KEY}"})
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    return answer.text


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one series, 0 when it has not appeared yet."""
    for line in text.splitlines():
        match = re.fullmatch(rf"{name}\{{(.*)\}} (\S+)", line)
        if match is None:
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', match.group(1)))
        if all(found.get(key) == value for key, value in labels.items()):
            return float(match.group(2))
    return 0.0


def test_metrics_are_off_by_default(http: httpx.Client) -> None:
    assert http.get("/metrics").status_code == 404


@pytest.mark.parametrize(
    "authorization", [None, "Bearer wrong-key", f"Basic {METRICS_KEY}", "Bearer"]
)
def test_metrics_key_is_required(metered: LiveServer, authorization: str | None) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    with metered.http() as http:
        answer = http.get("/metrics", headers=headers)

    assert answer.status_code == 401
    assert answer.headers["www-authenticate"].startswith("Bearer")
    assert "credgate_" not in answer.text


def test_tokens_issued_and_refused_are_counted_by_client(metered: LiveServer) -> None:
    seeded = metered.client(scope="users:read")
    before = scrape(metered)

    metered.token(seeded)
    with metered.http() as http:
        bad_scope = http.post(
            "/oauth/token",
            data={"grant_type": "client_credentials", "scope": "users:write"},
            auth=(seeded.client_id, seeded.client_secret),
        )
        bad_secret = http.post(
            "/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(seeded.client_id, "cg_sk_not_the_secret"),
        )
    after = scrape(metered)

    assert (bad_scope.status_code, bad_secret.status_code) == (400, 401)
    issued = {"client": seeded.client_id, "grant": "client_credentials"}
    assert sample(after, "credgate_tokens_issued_total", **issued) == 1
    refused = {"reason": "invalid_scope", "client": seeded.client_id}
    assert sample(after, "credgate_tokens_refused_total", **refused) == 1
    # An unauthenticated caller is never a label: it could name any client id it likes.
    unknown = {"reason": "invalid_client", "client": ""}
    assert sample(after, "credgate_tokens_refused_total", **unknown) == (
        sample(before, "credgate_tokens_refused_total", **unknown) + 1
    )


def test_latency_is_recorded_per_route_template(metered: LiveServer) -> None:
    seeded = metered.client()
    token = metered.token(seeded)
    with metered.http() as http:
        for _ in range(3):
            answer = http.get(
                f"/oauth/tokens/{token['token_id']}",
                headers={"Authorization": f"Bearer {token['access_token']}"},
            )
            assert answer.status_code == 200
        http.get("/no/such/path")
    text = scrape(metered)

    route = {"route": "/oauth/tokens/{token_id}", "method": "GET", "status": "200"}
    assert sample(text, "credgate_request_duration_seconds_count", **route) >= 3
    assert sample(text, "credgate_request_duration_seconds_count", route="unmatched") >= 1
    assert token["token_id"] not in text
    assert "/no/such/path" not in text


def test_cache_lookups_and_database_pool_are_reported(metered: LiveServer) -> None:
    seeded = metered.client()
    token = metered.token(seeded)
    with metered.http() as http:
        for _ in range(3):
            http.get("/api/users", headers={"Authorization": f"Bearer {token['access_token']}"})
    text = scrape(metered)

    # The first call misses both layers; the next ones hit this process's layer.
    assert sample(text, "credgate_cache_lookups_total", cache="local", result="miss") >= 1
    assert sample(text, "credgate_cache_lookups_total", cache="redis", result="miss") >= 1
    assert sample(text, "credgate_cache_lookups_total", cache="local", result="hit") >= 1
    assert sample(text, "credgate_database_pool_connections", state="idle") >= 1


def test_no_secret_token_or_key_appears_in_metrics(metered: LiveServer) -> None:
    seeded = metered.client()
    token = metered.token(seeded)
    text = scrape(metered)

    for secret in (seeded.client_secret, token["access_token"], METRICS_KEY):
        assert secret not in text


def test_rate_limit_rejections_have_a_counter_to_increment() -> None:
    labels = {"limit": "token_endpoint"}
    before = REGISTRY.get_sample_value("credgate_rate_limited_total", labels) or 0.0

    count_rate_limited("token_endpoint")

    assert REGISTRY.get_sample_value("credgate_rate_limited_total", labels) == before + 1


def _worker_pids(directory: Path) -> set[str]:
    """The workers that have written metrics: files are named ``<kind>_<pid>.db``."""
    return {path.stem.rsplit("_", 1)[-1] for path in directory.glob("credgate-metrics-*/*.db")}


def test_metrics_of_every_worker_are_summed(tmp_path: Path) -> None:
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = {"CREDGATE_METRICS": "true", "CREDGATE_METRICS_TOKEN": METRICS_KEY}
    env["TMPDIR"] = str(scratch)
    process, live = start_server(tmp_path, env, serve_args=("--workers", "2"))
    try:
        seeded = live.client()
        issued = 0
        # A new connection each time; the kernel hands them to either worker, so go on
        # until both have counted some.
        while issued < 6 or (len(_worker_pids(scratch)) < 2 and issued < 100):
            live.token(seeded)
            issued += 1
        workers = _worker_pids(scratch)
        scrapes = [scrape(live) for _ in range(4)]
    finally:
        stop_server(process)

    counted = [
        sample(text, "credgate_tokens_issued_total", client=seeded.client_id) for text in scrapes
    ]
    assert len(workers) == 2
    assert counted == [issued] * 4
    assert list(scratch.iterdir()) == []  # the run's metrics directory is gone
    assert not os.environ.get("PROMETHEUS_MULTIPROC_DIR")
