"""Unknown client and wrong secret take the same time to refuse, so ids cannot be probed.

Both refusals are timed from the outside in pairs, in random order within each pair, over
one connection, so that load on the machine falls on both alike; the median difference
within pairs must stay small. An early return for unknown ids skips database reads and
makes the unknown refusal a quarter or more faster, on every attempt; a busy machine may
spoil one attempt, so the measure is taken up to three times.
"""

from __future__ import annotations

import random
import statistics
import time

import httpx

from conftest import LiveServer
from credgate.credentials import generate_client_id, generate_client_secret

PAIRS = 200
ATTEMPTS = 3
GRANT = {"grant_type": "client_credentials"}


def refusal_time(http: httpx.Client, client_id: str) -> float:
    started = time.perf_counter()
    response = http.post("/oauth/token", data=GRANT, auth=(client_id, generate_client_secret()))
    elapsed = time.perf_counter() - started
    assert response.status_code == 401
    return elapsed


def measure(http: httpx.Client, known_id: str, rng: random.Random) -> tuple[float, float]:
    """The median refusal time of the known id, and the median of known minus unknown."""
    known_times, differences = [], []
    for _ in range(PAIRS):
        if rng.random() < 0.5:
            known = refusal_time(http, known_id)
            unknown = refusal_time(http, generate_client_id())
        else:
            unknown = refusal_time(http, generate_client_id())
            known = refusal_time(http, known_id)
        known_times.append(known)
        differences.append(known - unknown)
    return statistics.median(known_times), statistics.median(differences)


def test_unknown_client_and_wrong_secret_take_the_same_time_to_refuse(
    server: LiveServer,
) -> None:
    known = server.client()
    rng = random.Random(7)  # noqa: S311 - the order of probes, not a secret
    results = []
    with server.http() as http:
        for _ in range(20):  # warm the connection, the pool and the caches
            refusal_time(http, known.client_id)
            refusal_time(http, generate_client_id())
        for _ in range(ATTEMPTS):
            median, difference = measure(http, known.client_id, rng)
            results.append((median, difference))
            # The unknown id must not be refused faster by more than a tenth.
            if difference < 0.1 * median + 0.0001:
                break

    median, difference = results[-1]
    print(f"known median {median * 1e3:.2f} ms, known - unknown {difference * 1e3:.3f} ms")
    assert difference < 0.1 * median + 0.0001, results
    assert abs(difference) < 0.5 * median, results
