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

from credgate.oauth2.client_auth import read_through
from credgate.oauth2.endpoints import no_store_json, runtime_of
from credgate.oauth2.errors import IntrospectionNotAllowed, InvalidRequest, InvalidToken
from credgate.oauth2.jwt_tokens import JwtContext, jwt_context
from credgate.oauth2.openapi import ERROR_EXAMPLES, REVOCATION_ENDPOINT_DOC
from credgate.oauth2.rate_limits import authenticate_within_limits
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


_ACTIVE_EXAMPLE = {
    "active": True,
    "scope": "users:read",
    "client_id": "cgc_5xQhT0aZ3mYkR7uWc1LbN9",
    "token_type": "Bearer",
    "exp": 1796337735,
    "iat": 1796334135,
    "sub": "cgc_5xQhT0aZ3mYkR7uWc1LbN9",
    "aud": "https://auth.example.com",
    "iss": "https://auth.example.com",
    "jti": "5b0c9d2e-8f61-4c1e-9a57-0e3f6d2b7a41",
    "account": "e8e93c6c-1973-4fc8-b75a-0ac398451b37",
}

INTROSPECTION_ENDPOINT_DOC: dict[str, Any] = {
    "description": (
        "RFC 7662 token introspection, for resource servers. The caller authenticates as at "
        "the token endpoint and needs the `introspect` permission (`credgate clients create "
        "--introspect`). Opaque tokens and JWTs are both answered; `token_type_hint` is "
        "accepted. Expired, revoked, renewed-and-ended, unknown and malformed tokens, and "
        'tokens of another account than the caller\'s, all answer `{"active": false}`.'
    ),
    "responses": {
        200: {
            "description": "The token's state, with `Cache-Control: no-store`.",
            "content": {
                "application/json": {
                    "examples": {
                        "active": {"value": _ACTIVE_EXAMPLE},
                        "inactive": {"value": INACTIVE},
                    }
                }
            },
        },
        400: ERROR_EXAMPLES(
            "The request is malformed.",
            {"missing_token": ("invalid_request", "token is required")},
        ),
        401: REVOCATION_ENDPOINT_DOC["responses"][401],
        403: ERROR_EXAMPLES(
            "The client may not introspect, or plain HTTP came from elsewhere than loopback.",
            {
                "not_allowed": ("unauthorized_client", "the client may not introspect tokens"),
                "https": ("invalid_request", "HTTPS is required"),
            },
        ),
        413: REVOCATION_ENDPOINT_DOC["responses"][413],
    },
    # The request body is the revocation endpoint's: token, token_type_hint, credentials.
    "openapi_extra": REVOCATION_ENDPOINT_DOC["openapi_extra"],
}


@router.post(
    "/oauth/introspect", summary="Introspect a token (RFC 7662)", **INTROSPECTION_ENDPOINT_DOC
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
        caller, _ = await authenticate_within_limits(
            request, credentials, now, read_through(session)
        )
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
    logger.debug(
        "token.introspected",
        extra={"client_id": caller.client_id, "token_id": token.token_id},
    )
    return no_store_json(introspection_answer(token, context))
