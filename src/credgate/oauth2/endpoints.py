"""Shared plumbing of the OAuth endpoints: the process runtime and no-store JSON answers."""

from __future__ import annotations

from typing import Any

from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse

from credgate.runtime import Runtime

# RFC 6749 §5.1: token responses, and errors alike, must not be cached.
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def runtime_of(connection: HTTPConnection) -> Runtime:
    runtime: Runtime = connection.app.state.runtime
    return runtime


def no_store_json(body: Any, status_code: int = 200) -> JSONResponse:
    return JSONResponse(body, status_code=status_code, headers=NO_STORE)


def client_address(connection: HTTPConnection) -> str | None:
    return connection.client.host if connection.client else None
