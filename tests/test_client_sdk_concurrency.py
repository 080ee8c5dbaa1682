"""One auth object shared by many threads and asyncio tasks: one token request per lifetime."""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import httpx

from client_sdk_support import CountingTransport, ca_context, issued_times, log_events, sdk_auth
from conftest import LiveServer, Seeded
from credgate import management
from credgate.client import (
    ClientCredentialsAuth,
    InvalidCredentials,
    RetryPolicy,
    ServerUnavailable,
)

TOKEN_TTL = 3
# The margin must exceed how long a call takes from the SDK handing out the token to the
# server checking it: under this load of threads and tasks in one process that is up to
# some hundreds of milliseconds; a token handed out later would expire on the way.
RENEW_MARGIN = 1.0
WORKERS = 20
PAUSE = 0.05


class Outcomes:
    """Every call's status, or the exception it raised, from any thread or task."""

    def __init__(self) -> None:
        self.statuses: list[int] = []
        self.failures: list[str] = []
        self._guard = threading.Lock()

    def record(self, status: int | None = None, failure: BaseException | None = None) -> None:
        with self._guard:
            if failure is not None:
                self.failures.append(repr(failure))
            elif status != 200:
                self.failures.append(f"HTTP {status}")
            else:
                self.statuses.append(200)


def run_workers(
    server: LiveServer,
    auth: ClientCredentialsAuth,
    path: str,
    seconds: float,
    transport: httpx.HTTPTransport | None = None,
    during: Callable[[], Any] | None = None,
) -> Outcomes:
    """WORKERS threads on one httpx.Client and WORKERS tasks on one httpx.AsyncClient, all
    calling ``path`` through ``auth`` until ``seconds`` have passed; ``during`` runs midway."""
    outcomes = Outcomes()
    deadline = time.monotonic() + seconds
    sync_client = httpx.Client(
        base_url=server.base_url,
        auth=auth,
        transport=transport or httpx.HTTPTransport(verify=ca_context(server)),
        timeout=30,
    )

    def thread_worker() -> None:
        while time.monotonic() < deadline:
            try:
                outcomes.record(sync_client.get(path).status_code)
            except Exception as error:
                outcomes.record(failure=error)
            time.sleep(PAUSE)

    async def task_worker(api: httpx.AsyncClient) -> None:
        while time.monotonic() < deadline:
            try:
                outcomes.record((await api.get(path)).status_code)
            except Exception as error:
                outcomes.record(failure=error)
            await asyncio.sleep(PAUSE)

    async def tasks() -> None:
        async with httpx.AsyncClient(
            base_url=server.base_url, auth=auth, verify=ca_context(server), timeout=30
        ) as api:
            await asyncio.gather(*(task_worker(api) for _ in range(WORKERS)))

    threads = [threading.Thread(target=thread_worker) for _ in range(WORKERS)]
    if during is not None:
        threads.append(threading.Timer(seconds / 3, during))
    for thread in threads:
        thread.start()
    asyncio.run(tasks())
    for thread in threads:
        thread.join()
    sync_client.close()
    return outcomes


def test_threads_and_tasks_sharing_one_auth_cause_one_token_request_per_lifetime(
    server: LiveServer,
) -> None:
    seeded = server.client(token_ttl=TOKEN_TTL)
    user = server.user(seeded.account)
    auth = sdk_auth(server, seeded, renew_margin=RENEW_MARGIN)
    seconds = 2.4 * TOKEN_TTL
    started = time.monotonic()

    outcomes = run_workers(server, auth, f"/api/users/{user}", seconds)

    elapsed = time.monotonic() - started
    issued = issued_times(server, seeded.client_id)
    gaps = [(later - earlier).total_seconds() for earlier, later in itertools.pairwise(issued)]
    period = TOKEN_TTL - RENEW_MARGIN
    assert outcomes.failures == []
    assert len(outcomes.statuses) > 4 * WORKERS
    # Every lifetime got its token, and no period got two: renewal is single flight.
    assert len(issued) >= int(seconds / TOKEN_TTL) + 1 == 3
    assert len(issued) <= int(elapsed / period) + 1
    assert min(gaps) >= period - 0.05
    server.remember_token(auth.get_token().value)


def test_token_revoked_mid_run_is_replaced_once_and_every_call_succeeds(
    server: LiveServer,
) -> None:
    seeded = server.client()
    user = server.user(seeded.account)
    auth = sdk_auth(server, seeded)
    transport = CountingTransport(server)
    revoked = []

    def revoke_current_token() -> None:
        token = auth.get_token()
        revoked.append(token)
        server.run(lambda rt: management.revoke_token(rt, token.token_id, actor="test"))

    outcomes = run_workers(
        server, auth, f"/api/users/{user}", 3.0, transport=transport, during=revoke_current_token
    )

    assert outcomes.failures == []
    assert len(issued_times(server, seeded.client_id)) == 2
    assert auth.get_token().token_id != revoked[0].token_id
    # Each thread meets the revoked token at most once before the replacement reaches it.
    assert 1 <= transport.statuses.count(401) <= WORKERS
    server.remember_token(revoked[0].value)
    server.remember_token(auth.get_token().value)


class _SlowMaintenance(BaseHTTPRequestHandler):
    """A load balancer that takes its time to say the token endpoint is unavailable."""

    hits: ClassVar[list[float]] = []

    def do_POST(self) -> None:
        self.hits.append(time.monotonic())
        time.sleep(0.3)
        self.send_response(503)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        return


def test_threads_and_tasks_waiting_for_a_failed_token_request_share_its_error(
    client: Seeded,
) -> None:
    balancer = ThreadingHTTPServer(("127.0.0.1", 0), _SlowMaintenance)
    threading.Thread(target=balancer.serve_forever, daemon=True).start()
    auth = ClientCredentialsAuth(
        token_url=f"http://127.0.0.1:{balancer.server_port}/oauth/token",
        client_id=client.client_id,
        client_secret=client.client_secret,
        retry=RetryPolicy(attempts=2, backoff=0.2),
    )
    errors: list[BaseException] = []
    start = threading.Barrier(11)

    def thread_call() -> None:
        start.wait()
        try:
            auth.get_token()
        except ServerUnavailable as error:
            errors.append(error)

    async def task_calls() -> None:
        async def one() -> None:
            try:
                await auth.aget_token()
            except ServerUnavailable as error:
                errors.append(error)

        await asyncio.to_thread(start.wait)
        await asyncio.gather(*(one() for _ in range(10)))

    threads = [threading.Thread(target=thread_call) for _ in range(10)]
    for thread in threads:
        thread.start()
    try:
        asyncio.run(task_calls())
        for thread in threads:
            thread.join()
    finally:
        balancer.shutdown()
        balancer.server_close()

    assert len(errors) == 20
    assert len(_SlowMaintenance.hits) == 2  # one flight of two attempts, for all 20 callers
    assert len({id(error) for error in errors}) == 20


def test_many_threads_with_wrong_credentials_share_one_token_request(
    server: LiveServer, client: Seeded
) -> None:
    auth = ClientCredentialsAuth(
        token_url=f"{server.base_url}/oauth/token",
        client_id=client.client_id,
        client_secret=client.client_secret + "x",
        verify=str(server.ca_file),
    )
    start = threading.Barrier(WORKERS)
    errors: list[BaseException] = []

    def call() -> None:
        start.wait()
        try:
            auth.get_token()
        except InvalidCredentials as error:
            errors.append(error)

    threads = [threading.Thread(target=call) for _ in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(errors) == WORKERS
    # Normally one; a thread the scheduler starts only after the failure makes its own.
    assert len(log_events(server, "client.auth_failed", client.client_id)) <= 3
