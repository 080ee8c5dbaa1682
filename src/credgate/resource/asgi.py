"""ASGI middleware of the kit, for Starlette or any ASGI application."""

from __future__ import annotations

from collections.abc import Sequence

from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Receive, Scope, Send

from credgate.oauth2.bearer import extract_bearer_token
from credgate.oauth2.errors import OAuth2Error
from credgate.resource._responses import (
    ScopeRule,
    check_scopes,
    error_response,
    scopes_for,
)
from credgate.resource.verifiers import AsyncTokenVerifier


class BearerTokenMiddleware:
    """Requires a valid bearer token (and ``scopes``) on every HTTP request of an ASGI app.

    The verified token is at ``request.state.token`` (``scope["state"]["token"]``); refused
    requests get the RFC 6750 answer credgate itself gives. ``scopes`` may be a function of
    ``(method, path)``; paths in ``exempt_paths`` (health checks) pass untouched.

    Usage::

        app = Starlette(routes=[Route("/reports", reports)])
        app.add_middleware(
            BearerTokenMiddleware,
            verifier=JwtVerifier("https://auth.example.com"),
            scopes=["reports:read"],
        )

        async def reports(request):
            return JSONResponse({"client": request.state.token.client_id})
    """

    def __init__(
        self,
        app: ASGIApp,
        verifier: AsyncTokenVerifier,
        scopes: ScopeRule = (),
        exempt_paths: Sequence[str] = (),
    ) -> None:
        self.app = app
        self.verifier = verifier
        self.scopes = scopes
        self.exempt_paths = exempt_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # The path as the server decoded it, as WSGI's PATH_INFO: no URL is built per request.
        path = scope["path"]
        if path in self.exempt_paths:
            await self.app(scope, receive, send)
            return
        connection = HTTPConnection(scope)
        try:
            value = extract_bearer_token(connection)
            token = await self.verifier.verify(value, connection)
            check_scopes(token, scopes_for(self.scopes, scope["method"], path))
        except OAuth2Error as exc:
            await error_response(exc)(scope, receive, send)
            return
        scope.setdefault("state", {})["token"] = token
        await self.app(scope, receive, send)
