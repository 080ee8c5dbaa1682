"""A request id for every request: returned in ``X-Request-ID`` and on every log line.

An incoming ``X-Request-ID`` is kept only when it comes from a trusted proxy (which may have
given the request its id at the edge) and looks like an id; anything else is replaced by a
fresh one, so a client cannot forge or poison the ids that tie log lines together.
"""

from __future__ import annotations

import ipaddress
import re
import uuid
from collections.abc import Sequence

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from credgate.logs import REQUEST_ID

HEADER = b"x-request-id"

# Letters, digits and a little punctuation, as UUIDs and common tracing ids are written.
_SANE_ID = re.compile(rb"[A-Za-z0-9._:-]{1,128}")

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _networks(entries: Sequence[str]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in entries)


def _is_from(networks: tuple[Network, ...], scope: Scope) -> bool:
    client = scope.get("client")
    if not networks or not client:
        return False
    try:
        address = ipaddress.ip_address(client[0])
    except ValueError:
        return False
    return any(address in network for network in networks)


class RequestIdMiddleware:
    """Outermost layer: it must see the proxy's own address, not the forwarded client's."""

    def __init__(self, app: ASGIApp, *, trusted_proxies: Sequence[str]) -> None:
        self.app = app
        self.trusted = _networks(trusted_proxies)

    def request_id(self, scope: Scope) -> str:
        if _is_from(self.trusted, scope):
            for name, value in scope.get("headers", []):
                if name == HEADER and _SANE_ID.fullmatch(value):
                    return str(value.decode())
        return str(uuid.uuid4())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = self.request_id(scope)
        header = (HEADER, request_id.encode())

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [h for h in message.get("headers", []) if h[0].lower() != HEADER]
                message = {**message, "headers": [*headers, header]}
            await send(message)

        token = REQUEST_ID.set(request_id)
        # Not reset when the app raises: the server logs the traceback after this frame, in
        # the request's own task, and that line should carry the id too.
        await self.app(scope, receive, send_with_id)
        REQUEST_ID.reset(token)
