"""The one place where errors become HTTP answers."""

from __future__ import annotations

import logging
from typing import Any, cast

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse

from credgate.oauth2.errors import OAuth2Error

logger = logging.getLogger("credgate.http")

_HTTP_ERROR_CODES = {
    404: "not_found",
    405: "method_not_allowed",
    413: "invalid_request",
    415: "invalid_request",
}


async def _oauth2_error(request: Request, exc: Exception) -> JSONResponse:
    exc = cast(OAuth2Error, exc)  # registered for this class only
    headers = {"Cache-Control": "no-store", "Pragma": "no-cache", **exc.headers()}
    return JSONResponse(exc.body(), status_code=exc.status_code, headers=headers)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    exc = cast(HTTPException, exc)
    error = _HTTP_ERROR_CODES.get(exc.status_code, "invalid_request")
    body: dict[str, Any] = {"error": error}
    if isinstance(exc.detail, str) and exc.detail:
        body["error_description"] = exc.detail.lower()
    headers = {"Cache-Control": "no-store", **(exc.headers or {})}
    return JSONResponse(body, status_code=exc.status_code, headers=headers)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    """Say which fields are wrong and why, without echoing the values that were sent."""
    exc = cast(RequestValidationError, exc)
    fields = [
        {"field": ".".join(str(part) for part in error["loc"]), "problem": error["msg"]}
        for error in exc.errors()
    ]
    body = {"error": "invalid_request", "error_description": "invalid fields", "fields": fields}
    return JSONResponse(body, status_code=400, headers={"Cache-Control": "no-store"})


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(OAuth2Error, _oauth2_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
