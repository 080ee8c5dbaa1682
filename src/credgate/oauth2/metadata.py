"""Authorization server metadata (RFC 8414): ``/.well-known/oauth-authorization-server``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse

from credgate.oauth2.endpoints import runtime_of

router = APIRouter(tags=["OAuth 2.0"])

AUTH_METHODS = ["client_secret_basic", "client_secret_post"]


def issuer_of(request: HTTPConnection) -> str:
    configured = runtime_of(request).settings.issuer
    if configured:
        return configured.rstrip("/")
    return str(request.base_url).rstrip("/")


@router.get(
    "/.well-known/oauth-authorization-server",
    summary="Authorization server metadata (RFC 8414)",
)
async def server_metadata(request: Request) -> JSONResponse:
    settings = runtime_of(request).settings
    issuer = issuer_of(request)
    document: dict[str, Any] = {
        "issuer": issuer,
        "token_endpoint": f"{issuer}/oauth/token",
        "revocation_endpoint": f"{issuer}/oauth/revoke",
        "grant_types_supported": ["client_credentials"],
        # No authorization endpoint: credgate issues tokens to clients, not to browsers.
        "response_types_supported": [],
        "token_endpoint_auth_methods_supported": AUTH_METHODS,
        "revocation_endpoint_auth_methods_supported": AUTH_METHODS,
        "scopes_supported": sorted(settings.scopes),
        "service_documentation": f"{issuer}/docs",
        # RFC 9068 and RFC 7662: where JWT access tokens' keys live, and token introspection.
        "jwks_uri": f"{issuer}/.well-known/jwks.json",
        "introspection_endpoint": f"{issuer}/oauth/introspect",
        "introspection_endpoint_auth_methods_supported": AUTH_METHODS,
    }
    return JSONResponse(document, headers={"Cache-Control": "public, max-age=3600"})
