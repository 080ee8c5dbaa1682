"""The FastAPI dependency of the kit: ``Depends(require_token("users:read"))``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import cast

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response

from credgate.oauth2.bearer import extract_bearer_token
from credgate.oauth2.errors import OAuth2Error
from credgate.resource._responses import check_scopes, error_response
from credgate.resource.verifiers import AsyncTokenVerifier, VerifiedToken


def require_token(
    *scopes: str, verifier: AsyncTokenVerifier | None = None
) -> Callable[[Request], Awaitable[VerifiedToken]]:
    """A FastAPI dependency: a valid bearer token holding ``scopes``, or the RFC 6750 error.

    The verifier is ``verifier``, else the app's ``app.state.token_verifier``. Errors are
    ``OAuth2Error``s: install ``install_error_handler(app)`` so they are answered as credgate
    answers them. The handler also finds the token at ``request.state.token``.

    Usage::

        app = FastAPI()
        app.state.token_verifier = JwtVerifier("https://auth.example.com")
        install_error_handler(app)

        @app.get("/reports")
        async def reports(token: VerifiedToken = Depends(require_token("reports:read"))):
            return {"client": token.client_id, "account": token.account_id}
    """

    async def dependency(request: Request) -> VerifiedToken:
        value = extract_bearer_token(request)
        chosen: AsyncTokenVerifier = verifier or request.app.state.token_verifier
        token = await chosen.verify(value, request)
        check_scopes(token, scopes)
        request.state.token = token
        return token

    return dependency


def install_error_handler(app: FastAPI) -> None:
    """Answer the kit's errors as credgate does (RFC 6750 status, body and challenge).

    Usage: ``install_error_handler(app)`` once, after ``app = FastAPI()``.
    """

    async def handler(request: Request, exc: Exception) -> Response:
        return error_response(cast(OAuth2Error, exc))  # registered for this class only

    app.add_exception_handler(OAuth2Error, handler)
