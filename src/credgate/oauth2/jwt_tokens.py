"""JWT access tokens (RFC 9068): their claims, signing and verification.

A JWT access token is an alternative format for the same token: it still has its stored row
(by keyed hash, like an opaque token), so it is listed, renewed and revoked by ``token_id``.
Resource servers may verify it locally against the JWKS; the server itself also checks the row.
"""

from __future__ import annotations

import math
from datetime import datetime
from functools import cached_property
from typing import Any

from joserfc import jws, jwt
from joserfc.errors import ClaimError, ExpiredTokenError, JoseError
from joserfc.jwk import Key
from starlette.requests import HTTPConnection

from credgate.oauth2.endpoints import runtime_of
from credgate.oauth2.errors import InvalidToken
from credgate.oauth2.metadata import issuer_of
from credgate.oauth2.signing_keys import ALGORITHMS, KeyCipher, SigningKeys
from credgate.runtime import load_hash_key
from credgate.storage.database import AsyncSession
from credgate.storage.models import Client

# RFC 9068 §2.1: the "typ" header of an access token; §4 lets verifiers accept both spellings.
TOKEN_TYPE = "at+jwt"  # noqa: S105 - a media type, not a secret
_ACCEPTED_TYPES = {"at+jwt", "application/at+jwt"}

_REQUIRED_CLAIMS = ("iss", "exp", "aud", "sub", "client_id", "iat", "jti")


def looks_like_jwt(value: str) -> bool:
    """True for a JWS compact serialization (three parts, a JSON header): not an opaque token."""
    return value.count(".") == 2 and value.startswith("eyJ")


def access_token_claims(
    *,
    issuer: str,
    audience: str,
    client: Client,
    token_id: str,
    scope: str,
    issued_at: datetime,
    expires_at: datetime,
) -> dict[str, Any]:
    """RFC 9068 §2.2 claims; ``account`` is credgate's own, the tenant the token acts for."""
    return {
        "iss": issuer,
        "sub": client.client_id,  # §2.2: the client itself, as no user is involved
        "aud": audience,
        "exp": math.floor(expires_at.timestamp()),
        "iat": math.floor(issued_at.timestamp()),
        "jti": token_id,
        "client_id": client.client_id,
        "scope": scope,
        "account": client.account_id,
    }


def sign_access_token(claims: dict[str, Any], kid: str, key: Key, algorithm: str) -> str:
    header = {"alg": algorithm, "kid": kid, "typ": TOKEN_TYPE}
    return jwt.encode(header, claims, key, algorithms=[algorithm], default_type=None)


def read_header(value: str) -> dict[str, Any]:
    """The unverified protected header: only to pick the key, never to trust anything."""
    try:
        header = jws.extract_compact(value.encode("ascii")).headers()
    except (JoseError, ValueError, UnicodeError):
        raise InvalidToken("the access token is malformed") from None
    if str(header.get("typ", "")).lower() not in _ACCEPTED_TYPES:
        raise InvalidToken("the token is not a JWT access token")
    if not isinstance(header.get("kid"), str):
        raise InvalidToken("the access token names no signing key")
    return dict(header)


def verify_access_token(
    value: str, key: Key, *, issuer: str, audience: str, now: float, leeway: int = 0
) -> dict[str, Any]:
    """Check a JWT access token's signature and claims (RFC 9068 §4); return its claims.

    The algorithm is the key's own, never the token's: a token whose header names another
    one (``none``, or HS256 keyed with the public key) is refused before any signature check.
    """
    algorithm = key.alg
    if algorithm not in ALGORITHMS:
        raise InvalidToken("the signing key has no usable algorithm")
    try:
        token = jwt.decode(value, key, algorithms=[algorithm])
    except JoseError:
        raise InvalidToken("the access token signature is not valid") from None
    if str(token.header.get("typ", "")).lower() not in _ACCEPTED_TYPES:
        raise InvalidToken("the token is not a JWT access token")

    options: dict[str, Any] = {name: {"essential": True} for name in _REQUIRED_CLAIMS}
    options["iss"]["value"] = issuer
    options["aud"]["value"] = audience
    registry = jwt.JWTClaimsRegistry(now=math.floor(now), leeway=leeway, **options)
    try:
        registry.validate(token.claims)
    except ExpiredTokenError:
        raise InvalidToken("the access token expired") from None
    except ClaimError:
        raise InvalidToken("the access token is not meant for this server") from None
    return dict(token.claims)


class JwtContext:
    """What the server needs to issue and check JWT access tokens for one request.

    Built for every token request and bearer call, used only for JWTs: the issuer (read from
    the request when not configured) and the keys are worked out on first use.
    """

    def __init__(self, connection: HTTPConnection) -> None:
        self._connection = connection
        self.default_format = runtime_of(connection).settings.token_format

    @cached_property
    def issuer(self) -> str:
        return issuer_of(self._connection)

    @cached_property
    def audience(self) -> str:
        return runtime_of(self._connection).settings.token_audience or self.issuer

    @cached_property
    def keys(self) -> SigningKeys:
        return signing_keys_of(self._connection)

    def wants_jwt(self, client: Client) -> bool:
        return (client.token_format or self.default_format) == "jwt"

    async def encode(
        self,
        session: AsyncSession,
        client: Client,
        token_id: str,
        scope: str,
        issued_at: datetime,
        expires_at: datetime,
    ) -> str:
        kid, algorithm, key = await self.keys.active_key(session, issued_at)
        claims = access_token_claims(
            issuer=self.issuer,
            audience=self.audience,
            client=client,
            token_id=token_id,
            scope=scope,
            issued_at=issued_at,
            expires_at=expires_at,
        )
        return sign_access_token(claims, kid, key, algorithm)

    async def verify(self, session: AsyncSession, value: str, now: datetime) -> dict[str, Any]:
        """Signature and claims; the caller still checks the token's row (revocation)."""
        header = read_header(value)
        key = await self.keys.public_key(session, header["kid"], now)
        if key is None:
            raise InvalidToken("the access token's signing key is unknown")
        return verify_access_token(
            value, key, issuer=self.issuer, audience=self.audience, now=now.timestamp()
        )


def signing_keys_of(connection: HTTPConnection) -> SigningKeys:
    """The process's signing keys, opened once and kept on the application state."""
    state = connection.app.state
    keys: SigningKeys | None = getattr(state, "signing_keys", None)
    if keys is None:
        settings = runtime_of(connection).settings
        cipher = KeyCipher.from_hash_key(load_hash_key(settings))
        keys = SigningKeys(cipher, settings.jwt_algorithm)
        state.signing_keys = keys
    return keys


def jwt_context(connection: HTTPConnection) -> JwtContext:
    """Issuer, audience and keys for JWTs issued or checked while answering ``connection``."""
    return JwtContext(connection)
