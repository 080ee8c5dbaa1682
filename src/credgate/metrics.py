"""Prometheus metrics of one credgate process, and the helpers other modules count with.

With ``--workers N`` every worker writes its samples to files in the directory named by
``PROMETHEUS_MULTIPROC_DIR`` (``credgate serve`` makes one per run and removes it at exit),
and ``/metrics`` adds them up, so a scrape sees the whole server whichever worker answers.
Label values come from the server (route templates, error codes, client ids that
authenticated), never from raw request input, so a caller cannot blow up the series count.
"""

from __future__ import annotations

import os

from prometheus_client import Counter, Gauge, Histogram

MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"

TOKENS_ISSUED = Counter("credgate_tokens_issued", "Access tokens issued.", ["client", "grant"])
TOKENS_REFUSED = Counter(
    "credgate_tokens_refused",
    "Requests refused with an OAuth error, by error code and authenticated client.",
    ["reason", "client"],
)
REQUEST_SECONDS = Histogram(
    "credgate_request_duration_seconds",
    "Time to answer a request, by route template.",
    ["method", "route", "status"],
)
CACHE_LOOKUPS = Counter(
    "credgate_cache_lookups",
    "Token validation cache lookups, by cache layer and result (hit or miss).",
    ["cache", "result"],
)
DATABASE_POOL = Gauge(
    "credgate_database_pool_connections",
    "Database connections of the pool, by state (in_use or idle).",
    ["state"],
    multiprocess_mode="livesum",
)
RATE_LIMITED = Counter(
    "credgate_rate_limited", "Requests refused by a rate limit, by limit name.", ["limit"]
)

UNKNOWN_CLIENT = ""


def is_multiprocess() -> bool:
    return bool(os.environ.get(MULTIPROCESS_ENV))


def count_issued(client_id: str, grant: str) -> None:
    TOKENS_ISSUED.labels(client=client_id, grant=grant).inc()


def count_refused(reason: str, client_id: str | None) -> None:
    TOKENS_REFUSED.labels(reason=reason, client=client_id or UNKNOWN_CLIENT).inc()


def count_rate_limited(limit: str) -> None:
    """One request refused by the rate limit named ``limit`` (a configured name, not input)."""
    RATE_LIMITED.labels(limit=limit).inc()


def count_cache_lookup(cache: str, hit: bool) -> None:
    CACHE_LOOKUPS.labels(cache=cache, result="hit" if hit else "miss").inc()


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    REQUEST_SECONDS.labels(method=method, route=route, status=str(status)).observe(seconds)


def set_pool_use(in_use: int, idle: int) -> None:
    DATABASE_POOL.labels(state="in_use").set(in_use)
    DATABASE_POOL.labels(state="idle").set(idle)
