"""The Admin Portal: HTML pages under /admin and the JSON admin API under /admin/api.

from credgate import admin
admin.install(app)  # after the API reference, whose OpenAPI document it extends
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import JSONResponse

from credgate.admin import api, portal
from credgate.admin.security_headers import AdminSecurityHeaders
from credgate.management import ManagementError


async def _management_error(request: Request, exc: Exception) -> JSONResponse:
    body = {"error": "invalid_request", "error_description": str(exc)}
    return JSONResponse(body, status_code=400, headers={"Cache-Control": "no-store"})


def install(app: FastAPI) -> None:
    """Mount the portal and the admin API, their headers, and their part of the OpenAPI."""
    app.include_router(api.session_router)
    app.include_router(api.router)
    portal.install(app)
    app.add_exception_handler(ManagementError, _management_error)
    app.add_middleware(AdminSecurityHeaders)
    document = app.openapi

    def openapi_with_admin() -> dict[str, Any]:
        schema = document()
        schema.setdefault("components", {}).setdefault("securitySchemes", {}).update(
            api.SECURITY_SCHEMES
        )
        for path, operations in schema.get("paths", {}).items():
            if path.startswith(api.PREFIX):
                for method, operation in operations.items():
                    if (path, method) != (api.PREFIX + "/session", "post"):
                        operation.setdefault("security", api.SECURITY)
        return schema

    app.openapi = openapi_with_admin  # type: ignore[method-assign]
