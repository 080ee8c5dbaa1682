"""The one place where errors become HTTP answers."""

from __future__ import annotations

import logging
import math
import time
from typing import Any, cast

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Match

from credgate import metrics
from credgate.oauth2.errors import InvalidRequest, OAuth2Error, TemporarilyUnavailable
from credgate.storage.availability import is_database_unavailable, is_unacceptable_value

logger = logging.getLogger("credgate.http")

_HTTP_ERROR_CODES = {
    404: "not_found",
    405: "method_not_allowed",
    413: "invalid_request",
    415: "invalid_request",
}


def _authenticated_client(request: Request) -> str | None:
    """The client the request proved to be, if it got that far: a label safe for metrics."""
    token = getattr(request.state, "token", None)
    return getattr(request.state, "client_id", None) or getattr(token, "client_id", None)


async def _oauth2_error(request: Request, exc: Exception) -> JSONResponse:
    exc = cast(OAuth2Error, exc)  # registered for this class only
    metrics.count_refused(exc.error, _authenticated_client(request))
    headers = {"Cache-Control": "no-store", "Pragma": "no-cache", **exc.headers()}
    return JSONResponse(exc.body(), status_code=exc.status_code, headers=headers)


class _OutageLog:
    """One ``database.unavailable`` line per interval, counting the 503s in between, so an
    outage under load does not flood the log with one line per request."""

    interval = 10.0

    def __init__(self) -> None:
        self.last_logged = -math.inf
        self.suppressed = 0


_OUTAGE_LOG = _OutageLog()


def _log_unavailable(exc: Exception, path: str) -> None:
    now = time.monotonic()
    if now - _OUTAGE_LOG.last_logged < _OUTAGE_LOG.interval:
        _OUTAGE_LOG.suppressed += 1
        return
    logger.warning(
        "database.unavailable",
        extra={"error": type(exc).__name__, "path": path, "since_last": _OUTAGE_LOG.suppressed},
    )
    _OUTAGE_LOG.last_logged = now
    _OUTAGE_LOG.suppressed = 0


async def _database_error(request: Request, exc: Exception) -> JSONResponse:
    """An unreachable database is a 503 to retry, never a 500; the service heals itself
    because the pool replaces connections that fail and pings those that sat idle."""
    if is_database_unavailable(exc):
        _log_unavailable(exc, request.url.path)
        return await _oauth2_error(request, TemporarilyUnavailable("the database is unavailable"))
    if is_unacceptable_value(exc):
        # A value the database cannot hold (PostgreSQL refuses NUL in text): the input's fault.
        return await _oauth2_error(request, InvalidRequest("a value is not acceptable"))
    raise exc


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    exc = cast(HTTPException, exc)
    error = _HTTP_ERROR_CODES.get(exc.status_code, "invalid_request")
    body: dict[str, Any] = {"error": error}
    if isinstance(exc.detail, str) and exc.detail:
        body["error_description"] = exc.detail.lower()
    headers = {"Cache-Control": "no-store", **(exc.headers or {})}
    if exc.status_code == 405:
        headers["Allow"] = _allowed_methods(request) or headers.get("Allow", "")
    return JSONResponse(body, status_code=exc.status_code, headers=headers)


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


def _allowed_methods(request: Request) -> str:
    """Every method some route serves at this path (RFC 9110 §15.5.6). Starlette names only
    the first route that matched the path, so /api/users answered ``Allow: GET`` alone."""
    allowed = [
        method
        for method in _METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] is Match.FULL
            for route in request.app.router.routes
        )
    ]
    return ", ".join(allowed)


def _problem(error: Any) -> str:
    """Pydantic's own messages name the rule, never the value; a validator's message may
    quote the value (email-validator quotes a bad domain label), so only its lead is kept."""
    message = str(error["msg"])
    if error["type"] == "value_error":
        return message.partition(": ")[0]
    return message


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    """Say which fields are wrong and why, without echoing the values that were sent."""
    exc = cast(RequestValidationError, exc)
    fields = [
        {"field": ".".join(str(part) for part in error["loc"]), "problem": _problem(error)}
        for error in exc.errors()
    ]
    body = {"error": "invalid_request", "error_description": "invalid fields", "fields": fields}
    return JSONResponse(body, status_code=400, headers={"Cache-Control": "no-store"})


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(OAuth2Error, _oauth2_error)
    app.add_exception_handler(SQLAlchemyError, _database_error)
    app.add_exception_handler(OSError, _database_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
