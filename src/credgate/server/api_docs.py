"""The API reference: the OpenAPI document and a Swagger UI page served from the app itself.

Swagger UI's files are vendored under ``static/docs`` (see its ``VERSION`` file), so the page
loads nothing from another origin and works offline. Its Content-Security-Policy allows
scripts from this origin only; the start-up code lives in ``docs.js`` rather than inline.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.staticfiles import StaticFiles

from credgate.oauth2.openapi import ERROR_EXAMPLES

ASSETS = Path(__file__).resolve().parent / "static" / "docs"
ASSETS_PATH = "/docs/assets"

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self'; connect-src 'self'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} API reference</title>
<link rel="icon" type="image/png" href="{assets}/favicon-32x32.png">
<link rel="stylesheet" href="{assets}/swagger-ui.css">
</head>
<body data-openapi-url="{openapi_url}">
<div id="swagger-ui"></div>
<script src="{assets}/swagger-ui-bundle.js"></script>
<script src="{assets}/docs.js"></script>
</body>
</html>
"""

SECURITY_SCHEMES: dict[str, Any] = {
    "clientBasic": {
        "type": "http",
        "scheme": "basic",
        "description": (
            "The client id and secret, each form-urlencoded before base64 (RFC 6749 §2.3.1). "
            "The token and revocation endpoints also accept them as body fields instead."
        ),
    },
    "bearerToken": {
        "type": "http",
        "scheme": "bearer",
        "description": "An access token from `POST /oauth/token` (RFC 6750 §2.1).",
    },
}

_BEARER_PREFIXES = ("/api/", "/oauth/tokens/")

_INVALID_FIELDS = ERROR_EXAMPLES(
    "A path, query or body field is invalid; `fields` says which and why.",
    {"fields": ("invalid_request", "invalid fields")},
)

_BEARER_CHALLENGE = {
    "WWW-Authenticate": {
        "description": "RFC 6750 §3: the Bearer challenge, naming the error.",
        "schema": {"type": "string"},
        "example": 'Bearer realm="credgate", error="invalid_token", '
        'error_description="the access token expired"',
    }
}


def install(app: FastAPI) -> None:
    """Serve ``/openapi.json`` with credgate's additions and the reference page at ``/docs``."""
    app.openapi = lambda: openapi_document(app)  # type: ignore[method-assign]
    app.mount(ASSETS_PATH, StaticFiles(directory=ASSETS), name="docs-assets")
    app.add_api_route("/docs", reference_page, methods=["GET"], include_in_schema=False)


async def reference_page(request: Request) -> HTMLResponse:
    app = request.app
    page = _PAGE.format(title=app.title, assets=ASSETS_PATH, openapi_url=app.openapi_url)
    headers = {"Content-Security-Policy": CONTENT_SECURITY_POLICY, "X-Frame-Options": "DENY"}
    return HTMLResponse(page, headers=headers)


def openapi_document(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document, plus the security schemes and the answers FastAPI cannot infer."""
    if app.openapi_schema is not None:
        return app.openapi_schema
    document = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
        tags=app.openapi_tags,
    )
    document.setdefault("components", {})["securitySchemes"] = SECURITY_SCHEMES
    for path, operations in document.get("paths", {}).items():
        for operation in operations.values():
            _describe_operation(path, operation)
    _drop_unused_validation_schemas(document)
    app.openapi_schema = document
    return document


def _describe_operation(path: str, operation: dict[str, Any]) -> None:
    responses = operation.setdefault("responses", {})
    # Validation failures are answered as 400 invalid_request (server/errors.py), not 422.
    if responses.pop("422", None) is not None:
        responses.setdefault("400", _INVALID_FIELDS)
    if path.startswith(_BEARER_PREFIXES):
        operation.setdefault("security", [{"bearerToken": []}])
        for status in ("401", "403"):
            if status in responses:
                responses[status].setdefault("headers", _BEARER_CHALLENGE)


def _drop_unused_validation_schemas(document: dict[str, Any]) -> None:
    schemas = document.get("components", {}).get("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
