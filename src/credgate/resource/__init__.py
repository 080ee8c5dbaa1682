"""The resource-server kit: protect an API with credgate tokens in one line.

- ``JwtVerifier``: JWT access tokens checked locally against the issuer's JWKS.
- ``IntrospectionVerifier``: any token checked by RFC 7662 introspection, briefly cached.
- ``require_token``: a FastAPI dependency; ``BearerTokenMiddleware``: ASGI (Starlette);
  ``BearerTokenWSGIMiddleware`` and ``token_of``: WSGI (Flask, Django).

Usage::

    from fastapi import Depends, FastAPI
    from credgate.resource import JwtVerifier, VerifiedToken, install_error_handler, require_token

    app = FastAPI()
    app.state.token_verifier = JwtVerifier("https://auth.example.com")
    install_error_handler(app)

    @app.get("/reports")
    async def reports(token: VerifiedToken = Depends(require_token("reports:read"))):
        return {"account": token.account_id}
"""

from credgate.resource.asgi import BearerTokenMiddleware
from credgate.resource.dependencies import install_error_handler, require_token
from credgate.resource.verifiers import (
    AsyncTokenVerifier,
    IntrospectionVerifier,
    JwtVerifier,
    SyncTokenVerifier,
    VerifiedToken,
)
from credgate.resource.wsgi import BearerTokenWSGIMiddleware, token_of

__all__ = [
    "AsyncTokenVerifier",
    "BearerTokenMiddleware",
    "BearerTokenWSGIMiddleware",
    "IntrospectionVerifier",
    "JwtVerifier",
    "SyncTokenVerifier",
    "VerifiedToken",
    "install_error_handler",
    "require_token",
    "token_of",
]
