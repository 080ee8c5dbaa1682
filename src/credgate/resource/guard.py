"""The in-process verifier: how the credgate server checks tokens on its own API.

It reads the token's row in the server's database, so revocation is seen at once, for opaque
tokens and JWTs alike (whose signature and claims are checked too).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from starlette.requests import HTTPConnection, Request

from credgate.oauth2.endpoints import runtime_of
from credgate.oauth2.errors import InvalidRequest, InvalidToken, RefusedToken
from credgate.oauth2.jwt_tokens import jwt_context
from credgate.oauth2.rate_limits import rate_limiter_of
from credgate.oauth2.tokens import (
    ValidToken,
    validate_access_token,
    validate_remembered_token,
)
from credgate.resource.dependencies import require_token
from credgate.resource.verifiers import VerifiedToken
from credgate.storage.models import utcnow

logger = logging.getLogger("credgate.oauth2")


class ServerVerifier:
    """Checks tokens against the database of the credgate server it runs in.

    Usage (inside the credgate application only)::

        token: VerifiedToken = Depends(require_token("users:read", verifier=ServerVerifier()))
    """

    async def verify(self, token: str, connection: HTTPConnection | None = None) -> VerifiedToken:
        if connection is None:
            raise InvalidRequest("the in-process verifier needs the request")
        try:
            valid = await _validate(token, connection)
        except InvalidToken as refusal:
            _log_refusal(refusal, connection)
            raise
        await rate_limiter_of(connection).check_api(valid.client_id)
        return VerifiedToken(
            token_id=valid.token_id,
            client_id=valid.client_id,
            account_id=valid.account_id,
            scopes=valid.scopes,
            expires_at=valid.expires_at,
        )


async def _validate(token: str, connection: HTTPConnection) -> ValidToken:
    runtime = runtime_of(connection)
    now = utcnow()
    # A token this process read a moment ago needs no session at all.
    valid = validate_remembered_token(runtime.token_cache, runtime.hasher, token, now)
    if valid is not None:
        return valid
    async with runtime.sessions() as session:
        return await validate_access_token(
            session,
            runtime.hasher,
            token,
            now,
            jwt=jwt_context(connection),
            cache=runtime.token_cache,
        )


def _log_refusal(refusal: InvalidToken, connection: HTTPConnection) -> None:
    # The reason and, for a token credgate knows, its ids: never the token itself.
    known = refusal if isinstance(refusal, RefusedToken) else None
    logger.info(
        "token.refused",
        extra={
            "reason": refusal.description,
            "client_id": known.client_id if known else None,
            "token_id": known.token_id if known else None,
            "path": connection.url.path,
        },
    )


SERVER_VERIFIER = ServerVerifier()


def require_scopes(*scopes: str) -> Callable[[Request], Awaitable[VerifiedToken]]:
    """``Depends(require_scopes("users:read"))`` on a route of the credgate server itself."""
    return require_token(*scopes, verifier=SERVER_VERIFIER)
