"""A resource server of the user's own: a Starlette hello route, bare or behind the resource kit.

``plain`` is the ceiling; ``protected()`` makes the same route behind ``BearerTokenMiddleware``
with a ``JwtVerifier`` of the issuer in ``BENCH_ISSUER`` (a credgate server issuing JWTs), so
every request's token is checked locally once the JWKS is fetched. ``/healthz`` is exempt,
for the harness to see the server up.
"""

from __future__ import annotations

import os

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


async def hello(request: Request) -> JSONResponse:
    return JSONResponse({"hello": "world"})


ROUTES = [Route("/hello", hello), Route("/healthz", hello)]

plain = Starlette(routes=ROUTES)


def protected() -> Starlette:
    """The app factory (``uvicorn --factory kit_app:protected``): the issuer is known at run."""
    # Imported here so the ceiling's process loads Starlette alone, as a bare app would.
    from credgate.resource import BearerTokenMiddleware, JwtVerifier

    verifier = JwtVerifier(os.environ["BENCH_ISSUER"])
    guard = Middleware(
        BearerTokenMiddleware, verifier=verifier, scopes=["users:read"], exempt_paths=["/healthz"]
    )
    return Starlette(routes=ROUTES, middleware=[guard])
