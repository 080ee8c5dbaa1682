"""The database goes away under load and comes back: 503s meanwhile, no 500, no lost token.

The server runs on a private PostgreSQL that the test crashes (immediate stop, no checkpoint)
and restarts while threads keep asking for tokens and calling the API. Every token handed out
before, during and after must validate afterwards: a token is answered only once committed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from conftest import LiveServer, Seeded, start_server, stop_server
from private_postgres import PrivatePostgres

THREADS = 4


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass
class Outcome:
    at: float
    kind: str
    status: int
    headers: httpx.Headers
    body: dict  # type: ignore[type-arg]


@pytest.fixture(scope="module")
def postgres() -> Iterator[PrivatePostgres]:
    instance = PrivatePostgres()
    instance.start()
    yield instance
    instance.remove()


@pytest.fixture(scope="module")
def outage_server(
    postgres: PrivatePostgres, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    # start_server migrates the database it is given, as `credgate migrate` would.
    tmp = tmp_path_factory.mktemp("outage")
    process, live = start_server(tmp, {"CREDGATE_DATABASE_URL": postgres.url})
    yield live
    stop_server(process)


def _hammer(
    server: LiveServer,
    seeded: Seeded,
    user_path: str,
    api_token: str,
    stop: threading.Event,
    outcomes: list[Outcome],
) -> None:
    with server.http() as http:
        while not stop.is_set():
            response = http.post(
                "/oauth/token",
                data={"grant_type": "client_credentials"},
                auth=(seeded.client_id, seeded.client_secret),
            )
            outcomes.append(
                Outcome(
                    time.monotonic(),
                    "token",
                    response.status_code,
                    response.headers,
                    response.json(),
                )
            )
            response = http.get(user_path, headers=bearer(api_token))
            outcomes.append(
                Outcome(
                    time.monotonic(),
                    "api",
                    response.status_code,
                    response.headers,
                    response.json(),
                )
            )


def test_database_restart_under_load_gives_503s_and_loses_no_token(
    outage_server: LiveServer, postgres: PrivatePostgres
) -> None:
    server = outage_server
    seeded = server.client()
    user_path = f"/api/users/{server.user(seeded.account)}"
    api_token = server.token(seeded)["access_token"]
    outcomes: list[Outcome] = []
    stop = threading.Event()
    threads = [
        threading.Thread(
            target=_hammer, args=(server, seeded, user_path, api_token, stop, outcomes)
        )
        for _ in range(THREADS)
    ]

    for thread in threads:
        thread.start()
    time.sleep(1.5)
    postgres.stop("immediate")
    down_at = time.monotonic()
    time.sleep(2)
    postgres.start()
    up_at = time.monotonic()
    time.sleep(2.5)
    stop.set()
    for thread in threads:
        thread.join(timeout=60)

    statuses = {outcome.status for outcome in outcomes}
    assert statuses <= {200, 503}, statuses
    unavailable = [outcome for outcome in outcomes if outcome.status == 503]
    assert unavailable, "the outage was not seen"
    for outcome in unavailable:
        assert outcome.body["error"] == "temporarily_unavailable"
        assert int(outcome.headers["retry-after"]) > 0
        assert outcome.headers["content-type"] == "application/json"
    issued = [o for o in outcomes if o.kind == "token" and o.status == 200]
    assert any(o.at < down_at for o in issued), "no token before the outage"
    assert any(o.at > up_at + 0.5 for o in issued), "the service did not recover"
    assert any(o.kind == "api" and o.status == 200 and o.at > up_at + 0.5 for o in outcomes)

    with server.http() as http:
        for outcome in issued:
            token = server.remember_token(outcome.body["access_token"])
            described = http.get(
                f"/oauth/tokens/{outcome.body['token_id']}", headers=bearer(token)
            )
            assert described.status_code == 200, described.text
            assert http.get(user_path, headers=bearer(token)).status_code == 200


def test_a_request_while_the_database_is_down_gets_503_json(
    outage_server: LiveServer, postgres: PrivatePostgres
) -> None:
    seeded = outage_server.client()
    postgres.stop("fast")
    try:
        with outage_server.http() as http:
            response = http.post(
                "/oauth/token",
                data={"grant_type": "client_credentials"},
                auth=(seeded.client_id, seeded.client_secret),
            )
            health = http.get("/healthz")
    finally:
        postgres.start()

    assert response.status_code == 503
    assert response.json() == {
        "error": "temporarily_unavailable",
        "error_description": "the database is unavailable",
    }
    assert response.headers["retry-after"] == "5"
    assert response.headers["cache-control"] == "no-store"
    assert health.status_code == 200  # the process itself is alive
    assert '"event": "database.unavailable"' in outage_server.log_file.read_text()
    assert outage_server.token(seeded)["token_type"] == "Bearer"
