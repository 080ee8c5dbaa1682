"""JWT access tokens (RFC 9068): their claims, signing and verification.

A JWT access token is an alternative format for the same token: it still has its stored row
(by keyed hash, like an opaque token), so it is listed, renewed and revoked by ``token_id``.
Resource servers may verify it locally against the JWKS; the server itself also checks the row.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
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


def extract_access_token(value: str) -> jws.CompactSignature:
    """The token parsed once, its protected header checked for ``typ`` and ``kid``: unverified,
    only to pick the key, never to trust anything."""
    try:
        token = jws.extract_compact(value.encode("ascii"))
    except (JoseError, ValueError, UnicodeError):
        raise InvalidToken("the access token is malformed") from None
    header = token.headers()
    if str(header.get("typ", "")).lower() not in _ACCEPTED_TYPES:
        raise InvalidToken("the token is not a JWT access token")
    if not isinstance(header.get("kid"), str):
        raise InvalidToken("the access token names no signing key")
    return token


def read_header(value: str) -> dict[str, Any]:
    """The unverified protected header: only to pick the key, never to trust anything."""
    return dict(extract_access_token(value).headers())


# One registry per algorithm, built once: each admits that algorithm alone.
_SIGNATURE_REGISTRIES = {name: jws.JWSRegistry(algorithms=[name]) for name in ALGORITHMS}


def verify_signature(token: jws.CompactSignature, key: Key) -> dict[str, Any]:
    """The claims of ``token`` once its signature is checked; the claims are not checked yet.

    The algorithm is the key's own, never the token's: a token whose header names another
    one (``none``, or HS256 keyed with the public key) is refused before any signature check.
    """
    registry = _SIGNATURE_REGISTRIES.get(str(key.alg))
    if registry is None:
        raise InvalidToken("the signing key has no usable algorithm")
    try:
        valid = jws.validate_compact(token, key, registry=registry)
        claims = json.loads(token.payload) if valid else None
    except (JoseError, ValueError):
        valid = False
    if not valid or not isinstance(claims, dict):
        raise InvalidToken("the access token signature is not valid")
    return claims


def claims_checks(
    issuer: str, audience: str, now: int | Callable[[], int], leeway: int = 0
) -> jwt.JWTClaimsRegistry:
    """RFC 9068 §4 claims checks; ``now`` may be a clock, for checks built once and reused."""
    options: dict[str, Any] = {name: {"essential": True} for name in _REQUIRED_CLAIMS}
    options["iss"]["value"] = issuer
    options["aud"]["value"] = audience
    return jwt.JWTClaimsRegistry(now=now, leeway=leeway, **options)


def validate_claims(checks: jwt.JWTClaimsRegistry, claims: dict[str, Any]) -> None:
    try:
        checks.validate(claims)
    except ExpiredTokenError:
        raise InvalidToken("the access token expired") from None
    except ClaimError:
        raise InvalidToken("the access token is not meant for this server") from None


def accepted_between(claims: dict[str, Any], leeway: int = 0) -> tuple[float, float]:
    """The times (``now`` as ``claims_checks`` floors it) at which the clock-dependent claims
    of claims that passed ``validate_claims`` still pass: ``start <= now < end``.

    The same comparisons as the claims checks, worked out once: ``exp`` fails from
    ``exp + leeway`` on, ``nbf`` and ``iat`` before ``value - leeway``.
    """
    starts = [claims[name] for name in ("nbf", "iat") if name in claims]
    return max(starts, default=-math.inf) - leeway, claims["exp"] + leeway


def verify_access_token(
    value: str, key: Key, *, issuer: str, audience: str, now: float, leeway: int = 0
) -> dict[str, Any]:
    """Check a JWT access token's signature and claims (RFC 9068 §4); return its claims."""
    claims = verify_signature(extract_access_token(value), key)
    validate_claims(claims_checks(issuer, audience, math.floor(now), leeway), claims)
    return claims


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
        token = extract_access_token(value)
        key = await self.keys.public_key(session, token.headers()["kid"], now)
        if key is None:
            raise InvalidToken("the access token's signing key is unknown")
        claims = verify_signature(token, key)
        checks = claims_checks(self.issuer, self.audience, math.floor(now.timestamp()))
        validate_claims(checks, claims)
        return claims


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
