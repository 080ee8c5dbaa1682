"""Measurements wrk cannot make: revocation spread over workers, the SDK's own overhead, and
local JWT verification through the resource kit."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from credgate.client import ClientCredentialsAuth
from credgate.oauth2.jwt_tokens import read_header
from credgate.resource import JwtVerifier


async def _get(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes) -> int:
    writer.write(request)
    status_line = await reader.readline()
    length = 0
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        if name.lower() == "content-length":
            length = int(value)
    await reader.readexactly(length)
    return int(status_line.split()[1])


async def _revocation_round(
    base_url: str, port: int, basic: tuple[str, str], user_id: str, connections: int
) -> float:
    async with httpx.AsyncClient(base_url=base_url, auth=basic) as api:
        answer = await api.post("/oauth/token", data={"grant_type": "client_credentials"})
        token = answer.json()["access_token"]
        request = (
            f"GET /api/users/{user_id} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: Bearer {token}\r\n\r\n"
        ).encode()
        revoked_at: list[float] = []
        last_accepted = [float("-inf")] * connections

        async def hammer(index: int) -> None:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            try:
                while True:
                    sent = time.monotonic()
                    status = await _get(reader, writer, request)
                    if status == 200:
                        last_accepted[index] = sent
                    elif revoked_at and status == 401:
                        return
                    elif status != 401:
                        raise RuntimeError(f"unexpected status {status}")
            finally:
                writer.close()

        tasks = [asyncio.create_task(hammer(n)) for n in range(connections)]
        await asyncio.sleep(1.0)
        answer = await api.post("/oauth/revoke", data={"token": token})
        answer.raise_for_status()
        revoked_at.append(time.monotonic())
        await asyncio.wait_for(asyncio.gather(*tasks), timeout=30)
    # A request sent after the revocation's answer and still accepted is the lag we look for.
    return max(0.0, max(last_accepted) - revoked_at[0])


def revocation_lag(
    base_url: str, port: int, basic: tuple[str, str], user_id: str, connections: int, rounds: int
) -> list[float]:
    """Seconds, per round, from the revocation's answer until no connection is served.

    Every connection sends bearer GETs back to back; the kernel spreads connections over the
    workers, so with several connections per worker every worker is asked.
    """
    return [
        asyncio.run(_revocation_round(base_url, port, basic, user_id, connections))
        for _ in range(rounds)
    ]


@dataclass(frozen=True)
class SdkOverhead:
    """Microseconds per call: the SDK's own work on a cached token, and the client's CPU per
    GET through httpx with the SDK and bare."""

    own_us: float
    sdk_get_us: float
    bare_get_us: float


def sdk_overhead(
    hello_url: str, token_url: str, basic: tuple[str, str], calls: int, rounds: int
) -> SdkOverhead:
    """What the SDK adds per call once its token is cached.

    Its own work (the cached token's check and the header) is timed alone; then GETs with and
    without it are timed in CPU, not wall time, as the server's pace moves wall time by more
    than the SDK costs. The difference of the GETs includes httpx running an auth flow at all.
    """
    auth = ClientCredentialsAuth(
        token_url=token_url, client_id=basic[0], client_secret=basic[1], scope="users:read"
    )
    bare_times: list[float] = []
    sdk_times: list[float] = []
    with httpx.Client() as bare, httpx.Client(auth=auth) as sdk:
        sdk.get(hello_url).raise_for_status()  # fetches and caches the token
        for _ in range(rounds):
            for client, times in ((bare, bare_times), (sdk, sdk_times)):
                start = time.process_time()
                for _ in range(calls):
                    client.get(hello_url)
                times.append((time.process_time() - start) / calls * 1e6)

    def own_work(n: int) -> None:
        headers: dict[str, str] = {}
        for _ in range(n):
            headers["Authorization"] = f"Bearer {auth.get_token().value}"

    own = _cpu_us_per_call(own_work, 0.5, rounds)
    return SdkOverhead(own, statistics.median(sdk_times), statistics.median(bare_times))


@dataclass(frozen=True)
class JwtVerification:
    """Median CPU microseconds per local verification, blocking and async, per call of a token
    the verifier remembers, and the key's alg."""

    sync_us: float
    async_us: float
    remembered_us: float
    algorithm: str


def _cpu_us_per_call(call: Callable[[int], None], seconds: float, rounds: int) -> float:
    """Median CPU µs per call of ``call(n)`` (n calls in a loop), rounds of about ``seconds``."""
    calls, spent = 100, 0.0
    while spent < seconds / 10:  # find the pace on short loops, then size the rounds by it
        calls *= 4
        start = time.process_time()
        call(calls)
        spent = time.process_time() - start
    calls = max(1, int(calls * seconds / spent))
    times = []
    for _ in range(rounds):
        start = time.process_time()
        call(calls)
        times.append((time.process_time() - start) / calls * 1e6)
    return statistics.median(times)


def jwt_verification(
    issuer: str, token: str, client_id: str, seconds: float, rounds: int
) -> JwtVerification:
    """Verify the same JWT again and again with the kit's ``JwtVerifier``, in this process.

    The first verification fetches the issuer's metadata and JWKS; every later one is local.
    ``sync_us`` and ``async_us`` are full checks (signature, then claims: the verifier is told
    to remember no token); ``remembered_us`` is a later call of a token the verifier has
    remembered, as a client's reused token is. Times are CPU time of this process (one core's
    worth of work), so the other processes on the machine do not count.
    """
    with JwtVerifier(issuer, max_cached_tokens=0) as verifier:
        if verifier.verify_sync(token).client_id != client_id:
            raise RuntimeError("the verified token names another client")
        algorithm = str(read_header(token)["alg"])
        sync_us = _cpu_us_per_call(_blocking(verifier, token), seconds, rounds)
        async_us = _cpu_us_per_call(_awaiting(verifier, token), seconds, rounds)
    with JwtVerifier(issuer) as verifier:
        verifier.verify_sync(token)
        remembered_us = _cpu_us_per_call(_awaiting(verifier, token), seconds, rounds)
    return JwtVerification(sync_us, async_us, remembered_us, algorithm)


def _blocking(verifier: JwtVerifier, token: str) -> Callable[[int], None]:
    def blocking(calls: int) -> None:
        for _ in range(calls):
            verifier.verify_sync(token)

    return blocking


def _awaiting(verifier: JwtVerifier, token: str) -> Callable[[int], None]:
    def awaiting(calls: int) -> None:
        async def loop() -> None:
            for _ in range(calls):
                await verifier.verify(token)

        asyncio.run(loop())

    return awaiting
