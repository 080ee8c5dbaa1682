"""Rate limits on the token endpoint and the API, and per-client network allowlists.

The server trusts 127.0.0.1 as a proxy, so each test speaks from source addresses of its own
with ``X-Forwarded-For``, exactly as clients behind a load balancer appear to the server.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis

from conftest import LiveServer, Seeded, free_port, start_server, stop_server
from credgate import management
from credgate.config import Settings
from credgate.credentials import generate_client_id, generate_client_secret
from credgate.oauth2.errors import InvalidClient
from credgate.oauth2.rate_limits import RateLimiter
from test_cli import cli, cli_json

FAILURES_PER_CLIENT = 3
FAILURES_PER_ADDRESS = 6
API_CALLS = 5

_addresses = (f"198.51.100.{n}" for n in itertools.count(1))


def new_address() -> str:
    return next(_addresses)


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    process, live = start_server(
        tmp_path_factory.mktemp("limited"),
        {
            "CREDGATE_TRUSTED_PROXIES": "127.0.0.1",
            "CREDGATE_AUTH_FAILURE_LIMIT": f"{FAILURES_PER_CLIENT}/minute",
            "CREDGATE_AUTH_FAILURE_LIMIT_PER_ADDRESS": f"{FAILURES_PER_ADDRESS}/minute",
            "CREDGATE_API_RATE_LIMIT": f"{API_CALLS}/minute",
        },
    )
    yield live
    stop_server(process)


def seeded_client(
    server: LiveServer, *, token_quota: int | None = None, networks: tuple[str, ...] = ()
) -> Seeded:
    account = server.account()
    new = server.run(
        lambda rt: management.create_client(
            rt,
            account_name=account,
            name="limited client",
            scope="users:read",
            actor="test",
            token_quota=token_quota,
            allowed_networks=networks,
        )
    )
    server.remember_secret(new.client_secret)
    return Seeded(new.client.client_id, new.client_secret, account)


def ask_token(http: httpx.Client, client_id: str, secret: str, address: str) -> httpx.Response:
    return http.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(client_id, secret),
        headers={"X-Forwarded-For": address},
    )


def remember(server: LiveServer, response: httpx.Response) -> httpx.Response:
    if response.status_code == 200:
        server.remember_token(response.json()["access_token"])
    return response


def seeded_token(server: LiveServer, http: httpx.Client, seeded: Seeded, address: str) -> int:
    answer = ask_token(http, seeded.client_id, seeded.client_secret, address)
    return remember(server, answer).status_code


def assert_slow_down(response: httpx.Response, window: int) -> None:
    assert response.status_code == 429, response.text
    assert response.json()["error"] == "slow_down"
    assert 1 <= int(response.headers["Retry-After"]) <= window
    assert response.headers["Cache-Control"] == "no-store"


def test_repeated_wrong_secrets_lock_the_client_id_with_429_and_retry_after(
    limited: LiveServer,
) -> None:
    target = seeded_client(limited)
    address = new_address()
    with limited.http() as http:
        for _ in range(FAILURES_PER_CLIENT):
            wrong = ask_token(http, target.client_id, generate_client_secret(), address)
            assert wrong.status_code == 401

        # From another address too, and even with the right secret: the id is cooling down.
        locked = ask_token(http, target.client_id, target.client_secret, new_address())

    assert_slow_down(locked, 60)
    assert "request.rate_limited" in limited.log_file.read_text()


def test_one_locked_client_never_blocks_another_client_from_the_same_address(
    limited: LiveServer,
) -> None:
    locked, other = seeded_client(limited), seeded_client(limited)
    address = new_address()
    with limited.http() as http:
        for _ in range(FAILURES_PER_CLIENT + 1):
            ask_token(http, locked.client_id, generate_client_secret(), address)
        answer = remember(limited, ask_token(http, other.client_id, other.client_secret, address))

    assert answer.status_code == 200, answer.text


def test_failures_from_one_address_with_unknown_ids_lock_that_address_only(
    limited: LiveServer,
) -> None:
    prober, bystander = new_address(), new_address()
    client = seeded_client(limited)
    with limited.http() as http:
        answers = [
            ask_token(http, generate_client_id(), generate_client_secret(), prober).status_code
            for _ in range(FAILURES_PER_ADDRESS + 1)
        ]
        refused = ask_token(http, client.client_id, client.client_secret, prober)
        allowed = remember(
            limited, ask_token(http, client.client_id, client.client_secret, bystander)
        )

    assert answers == [401] * FAILURES_PER_ADDRESS + [429]
    assert_slow_down(refused, 60)
    assert allowed.status_code == 200, allowed.text


def test_hourly_token_quota_of_a_client_ends_in_429_and_spares_other_clients(
    limited: LiveServer,
) -> None:
    quota_client, free_client = seeded_client(limited, token_quota=2), seeded_client(limited)
    address = new_address()
    with limited.http() as http:
        first = [
            remember(
                limited,
                ask_token(http, quota_client.client_id, quota_client.client_secret, address),
            ).status_code
            for _ in range(3)
        ]
        others = [
            remember(
                limited, ask_token(http, free_client.client_id, free_client.client_secret, address)
            ).status_code
            for _ in range(3)
        ]
        over = ask_token(http, quota_client.client_id, quota_client.client_secret, address)

    assert first == [200, 200, 429]
    assert others == [200, 200, 200]
    assert_slow_down(over, 3600)


def test_api_calls_past_the_client_limit_get_429_while_other_clients_go_on(
    limited: LiveServer,
) -> None:
    busy, quiet = seeded_client(limited), seeded_client(limited)
    address = new_address()
    with limited.http() as http:
        busy_token = remember(
            limited, ask_token(http, busy.client_id, busy.client_secret, address)
        ).json()["access_token"]
        quiet_token = remember(
            limited, ask_token(http, quiet.client_id, quiet.client_secret, address)
        ).json()["access_token"]
        statuses = [
            http.get("/api/users", headers={"Authorization": f"Bearer {busy_token}"}).status_code
            for _ in range(API_CALLS + 1)
        ]
        last = http.get("/api/users", headers={"Authorization": f"Bearer {busy_token}"})
        quiet_answer = http.get("/api/users", headers={"Authorization": f"Bearer {quiet_token}"})

    assert statuses == [200] * API_CALLS + [429]
    assert_slow_down(last, 60)
    assert quiet_answer.status_code == 200


@pytest.mark.parametrize(
    ("address", "status"),
    [("10.1.2.3", 200), ("192.168.7.9", 200), ("192.0.2.1", 401), ("::1", 401)],
)
def test_allowed_networks_admit_tokens_from_inside_and_refuse_the_rest_as_invalid_client(
    limited: LiveServer, address: str, status: int
) -> None:
    client = seeded_client(limited, networks=("10.0.0.0/8", "192.168.0.0/16"))
    with limited.http() as http:
        answer = remember(
            limited, ask_token(http, client.client_id, client.client_secret, address)
        )

    assert answer.status_code == status, answer.text
    if status == 401:
        assert answer.json()["error"] == "invalid_client"
        assert answer.headers["WWW-Authenticate"].startswith("Basic")
        assert wait_for_log(limited, "network_not_allowed", client.client_id)


def wait_for_log(server: LiveServer, *parts: str) -> bool:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        for line in server.log_file.read_text().splitlines():
            if all(part in line for part in parts):
                return True
        time.sleep(0.05)
    return False


def test_cli_creates_a_client_with_a_quota_and_networks(limited: LiveServer) -> None:
    account = limited.account()
    created = cli_json(
        "clients", "create", "--account", account, "--name", "office only",
        "--token-quota", "50",
        "--allowed-network", "10.0.0.0/8",
        "--allowed-network", "2001:db8::/32",
        env=limited.env,
    )  # fmt: skip

    assert created["token_quota_per_hour"] == 50
    assert created["allowed_networks"] == ["10.0.0.0/8", "2001:db8::/32"]
    listed = cli_json("clients", "list", "--account", account, env=limited.env)
    assert listed[0]["allowed_networks"] == ["10.0.0.0/8", "2001:db8::/32"]


@pytest.mark.parametrize("argument", [("--allowed-network", "10.0.0/33"), ("--token-quota", "0")])
def test_cli_refuses_a_bad_network_or_quota_and_creates_nothing(
    limited: LiveServer, argument: tuple[str, str]
) -> None:
    account = limited.account()
    args = ("clients", "create", "--account", account, "--name", "bad", *argument)

    result = cli(*args, env=limited.env)

    assert result.returncode != 0
    assert cli_json("clients", "list", "--account", account, env=limited.env) == []


# --- the limiter itself, on its real storages ------------------------------------------------


def test_failures_of_unknown_client_ids_leave_no_counter_behind() -> None:
    async def main() -> RateLimiter:
        limiter = RateLimiter(Settings(auth_failure_limit="2/minute"))
        for _ in range(5):
            failure = InvalidClient(reason="unknown_client")
            await limiter.record_failure(failure, generate_client_id(), None)
            await limiter.check_failures(generate_client_id(), None)
        return limiter

    limiter = asyncio.run(main())

    storage = limiter.counters.memory.storage
    assert not storage.storage  # type: ignore[attr-defined]


def test_the_server_quota_applies_to_clients_without_one_of_their_own() -> None:
    async def main() -> list[bool]:
        limiter = RateLimiter(Settings(token_quota_per_hour=2))
        outcomes = []
        for client_id in ["cgc_a", "cgc_a", "cgc_a", "cgc_b"]:
            try:
                await limiter.check_token_quota(client_id, None)
                outcomes.append(True)
            except Exception:
                outcomes.append(False)
        return outcomes

    assert asyncio.run(main()) == [True, True, False, True]


# --- shared counters in Redis, and what happens when Redis goes away -----------------------


class PrivateRedis:
    """A redis-server of the test's own on a free port, which it may stop and start."""

    def __init__(self, root: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.skip("redis-server is not installed")
        self.binary = binary
        self.port = free_port()
        self.root = root
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        args = ["--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--dir"]
        self.process = subprocess.Popen(
            [self.binary, *args, str(self.root), "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                client.ping()
                return
            except redis.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


@pytest.fixture(scope="module")
def private_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateRedis]:
    instance = PrivateRedis(tmp_path_factory.mktemp("redis"))
    instance.start()
    yield instance
    instance.stop()


def test_with_redis_counters_are_shared_and_an_outage_fails_open_with_one_warning(
    tmp_path: Path, private_redis: PrivateRedis
) -> None:
    process, live = start_server(
        tmp_path,
        {"CREDGATE_REDIS_URL": private_redis.url, "CREDGATE_TOKEN_QUOTA_PER_HOUR": "2"},
    )
    try:
        client = live.client(scope="users:read")
        with live.http() as http:
            statuses = [
                remember(live, ask_token(http, client.client_id, client.client_secret, "x"))
                for _ in range(3)
            ]
            keys = redis.Redis(port=private_redis.port).keys("credgate-limits*")

            private_redis.stop()
            during = [
                remember(
                    live, ask_token(http, client.client_id, generate_client_secret(), "x")
                ).status_code
                for _ in range(3)
            ]
            fresh = live.client(scope="users:read")
            issued = remember(live, ask_token(http, fresh.client_id, fresh.client_secret, "x"))
            private_redis.start()
    finally:
        stop_server(process)

    assert [answer.status_code for answer in statuses] == [200, 200, 429]
    assert any(client.client_id.encode() in key for key in keys)
    assert during == [401, 401, 401]
    assert issued.status_code == 200, issued.text
    warnings = [
        json.loads(line)
        for line in live.log_file.read_text().splitlines()
        if "rate_limit.storage_unavailable" in line
    ]
    assert len(warnings) == 1
    assert warnings[0]["level"] == "WARNING"
