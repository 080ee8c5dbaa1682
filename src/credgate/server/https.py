"""HTTPS enforcement: plain HTTP only from loopback; HSTS on every HTTPS answer.

Requests from configured trusted proxies arrive with their scheme and client address already
taken from ``X-Forwarded-Proto`` / ``X-Forwarded-For`` by uvicorn's proxy-headers middleware,
which wraps this one; headers from anyone else are ignored.
"""

from __future__ import annotations

import functools
import ipaddress
import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send


@functools.lru_cache(maxsize=4096)
def is_loopback(host: str | None) -> bool:
    # Cached: asked on every plain-HTTP request, for a handful of peer addresses.
    if not host:
        return False
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


_REFUSAL = json.dumps(
    {"error": "invalid_request", "error_description": "HTTPS is required"}
).encode()


class HttpsOnlyMiddleware:
    def __init__(self, app: ASGIApp, *, allow_loopback_http: bool, hsts_max_age: int) -> None:
        self.app = app
        self.allow_loopback_http = allow_loopback_http
        self.hsts = f"max-age={hsts_max_age}; includeSubDomains".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope.get("scheme") == "https":
            await self.app(scope, receive, self._with_hsts(send))
            return
        client = scope.get("client")
        if self.allow_loopback_http and is_loopback(client[0] if client else None):
            await self.app(scope, receive, send)
            return
        await self._refuse(send)

    def _with_hsts(self, send: Send) -> Send:
        async def send_with_hsts(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"strict-transport-security", self.hsts))
                message = {**message, "headers": headers}
            await send(message)

        return send_with_hsts

    async def _refuse(self, send: Send) -> None:
        # 403 rather than a redirect: an API client that followed a redirect would already
        # have sent its credentials in clear text.
        await send(
            {
                "type": "http.response.start",
                "status": 403,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(_REFUSAL)).encode()),
                    (b"cache-control", b"no-store"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": _REFUSAL})
