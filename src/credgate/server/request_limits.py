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

from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

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
            # The protocol stops headers that arrive piecemeal; these came whole, in one read.
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


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """Uvicorn's httptools protocol, with a deadline and a size cap for the request headers,
    and JSON refusals.

    Uvicorn waits for headers forever, so a client trickling a byte at a time (slowloris)
    could hold a connection without end; here the headers of each request must arrive within
    ``CREDGATE_REQUEST_HEADER_TIMEOUT`` (408). The parser keeps headers of any size, so those
    still incomplete past ``CREDGATE_MAX_HEADER_BYTES`` get 431; complete ones over it are
    refused by ``RequestLimitsMiddleware``. Bytes that are not HTTP get a JSON 400 rather
    than uvicorn's plain text.

    The parser reads pipelined requests ahead of the responses. A refusal of a later request
    waits until the earlier ones are answered, and the deadline runs only while no response
    is owed, as a server reading one request at a time would have it.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.header_timeout, self.max_header_bytes = _protocol_settings()
        self.header_timer: asyncio.TimerHandle | None = None
        self.messages_begun = 0
        self.in_head = False  # between a request's first byte and the end of its headers
        self.in_body = False  # between the end of a request's headers and its end
        self.head_bytes = 0
        self.refusal: OAuth2Error | None = None  # held until the owed responses are sent

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self.refusal is not None:
            return  # the rest of the connection goes unread
        begun, idle = self.messages_begun, not (self.in_head or self.in_body)
        super().data_received(data)
        if self.in_head and self.refusal is None and not self.transport.is_closing():
            self._count_head_bytes(data, begun, idle)
        if self._awaiting_headers():
            self._arm_header_timer()
        else:
            self._disarm_header_timer()

    def _count_head_bytes(self, data: bytes, begun: int, idle: bool) -> None:
        if self.messages_begun == begun:
            self.head_bytes += len(data)
        elif self.messages_begun == begun + 1 and idle:
            self.head_bytes = len(data)  # the request began with this read
        else:
            self.head_bytes = self._head_after_pipelined(data)
        if self.head_bytes > self.max_header_bytes:
            error = HeadersTooLarge("the request headers are too large")
            count_refusal("request_header_size", error)
            self._refuse(error)

    def _head_after_pipelined(self, data: bytes) -> int:
        """The size of the head that ends ``data``, begun after other requests in it."""
        parsed = len(self.url) + sum(len(name) + len(value) + 3 for name, value in self.headers)
        if not self.url:
            return parsed
        # The head runs from its request line to the end of the read.
        start = data.rfind(self.parser.get_method() + b" " + self.url)
        return max(parsed, len(data) - start) if start >= 0 else parsed

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.messages_begun += 1
        self.in_head = True

    def on_headers_complete(self) -> None:
        self.in_head, self.in_body = False, True
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self.in_body = False
        super().on_message_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        # Between requests the keep-alive timeout applies, until the next request's bytes.
        self._disarm_header_timer()
        owed = self._response_owed() or self.transport.is_closing()
        if self.refusal is not None and not owed:
            self._send_refusal(self.refusal)

    def _response_owed(self) -> bool:
        return self.cycle is not None and not self.cycle.response_complete

    def _awaiting_headers(self) -> bool:
        closing = self.transport.is_closing() or self.refusal is not None
        return not (closing or self.in_body or self._response_owed())

    def _arm_header_timer(self) -> None:
        if self.header_timer is None:
            self.header_timer = self.loop.call_later(self.header_timeout, self._headers_late)

    def _disarm_header_timer(self) -> None:
        if self.header_timer is not None:
            self.header_timer.cancel()
            self.header_timer = None

    def _headers_late(self) -> None:
        self.header_timer = None
        if not self._awaiting_headers():
            return  # a response is on its way; the keep-alive timeout will close the rest
        error = RequestTimeout("the request headers came too slowly")
        count_refusal("request_header_timeout", error)
        self._send_refusal(error)

    def send_400_response(self, msg: str) -> None:
        if self.in_body:
            self.transport.close()  # the request being answered is broken: no answer fits
            return
        self._refuse(InvalidRequest("the request is not valid HTTP/1.1"))

    def _refuse(self, error: OAuth2Error) -> None:
        if self._response_owed():
            self.refusal = error
            self.flow.pause_reading()
        else:
            self._send_refusal(error)

    def _send_refusal(self, error: OAuth2Error) -> None:
        self.refusal = error
        start, body = _refusal_messages(error)
        headers = [*self.server_state.default_headers, *start["headers"]]
        head = b"".join(name + b": " + value + b"\r\n" for name, value in headers)
        self.transport.write(STATUS_LINE[error.status_code] + head + b"\r\n" + body["body"])
        self.transport.close()
