"""The ASGI application: OAuth endpoints, the sample API, and the HTTPS rules around them."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.responses import JSONResponse
from starlette.types import ASGIApp
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from credgate import __version__, admin
from credgate.config import Settings
from credgate.logs import configure_logging
from credgate.oauth2 import metadata, revocation, token_endpoint, token_lifecycle
from credgate.oauth2.introspection import router as introspection_router
from credgate.oauth2.jwks import router as jwks_router
from credgate.oauth2.rate_limits import install_rate_limiter
from credgate.resource import users_api
from credgate.runtime import Runtime
from credgate.server import api_docs
from credgate.server.errors import install_error_handlers
from credgate.server.https import HttpsOnlyMiddleware
from credgate.server.metrics import RequestMetricsMiddleware, forget_this_process, metrics_endpoint
from credgate.server.purge import ScheduledPurge
from credgate.server.readiness import readyz
from credgate.server.request_id import RequestIdMiddleware
from credgate.server.request_limits import RequestLimitsMiddleware
from credgate.usage import UsageFlusher

logger = logging.getLogger("credgate.server")

GC_THRESHOLD = 20_000

DESCRIPTION = """\
Credgate is an OAuth 2.0 authorization server for the client credentials grant.
Trade a client id and secret for a token at `POST /oauth/token`, then call the API with
`Authorization: Bearer <token>`.
"""


def settle_garbage_collector() -> None:
    """Keep the collector off the objects of a started server, and collect less often.

    Everything imported and built at startup lives as long as the process; frozen, it is no
    longer walked by each full collection. A request allocates a few hundred objects, so the
    default threshold (700) ran a collection every few requests.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_THRESHOLD, *gc.get_threshold()[1:])


def create_fastapi_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = Runtime.start(settings)
        app.state.runtime = runtime
        runtime.broadcast.start_listening()
        runtime.start_watching()
        purge = ScheduledPurge(runtime)
        usage = UsageFlusher(runtime)
        settle_garbage_collector()
        logger.info("server.started", extra={"version": __version__})
        try:
            yield
        finally:
            await purge.stop()
            await usage.stop()
            await runtime.close()
            forget_this_process()

    app = FastAPI(
        title="credgate",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # served by api_docs from vendored assets, not a CDN
        redoc_url=None,
    )
    install_error_handlers(app)
    install_rate_limiter(app.state, settings)
    # Routes are matched in this order: the two that carry the load come first.
    for router in (
        token_endpoint.router,
        users_api.router,
        revocation.router,
        token_lifecycle.router,
        metadata.router,
        jwks_router,
        introspection_router,
    ):
        app.include_router(router)
    app.add_api_route("/healthz", healthz, methods=["GET"], tags=["Operations"])
    app.add_api_route("/readyz", readyz, methods=["GET"], tags=["Operations"])
    if settings.metrics:
        app.add_api_route("/metrics", metrics_endpoint, methods=["GET"], tags=["Operations"])
    api_docs.install(app)
    admin.install(app)
    return app


async def healthz() -> JSONResponse:
    return JSONResponse({"status": "ok"})


def create_app(settings: Settings | None = None) -> ASGIApp:
    """The full application as served: FastAPI inside the HTTPS and proxy-header layers."""
    settings = settings or Settings()
    configure_logging(settings.log_level, settings.log_format)
    app: ASGIApp = HttpsOnlyMiddleware(
        create_fastapi_app(settings),
        allow_loopback_http=settings.allow_loopback_http,
        hsts_max_age=settings.hsts_max_age,
    )
    app = RequestLimitsMiddleware(
        app,
        max_body_bytes=settings.max_body_bytes,
        body_timeout=settings.request_body_timeout,
        max_header_bytes=settings.max_header_bytes,
    )
    if settings.trusted_proxies:
        # Only these addresses may speak for the client's scheme and address.
        trusted = settings.trusted_proxies
        proxied = ProxyHeadersMiddleware(app, trusted_hosts=trusted)  # type: ignore[arg-type]
        app = proxied  # type: ignore[assignment]
    if settings.metrics:
        app = RequestMetricsMiddleware(app)
    return RequestIdMiddleware(app, trusted_proxies=settings.trusted_proxies)
