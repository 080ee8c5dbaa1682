"""Token revocation (RFC 7009): ``POST /oauth/revoke``."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from credgate.credentials import is_well_formed_token
from credgate.oauth2.client_auth import read_through
from credgate.oauth2.endpoints import NO_STORE, client_address, runtime_of
from credgate.oauth2.errors import InvalidRequest
from credgate.oauth2.jwt_tokens import looks_like_jwt
from credgate.oauth2.openapi import REVOCATION_ENDPOINT_DOC
from credgate.oauth2.rate_limits import authenticate_within_limits
from credgate.oauth2.requests import extract_client_credentials, read_oauth_request
from credgate.oauth2.tokens import revoke_token
from credgate.storage import tokens as token_store
from credgate.storage.models import utcnow

router = APIRouter(tags=["OAuth 2.0"])


@router.post(
    "/oauth/revoke",
    summary="Revoke a token (RFC 7009)",
    response_class=Response,  # RFC 7009 §2.2: the 200 has no body to document
    **REVOCATION_ENDPOINT_DOC,
)
async def revoke(request: Request) -> Response:
    runtime = runtime_of(request)
    oauth = await read_oauth_request(request, runtime.settings.max_body_bytes)
    credentials = extract_client_credentials(request, oauth)
    value = oauth.params.get("token")

    now = utcnow()
    async with runtime.sessions.begin() as session:
        client, _ = await authenticate_within_limits(
            request, credentials, now, read_through(session)
        )
        if value is None:
            raise InvalidRequest("token is required")
        # RFC 7009 §2.2: unknown tokens, and other clients' tokens, get the same 200.
        if not is_well_formed_token(value) and not looks_like_jwt(value):
            return Response(status_code=200, headers=NO_STORE)
        found = await token_store.find_token_by_hash(session, runtime.hasher.hash(value))
        if found is None or found[0].client_id != client.client_id:
            return Response(status_code=200, headers=NO_STORE)
        await revoke_token(
            session,
            found[0],
            now,
            actor=f"client:{client.client_id}",
            source_address=client_address(request),
        )
    return Response(status_code=200, headers=NO_STORE)
