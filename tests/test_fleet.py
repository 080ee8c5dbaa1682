"""Two ``credgate serve`` instances sharing PostgreSQL and Redis behave as one service.

A change made through one instance (or the CLI) must hold on the other within a second;
each test measures how long it takes, polling the other instance every 10 ms.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from conftest import LiveServer, Seeded, start_server, stop_server
from credgate import management
from fleet_support import bearer, fleet_database, fleet_env, join_fleet, seconds_until, status_of
from private_redis import PrivateRedis, private_redis
from test_metrics import METRICS_KEY, sample, scrape

WITHIN = 1.0
USERS = "/api/users"


@dataclass
class Fleet:
    one: LiveServer
    other: LiveServer


@pytest.fixture(scope="module")
def database() -> Iterator[str]:
    yield from fleet_database()


@pytest.fixture(scope="module")
def redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateRedis]:
    yield from private_redis(tmp_path_factory.mktemp("fleet-redis"))


@pytest.fixture(scope="module")
def fleet(
    tmp_path_factory: pytest.TempPathFactory, database: str, redis: PrivateRedis
) -> Iterator[Fleet]:
    env = fleet_env(database, redis.url)
    env |= {"CREDGATE_METRICS": "true", "CREDGATE_METRICS_TOKEN": METRICS_KEY}
    first, one = start_server(tmp_path_factory.mktemp("one"), env)
    second, other = start_server(tmp_path_factory.mktemp("other"), env)
    yield Fleet(join_fleet(one, redis.url), join_fleet(other, redis.url))
    stop_server(first)
    stop_server(second)


def warm(http: httpx.Client, token: dict, times: int = 3) -> None:  # type: ignore[type-arg]
    """Validate a few times, so both cache layers of that instance hold the token."""
    for _ in range(times):
        assert status_of(http, USERS, token) == 200


def test_token_issued_by_one_is_accepted_by_the_other(fleet: Fleet) -> None:
    seeded = fleet.one.client()
    token = fleet.one.token(seeded)

    with fleet.other.http() as http:
        answer = http.get(f"/oauth/tokens/{token['token_id']}", headers=bearer(token))

    assert answer.status_code == 200
    assert answer.json()["client_id"] == seeded.client_id


def test_token_validated_on_one_is_served_to_the_other_from_redis(fleet: Fleet) -> None:
    token = fleet.one.token(fleet.one.client())
    with fleet.one.http() as one:
        assert status_of(one, USERS, token) == 200
    hits = sample(scrape(fleet.other), "credgate_cache_lookups_total", cache="redis", result="hit")

    with fleet.other.http() as other:
        assert status_of(other, USERS, token) == 200
    text = scrape(fleet.other)

    assert sample(text, "credgate_cache_lookups_total", cache="redis", result="hit") == hits + 1


def test_token_revoked_on_one_is_refused_by_the_other_within_a_second(fleet: Fleet) -> None:
    seeded = fleet.one.client()
    token = fleet.one.token(seeded)
    with fleet.other.http() as other, fleet.one.http() as one:
        warm(other, token)
        revoked = one.post(
            "/oauth/revoke",
            data={"token": token["access_token"]},
            auth=(seeded.client_id, seeded.client_secret),
        )
        delay = seconds_until(lambda: status_of(other, USERS, token) == 401)

    print(f"revoked on one, refused by the other after {delay:.3f} s")
    assert revoked.status_code == 200
    assert delay < WITHIN


def test_token_revoked_by_id_is_refused_by_the_other_within_a_second(fleet: Fleet) -> None:
    seeded = fleet.one.client()
    token = fleet.one.token(seeded)
    with fleet.other.http() as other, fleet.one.http() as one:
        warm(other, token)
        revoked = one.delete(f"/oauth/tokens/{token['token_id']}", headers=bearer(token))
        delay = seconds_until(lambda: status_of(other, USERS, token) == 401)

    assert revoked.status_code == 204
    assert delay < WITHIN


def test_client_revoked_through_one_ends_its_tokens_on_the_other(fleet: Fleet) -> None:
    seeded = fleet.one.client()
    tokens = [fleet.one.token(seeded), fleet.other.token(seeded)]
    with fleet.other.http() as other:
        for token in tokens:
            warm(other, token)
        fleet.one.run(lambda rt: management.revoke_client(rt, seeded.client_id, actor="test"))
        delays = [
            seconds_until(lambda token=token: status_of(other, USERS, token) == 401)
            for token in tokens
        ]

    print(f"client revoked, its tokens refused by the other after {max(delays):.3f} s")
    assert max(delays) < WITHIN


def _token_status(server: LiveServer, seeded: Seeded, secret: str) -> int:
    with server.http() as http:
        answer = http.post(
            "/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(seeded.client_id, secret),
        )
    if answer.status_code == 200:
        server.remember_token(answer.json()["access_token"])
    return answer.status_code


def test_secret_rotated_on_one_stops_on_the_other_when_its_overlap_ends(fleet: Fleet) -> None:
    seeded = fleet.one.client()
    grace = 2
    rotated_at = time.monotonic()  # the rotation commits a moment later; run() then waits
    rotated = fleet.one.run(
        lambda rt: management.rotate_secret(rt, seeded.client_id, grace=grace, actor="test")
    )
    new_secret = fleet.one.remember_secret(rotated.client_secret)

    during = _token_status(fleet.other, seeded, seeded.client_secret)
    new_on_other = _token_status(fleet.other, seeded, new_secret)
    ended = seconds_until(
        lambda: _token_status(fleet.other, seeded, seeded.client_secret) == 401, limit=grace + 3
    )
    ended_after = time.monotonic() - rotated_at

    assert (during, new_on_other) == (200, 200)
    assert grace - 0.5 <= ended_after < grace + WITHIN
    assert ended < float("inf")
    assert _token_status(fleet.other, seeded, new_secret) == 200


def test_renewed_token_ends_on_the_other_when_its_overlap_ends(fleet: Fleet) -> None:
    seeded = fleet.one.client()
    token = fleet.one.token(seeded)
    overlap = fleet.one.settings.renewal_overlap
    with fleet.other.http() as other, fleet.one.http() as one:
        warm(other, token)
        renewed = one.post(f"/oauth/tokens/{token['token_id']}/renew", headers=bearer(token))
        fleet.one.remember_token(renewed.json()["access_token"])
        renewed_at = time.monotonic()
        ended = seconds_until(lambda: status_of(other, USERS, token) == 401, limit=overlap + 3)
        fresh = status_of(other, USERS, renewed.json())

    assert renewed.status_code == 200
    assert ended < overlap + WITHIN
    assert time.monotonic() - renewed_at >= overlap - 0.5
    assert fresh == 200


# --- one instance, two worker processes -----------------------------------------------------


@pytest.fixture(params=["with-redis", "without-redis"])
def workers(
    request: pytest.FixtureRequest, tmp_path: Path, database: str, redis: PrivateRedis
) -> Iterator[LiveServer]:
    redis_url = redis.url if request.param == "with-redis" else None
    env = fleet_env(database, redis_url)
    process, live = start_server(tmp_path, env, serve_args=("--workers", "2"))
    yield join_fleet(live, redis_url)
    stop_server(process)


def _fresh_connection_status(server: LiveServer, token: dict) -> int:  # type: ignore[type-arg]
    # A new connection each time: the kernel hands connections to either worker.
    with server.http() as http:
        return status_of(http, USERS, token)


def _sample_fresh_connections(
    server: LiveServer,
    token: dict,  # type: ignore[type-arg]
    seconds: float,
) -> list[tuple[float, int]]:
    """(seconds since the start when the answer came, status) for ``seconds`` of requests."""
    started = time.monotonic()
    samples = []
    while time.monotonic() - started < seconds:
        status = _fresh_connection_status(server, token)
        samples.append((time.monotonic() - started, status))
    return samples


def test_revocation_reaches_every_worker_within_a_second(workers: LiveServer) -> None:
    seeded = workers.client()
    token = workers.token(seeded)
    before = [_fresh_connection_status(workers, token) for _ in range(10)]
    with workers.http() as http:
        revoked = http.delete(f"/oauth/tokens/{token['token_id']}", headers=bearer(token))

    # Until the bound has passed, a worker that has not yet heard may still serve the token;
    # so sample for a while past it, each time on a new connection, which either worker may
    # take, and look at when the token was last served and what the late samples say.
    samples = _sample_fresh_connections(workers, token, seconds=WITHIN + 0.5)
    last_served = max((at for at, status in samples if status == 200), default=0.0)
    late = [status for at, status in samples if at >= WITHIN]

    print(f"revoked, last served {last_served:.3f} s after, {len(samples)} samples")
    assert before == [200] * 10
    assert revoked.status_code == 204
    assert last_served < WITHIN
    assert len(late) >= 10
    assert set(late) == {401}
