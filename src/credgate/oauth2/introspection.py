"""Token introspection (RFC 7662): ``POST /oauth/introspect`` for resource servers.

Callers authenticate like at the token endpoint and need the ``introspect`` permission. The
answer is ``active: false`` for any token the caller may not learn about: expired, revoked,
renewed past its overlap, unknown, malformed, or of another account.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse

from credgate.oauth2.client_auth import authenticate_client
from credgate.oauth2.endpoints import no_store_json, runtime_of
from credgate.oauth2.errors import IntrospectionNotAllowed, InvalidRequest, InvalidToken
from credgate.oauth2.jwt_tokens import JwtContext, jwt_context
from credgate.oauth2.requests import extract_client_credentials, read_oauth_request
from credgate.oauth2.scopes import format_scope
from credgate.oauth2.tokens import ValidToken, validate_access_token
from credgate.storage.models import utcnow

router = APIRouter(tags=["OAuth 2.0"])
logger = logging.getLogger("credgate.oauth2")

INACTIVE: dict[str, Any] = {"active": False}


def introspection_answer(token: ValidToken, context: JwtContext) -> dict[str, Any]:
    """RFC 7662 §2.2 members of a live token."""
    return {
        "active": True,
        "scope": format_scope(token.scopes),
        "client_id": token.client_id,
        "token_type": "Bearer",
        "exp": math.floor(token.expires_at.timestamp()),
        "iat": math.floor(token.issued_at.timestamp()),
        "sub": token.client_id,
        "aud": context.audience,
        "iss": context.issuer,
        "jti": token.token_id,
        "account": token.account_id,
    }


@router.post(
    "/oauth/introspect",
    summary="Introspect a token (RFC 7662)",
    responses={
        200: {"description": "The token's state: active with its facts, or active false."},
        401: {"description": "invalid_client: client authentication failed."},
        403: {"description": "unauthorized_client: the client may not introspect."},
    },
)
async def introspect(request: Request) -> JSONResponse:
    runtime = runtime_of(request)
    oauth = await read_oauth_request(request, runtime.settings.max_body_bytes)
    credentials = extract_client_credentials(request, oauth)
    value = oauth.params.get("token")
    # token_type_hint (RFC 7662 §2.1) is accepted and not needed: one lookup finds both kinds.
    context = jwt_context(request)

    now = utcnow()
    async with runtime.sessions() as session:
        caller = await authenticate_client(session, runtime.hasher, credentials, now)
        if not caller.introspect:
            raise IntrospectionNotAllowed("the client may not introspect tokens")
        if not value:
            raise InvalidRequest("token is required")
        try:
            token = await validate_access_token(session, runtime.hasher, value, now, jwt=context)
        except InvalidToken:
            return no_store_json(INACTIVE)
    # Tenants are isolated: another account's token looks like an unknown one.
    if token.account_id != caller.account_id:
        return no_store_json(INACTIVE)
    logger.info(
        "token.introspected",
        extra={"client_id": caller.client_id, "token_id": token.token_id},
    )
    return no_store_json(introspection_answer(token, context))
