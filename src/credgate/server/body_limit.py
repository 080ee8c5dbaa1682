"""A cap on request bodies for every endpoint, before any of them reads one.

FastAPI reads and parses a JSON body before a route's dependencies run, so without a cap an
unauthenticated caller could make the server hold and parse a body of any size on the sample
API before the bearer check refuses it. The OAuth endpoints read their bodies with the same
limit themselves (``read_body``); this layer covers everything else. FastAPI's own
``max_body_size`` needs a newer FastAPI than credgate requires and answers some refusals in
plain text, so the cap is kept here, answering in the token endpoint's JSON shape.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from credgate.oauth2.endpoints import NO_STORE

TOO_LARGE = "the request body is too large"


def _too_large() -> HTTPException:
    # Raised as Starlette's HTTPException because FastAPI turns any other exception raised
    # while it reads a body into a 400; the app's one error mapping renders it.
    return HTTPException(status_code=413, detail=TOO_LARGE, headers=NO_STORE)


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length" and value.isdigit():
            return int(value)
    return None


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, *, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _declared_length(scope)
        if declared is not None and declared > self.limit:
            # Refused before a byte of the body is read, and outside the app's error
            # handlers, so answered here in the same shape they would give.
            body = {"error": "invalid_request", "error_description": TOO_LARGE}
            await JSONResponse(body, status_code=413, headers=NO_STORE)(scope, receive, send)
            return
        await self.app(scope, self._counting(receive), send)

    def _counting(self, receive: Receive) -> Receive:
        """Count the bytes of a body sent without a length (chunked), stopping at the cap."""
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise _too_large()
            return message

        return counted
