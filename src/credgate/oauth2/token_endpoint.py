"""Create Token: ``POST /oauth/token`` with the client credentials grant (RFC 6749 §4.4)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse

from credgate.oauth2.endpoints import no_store_json, runtime_of
from credgate.oauth2.errors import InvalidRequest, UnsupportedGrantType
from credgate.oauth2.jwt_tokens import jwt_context
from credgate.oauth2.openapi import TOKEN_ENDPOINT_DOC
from credgate.oauth2.rate_limits import authenticate_within_limits, rate_limiter_of
from credgate.oauth2.requests import OAuthRequest, extract_client_credentials, read_oauth_request
from credgate.oauth2.scopes import grant_scope, parse_scope
from credgate.oauth2.tokens import issue_token_durably, log_issued
from credgate.storage.models import utcnow
from credgate.usage import USAGE

router = APIRouter(tags=["OAuth 2.0"])

CLIENT_CREDENTIALS = "client_credentials"


def _grant_type(oauth: OAuthRequest) -> str:
    grant_type = oauth.params.get("grant_type")
    if grant_type is None and oauth.is_json:
        return CLIENT_CREDENTIALS  # JSON callers may leave the only grant implicit.
    if grant_type is None:
        raise InvalidRequest("grant_type is required")
    if grant_type != CLIENT_CREDENTIALS:
        # RFC 6749 §4.4.3: no refresh token here, and no password grant either.
        raise UnsupportedGrantType("only the client_credentials grant is supported")
    return grant_type


@router.post("/oauth/token", summary="Create Token", **TOKEN_ENDPOINT_DOC)
async def create_token(request: Request) -> JSONResponse:
    runtime = runtime_of(request)
    oauth = await read_oauth_request(request, runtime.settings.max_body_bytes)
    grant_type = _grant_type(oauth)
    credentials = extract_client_credentials(request, oauth)

    now = utcnow()
    client, secret = await authenticate_within_limits(
        request, credentials, now, runtime.clients.find
    )
    request.state.client_id = client.client_id  # labels a later refusal in the metrics
    scopes = grant_scope(oauth.params.get("scope"), parse_scope(client.scope))
    await rate_limiter_of(request).check_token_quota(client.client_id, client.token_quota_per_hour)
    # Answered only once the token's row is committed: a token the database does not know
    # would be refused by the very API it was issued for.
    issued = await issue_token_durably(
        runtime, client, scopes, now, secret_id=secret.id, jwt=jwt_context(request)
    )

    USAGE.count_token_issued(client, now)
    log_issued(issued, grant_type)
    return no_store_json(issued.response())
