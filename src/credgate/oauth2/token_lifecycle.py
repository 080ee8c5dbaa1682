"""A token's own lifecycle by ``token_id``: read it, renew it, revoke it.

A client holding a live token can renew it without presenting its secret again; the old
token ends after a short overlap so calls in flight finish. Renewal chains are capped by a
maximum age counted from the last Create Token with the secret.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse, Response

from credgate.oauth2.bearer import extract_bearer_token, has_bearer
from credgate.oauth2.client_auth import read_through
from credgate.oauth2.endpoints import NO_STORE, client_address, no_store_json, runtime_of
from credgate.oauth2.errors import InvalidToken, NotFound
from credgate.oauth2.jwt_tokens import jwt_context
from credgate.oauth2.openapi import (
    BEARER_ERRORS,
    ERROR_EXAMPLES,
    ERROR_RESPONSE,
    RENEWAL_ERRORS,
    TOKEN_EXAMPLE,
    TOKEN_SCHEMA,
)
from credgate.oauth2.rate_limits import authenticate_within_limits
from credgate.oauth2.requests import extract_client_credentials, read_oauth_request
from credgate.oauth2.tokens import (
    ValidToken,
    describe_token,
    log_issued,
    renew_token,
    revoke_token,
    validate_access_token,
)
from credgate.storage import clients as client_store
from credgate.storage import tokens as token_store
from credgate.storage.database import AsyncSession
from credgate.storage.models import utcnow

router = APIRouter(tags=["OAuth 2.0"])

_BEARER_ERRORS: dict[int | str, dict[str, Any]] = {
    401: BEARER_ERRORS[401],
    404: ERROR_EXAMPLES(
        "No such token, or the bearer is not that token.",
        {"missing": ("not_found", "no such token")},
    ),
}


async def _bearer_for(request: Request, session: AsyncSession, token_id: str) -> ValidToken:
    """The bearer token of the request, which must be the token named in the path."""
    runtime = runtime_of(request)
    value = extract_bearer_token(request)
    token = await validate_access_token(
        session,
        runtime.hasher,
        value,
        utcnow(),
        jwt=jwt_context(request),
        cache=runtime.token_cache,
    )
    if token.token_id != token_id:
        raise NotFound("no such token")
    return token


@router.get(
    "/oauth/tokens/{token_id}",
    summary="Describe a token",
    responses={200: {"description": "The token's client, scope and times."}, **_BEARER_ERRORS},
)
async def get_token(request: Request, token_id: str) -> JSONResponse:
    runtime = runtime_of(request)
    async with runtime.sessions() as session:
        token = await _bearer_for(request, session, token_id)
    return no_store_json(describe_token(token))


@router.post(
    "/oauth/tokens/{token_id}/renew",
    summary="Renew a token",
    responses={
        200: {
            "description": "A fresh token; the old one ends after the overlap.",
            "content": {"application/json": {"schema": TOKEN_SCHEMA, "example": TOKEN_EXAMPLE}},
        },
        **RENEWAL_ERRORS,
        **_BEARER_ERRORS,
    },
)
async def renew(request: Request, token_id: str) -> JSONResponse:
    runtime = runtime_of(request)
    settings = runtime.settings
    now = utcnow()
    async with runtime.sessions.begin() as session:
        current = await _bearer_for(request, session, token_id)
        client = await client_store.find_client(session, current.client_id)
        if client is None:
            raise InvalidToken("the client of the access token is gone")
        issued = await renew_token(
            session,
            runtime.hasher,
            current,
            client,
            now,
            overlap=settings.renewal_overlap,
            max_age=settings.renewal_max_age,
            jwt=jwt_context(request),
        )
    log_issued(issued, "renewal")
    return no_store_json(issued.response())


@router.delete(
    "/oauth/tokens/{token_id}",
    summary="Revoke a token by its id",
    status_code=204,
    responses={
        401: ERROR_RESPONSE("invalid_token or invalid_client."),
        404: _BEARER_ERRORS[404],
    },
)
async def delete_token(request: Request, token_id: str) -> Response:
    runtime = runtime_of(request)
    now = utcnow()
    async with runtime.sessions.begin() as session:
        if has_bearer(request):
            owner = (await _bearer_for(request, session, token_id)).client_id
        else:
            oauth = await read_oauth_request(request, runtime.settings.max_body_bytes)
            credentials = extract_client_credentials(request, oauth)
            client, _ = await authenticate_within_limits(
                request, credentials, now, read_through(session)
            )
            owner = client.client_id
        token = await token_store.find_token(session, token_id)
        if token is None or token.client_id != owner:
            raise NotFound("no such token")
        await revoke_token(
            session, token, now, actor=f"client:{owner}", source_address=client_address(request)
        )
    return Response(status_code=204, headers=NO_STORE)
