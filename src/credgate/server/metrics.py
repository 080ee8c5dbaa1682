"""``/metrics`` for Prometheus, and the middleware that times every request.

Off unless ``CREDGATE_METRICS=true``. With ``CREDGATE_METRICS_TOKEN`` set, a scrape must
send ``Authorization: Bearer <key>``, compared in constant time.
"""

from __future__ import annotations

import hmac
import os
import time
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    generate_latest,
    multiprocess,
)
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from credgate import metrics
from credgate.oauth2.endpoints import NO_STORE, runtime_of
from credgate.runtime import Runtime

UNMATCHED_ROUTE = "unmatched"


def _route_template(scope: Scope) -> str:
    # FastAPI leaves the matched route in the scope: its path template, never the raw path,
    # so /oauth/tokens/<id> is one series and not one per token.
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else UNMATCHED_ROUTE


class RequestMetricsMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            elapsed = time.perf_counter() - started
            metrics.observe_request(scope["method"], _route_template(scope), status, elapsed)
            runtime = getattr(getattr(scope.get("app"), "state", None), "runtime", None)
            if isinstance(runtime, Runtime):
                _note_pool_use(runtime)


def _note_pool_use(runtime: Runtime) -> None:
    pool: Any = runtime.engine.pool
    if hasattr(pool, "checkedout") and hasattr(pool, "checkedin"):
        metrics.set_pool_use(pool.checkedout(), pool.checkedin())


def _is_authorized(request: Request, key: str | None) -> bool:
    if not key:
        return True
    scheme, _, presented = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(presented.strip().encode(), key.encode())


def _exposition() -> bytes:
    if metrics.is_multiprocess():
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry)
    return generate_latest(REGISTRY)


async def metrics_endpoint(request: Request) -> Response:
    runtime = runtime_of(request)
    if not _is_authorized(request, runtime.settings.metrics_token):
        body = {"error": "invalid_token", "error_description": "a valid metrics key is required"}
        headers = {**NO_STORE, "WWW-Authenticate": 'Bearer realm="metrics"'}
        return JSONResponse(body, status_code=401, headers=headers)
    _note_pool_use(runtime)
    return Response(_exposition(), media_type=CONTENT_TYPE_LATEST, headers=NO_STORE)


def forget_this_process() -> None:
    """At worker exit: drop this process's live gauges from the shared files."""
    if metrics.is_multiprocess():
        multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]
