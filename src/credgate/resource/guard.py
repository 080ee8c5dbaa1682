"""Requiring a bearer token and scopes on an endpoint of the protected API.

``Depends(require_scopes("users:read"))`` on a FastAPI route answers with the RFC 6750
errors (401 ``invalid_token``, 403 ``insufficient_scope``) and hands the handler the token's
client, account and scopes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request

from credgate.oauth2.bearer import extract_bearer_token
from credgate.oauth2.endpoints import runtime_of
from credgate.oauth2.errors import InsufficientScope
from credgate.oauth2.rate_limits import rate_limiter_of
from credgate.oauth2.tokens import ValidToken, validate_access_token
from credgate.storage.models import utcnow


def require_scopes(*scopes: str) -> Callable[[Request], Awaitable[ValidToken]]:
    required = frozenset(scopes)

    async def dependency(request: Request) -> ValidToken:
        value = extract_bearer_token(request)
        runtime = runtime_of(request)
        async with runtime.sessions() as session:
            token = await validate_access_token(session, runtime.hasher, value, utcnow())
        await rate_limiter_of(request).check_api(token.client_id)
        if not required <= token.scopes:
            raise InsufficientScope("the token lacks a required scope", scope=" ".join(scopes))
        request.state.token = token
        return token

    return dependency
