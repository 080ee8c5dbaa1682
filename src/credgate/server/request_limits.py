"""Limits on what one request may cost: body size, the time to send it, header size.

The body limit holds for every route, whatever reads the body (credgate's own parsers,
FastAPI's JSON models or nobody), and for chunked bodies that declare no length. Header size
and the time to send the headers are enforced below the application, in the HTTP protocol,
since a request whose headers never end never reaches it.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import time
from typing import Any

import h11
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

from credgate.config import Settings
from credgate.metrics import count_rate_limited
from credgate.oauth2.errors import (
    HeadersTooLarge,
    InvalidRequest,
    OAuth2Error,
    RequestTimeout,
    RequestTooLarge,
)

logger = logging.getLogger("credgate.limits")

_DISCONNECT: Message = {"type": "http.disconnect"}


def _refusal_messages(error: OAuth2Error) -> tuple[Message, Message]:
    body = json.dumps(error.body()).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"no-store"),
        (b"connection", b"close"),
        *((name.lower().encode(), value.encode()) for name, value in error.headers().items()),
    ]
    start = {"type": "http.response.start", "status": error.status_code, "headers": headers}
    return start, {"type": "http.response.body", "body": body}


def count_refusal(limit: str, error: OAuth2Error, **fields: Any) -> None:
    count_rate_limited(limit)
    logger.warning(
        "request.refused", extra={"limit": limit, "status": error.status_code, **fields}
    )


class _BodyGuard:
    """One request's receive channel, cut off once the body is too large or too slow."""

    def __init__(self, receive: Receive, limit: int, timeout: float) -> None:
        self.receive = receive
        self.limit = limit
        self.deadline = time.monotonic() + timeout
        self.size = 0
        self.body_done = False
        self.refusal: tuple[str, OAuth2Error] | None = None
        self.response_started = False

    async def guarded_receive(self) -> Message:
        if self.refusal is not None:
            return _DISCONNECT
        if self.body_done:
            return await self.receive()
        try:
            async with asyncio.timeout(max(0.0, self.deadline - time.monotonic())):
                message = await self.receive()
        except TimeoutError:
            return self._refuse("request_body_timeout", RequestTimeout("the body came too slowly"))
        if message["type"] != "http.request":
            return message
        self.size += len(message.get("body", b""))
        if self.size > self.limit:
            return self._refuse(
                "request_body_size", RequestTooLarge("the request body is too large")
            )
        self.body_done = not message.get("more_body", False)
        return message

    def _refuse(self, limit: str, error: OAuth2Error) -> Message:
        # The application sees the client go away; the refusal is answered by the guard.
        self.refusal = (limit, error)
        return _DISCONNECT


class RequestLimitsMiddleware:
    """Refuse bodies over ``max_body_bytes`` (413) or slower than the body timeout (408),
    and headers over ``max_header_bytes`` (431).

    A route that answers without reading the body it was sent answers with
    ``Connection: close``, so the unread rest is never received.
    """

    def __init__(
        self, app: ASGIApp, *, max_body_bytes: int, body_timeout: float, max_header_bytes: int
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.body_timeout = body_timeout
        self.max_header_bytes = max_header_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if _header_bytes(scope) > self.max_header_bytes:
            # h11 stops headers that arrive piecemeal; these came whole, in one read.
            error = HeadersTooLarge("the request headers are too large")
            await self._answer(send, "request_header_size", error)
            return
        declared = _declared_length(scope)
        if declared is not None and declared > self.max_body_bytes:
            await self._answer(
                send, "request_body_size", RequestTooLarge("the request body is too large")
            )
            return

        guard = _BodyGuard(receive, self.max_body_bytes, self.body_timeout)
        has_body = bool(declared) or _header(scope, b"transfer-encoding") is not None

        async def guarded_send(message: Message) -> None:
            if guard.refusal is not None and not guard.response_started:
                return  # the application's answer to a refused body is replaced below
            if message["type"] == "http.response.start":
                guard.response_started = True
                if has_body and not guard.body_done:
                    headers = [*message.get("headers", []), (b"connection", b"close")]
                    message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, guard.guarded_receive, guarded_send)
        except Exception:
            if guard.refusal is None or guard.response_started:
                raise
        if guard.refusal is not None and not guard.response_started:
            await self._answer(send, *guard.refusal)

    async def _answer(self, send: Send, limit: str, error: OAuth2Error) -> None:
        count_refusal(limit, error)
        start, body = _refusal_messages(error)
        await send(start)
        await send(body)


def _header(scope: Scope, wanted: bytes) -> bytes | None:
    for name, value in scope["headers"]:
        if name == wanted:
            return bytes(value)
    return None


def _declared_length(scope: Scope) -> int | None:
    value = _header(scope, b"content-length")
    if value is None:
        return None
    text = value.decode("latin-1").strip()
    return int(text) if text.isdigit() else None


def _header_bytes(scope: Scope) -> int:
    """The size of the request line and headers, as they came on the wire, near enough."""
    line = len(scope.get("raw_path") or b"") + len(scope.get("query_string") or b"") + 16
    return line + sum(len(name) + len(value) + 4 for name, value in scope["headers"])


# --- below the application: the HTTP/1.1 protocol --------------------------------------------


@functools.cache
def _protocol_settings() -> tuple[float, int]:
    # Read once per worker process: uvicorn builds a protocol object per connection.
    settings = Settings()
    return settings.request_header_timeout, settings.max_header_bytes


class _Connection(h11.Connection):
    """An h11 connection that remembers why it refused the peer's bytes."""

    last_error: h11.RemoteProtocolError | None = None

    def next_event(self) -> Any:
        try:
            return super().next_event()
        except h11.RemoteProtocolError as exc:
            self.last_error = exc
            raise


class GuardedH11Protocol(H11Protocol):
    """Uvicorn's h11 protocol, with a deadline for the request headers and JSON refusals.

    Uvicorn waits for headers forever, so a client trickling a byte at a time (slowloris)
    could hold a connection without end; here the headers of each request must arrive within
    ``CREDGATE_REQUEST_HEADER_TIMEOUT`` (408). Headers over ``CREDGATE_MAX_HEADER_BYTES``
    get 431 rather than uvicorn's plain-text 400.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.header_timeout, max_header_bytes = _protocol_settings()
        self.conn = _Connection(h11.SERVER, max_incomplete_event_size=max_header_bytes)
        self.header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self._arm_header_timer()
        else:
            self._disarm_header_timer()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        # Between requests the keep-alive timeout applies, until the next request's bytes.
        self._disarm_header_timer()

    def _arm_header_timer(self) -> None:
        if self.header_timer is None:
            self.header_timer = self.loop.call_later(self.header_timeout, self._headers_late)

    def _disarm_header_timer(self) -> None:
        if self.header_timer is not None:
            self.header_timer.cancel()
            self.header_timer = None

    def _headers_late(self) -> None:
        self.header_timer = None
        if self.transport.is_closing() or self.conn.their_state is not h11.IDLE:
            return
        if self.conn.our_state is not h11.IDLE:
            return  # a response is on its way; the keep-alive timeout will close the rest
        error = RequestTimeout("the request headers came too slowly")
        count_refusal("request_header_timeout", error)
        self._send_refusal(error)

    def send_400_response(self, msg: str) -> None:
        failure = self.conn.last_error if isinstance(self.conn, _Connection) else None
        if failure is not None and failure.error_status_hint == HeadersTooLarge.status_code:
            error: OAuth2Error = HeadersTooLarge("the request headers are too large")
            count_refusal("request_header_size", error)
        else:
            error = InvalidRequest("the request is not valid HTTP/1.1")
        self._send_refusal(error)

    def _send_refusal(self, error: OAuth2Error) -> None:
        start, body = _refusal_messages(error)
        response = h11.Response(status_code=error.status_code, headers=start["headers"])
        try:
            output = self.conn.send(response)
            output += self.conn.send(h11.Data(data=body["body"])) or b""
            output += self.conn.send(h11.EndOfMessage()) or b""
        except h11.LocalProtocolError:
            output = b""
        if output:
            self.transport.write(output)
        self.transport.close()
