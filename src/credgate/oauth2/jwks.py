"""The JWK Set of the keys that sign JWT access tokens: ``GET /.well-known/jwks.json``."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse

from credgate.oauth2.endpoints import runtime_of
from credgate.oauth2.signing_keys import published_jwks
from credgate.storage.models import utcnow

router = APIRouter(tags=["OAuth 2.0"])


@router.get(
    "/.well-known/jwks.json",
    summary="Public keys of JWT access tokens (RFC 7517)",
    responses={200: {"description": "The JWK Set: public members only, never a private key."}},
)
async def jwks(request: Request) -> JSONResponse:
    async with runtime_of(request).sessions() as session:
        document = await published_jwks(session, utcnow())
    # Caches must revalidate: a verifier that meets an unknown kid refetches, and must then
    # see the key that was just rotated in.
    return JSONResponse(document, headers={"Cache-Control": "public, no-cache"})
