"""Token verifiers for resource servers: local JWT checks, or introspection with a short cache.

Both turn a bearer token into a ``VerifiedToken`` or raise the RFC 6750 error to answer with
(``InvalidToken``), or ``TemporarilyUnavailable`` when the issuer cannot be reached and the
token cannot be judged without it. Each has an async ``verify`` (for FastAPI and ASGI) and a
blocking ``verify_sync`` (for WSGI), sharing one cache.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import math
import ssl
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol, Self
from urllib.parse import quote_plus

import anyio.to_thread
from joserfc import jwk, jws
from joserfc.errors import JoseError
from starlette.requests import HTTPConnection

from credgate.oauth2.errors import InvalidToken, TemporarilyUnavailable
from credgate.oauth2.jwt_tokens import (
    accepted_between,
    claims_checks,
    extract_access_token,
    validate_claims,
    verify_signature,
)

if TYPE_CHECKING:
    import httpx

logger = logging.getLogger("credgate.resource")

METADATA_PATH = "/.well-known/oauth-authorization-server"


@dataclass(frozen=True)
class VerifiedToken:
    """What a handler learns about the bearer token of its request.

    >>> token.client_id, token.account_id, token.has_scopes("users:read")
    ('cgc_…', '5f0c…', True)
    """

    token_id: str
    client_id: str
    account_id: str
    scopes: frozenset[str]
    expires_at: datetime
    claims: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def has_scopes(self, *scopes: str) -> bool:
        return frozenset(scopes) <= self.scopes


class AsyncTokenVerifier(Protocol):
    """Anything that checks a bearer token in an async server (FastAPI, Starlette, ASGI)."""

    async def verify(
        self, token: str, connection: HTTPConnection | None = None
    ) -> VerifiedToken: ...


class SyncTokenVerifier(Protocol):
    """Anything that checks a bearer token in a WSGI server (Flask, Django)."""

    def verify_sync(self, token: str) -> VerifiedToken: ...


def _from_claims(claims: dict[str, Any]) -> VerifiedToken:
    try:
        return VerifiedToken(
            token_id=str(claims["jti"]),
            client_id=str(claims["client_id"]),
            account_id=str(claims["account"]),
            scopes=frozenset(str(claims.get("scope") or "").split()),
            expires_at=datetime.fromtimestamp(float(claims["exp"]), UTC),
            claims=claims,
        )
    except (KeyError, TypeError, ValueError):
        raise InvalidToken("the access token lacks required claims") from None


def _http_client(verify: ssl.SSLContext | str | bool, timeout: float) -> httpx.Client:
    # httpx (with the command-line extras it loads when installed) is imported only by a
    # verifier: the server imports this module for VerifiedToken and holds no verifier.
    import httpx

    return httpx.Client(verify=verify, timeout=timeout, follow_redirects=False)


def _discover(http: httpx.Client, issuer: str, member: str) -> str:
    """An endpoint from the issuer's RFC 8414 metadata, whose issuer must be ours (§3.3)."""
    metadata = http.get(issuer + METADATA_PATH).raise_for_status().json()
    if metadata.get("issuer") != issuer or not isinstance(metadata.get(member), str):
        raise ValueError(f"the metadata of {issuer} names another issuer or no {member}")
    return str(metadata[member])


class _HttpOwner:
    """Closes the HTTP client it made (not one it was given) on ``close()`` or ``with``."""

    _http: httpx.Client
    _owns_http: bool

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass(frozen=True, slots=True)
class _Verified:
    """A token whose signature and claims passed, with the key that signed it."""

    token: VerifiedToken
    kid: str
    key: jwk.Key
    start: float  # accepted while start <= floor(now) < end: nbf, iat and exp, with leeway
    end: float


class JwtVerifier(_HttpOwner):
    """Verifies credgate's JWT access tokens (RFC 9068) locally, against the issuer's JWKS.

    The JWKS is found through the issuer's metadata, cached for ``jwks_ttl`` seconds, and
    fetched again when a token names an unknown ``kid`` - at most once per
    ``refetch_interval``, so tokens with forged kids cannot make it flood the issuer. Tokens
    are checked for signature, ``iss``, ``aud``, ``exp`` (with ``leeway``), ``typ: at+jwt``;
    the algorithm is the published key's own, so ``alg: none`` and algorithm switching fail.
    A revoked JWT stays valid here until it expires: use introspection where that matters.

    A client reuses its token for many calls, so tokens that passed are remembered (up to
    ``max_cached_tokens``, least recently used first out; 0 turns this off), keyed by the
    SHA-256 digest of the whole token: a token differing in any byte, signature included, is
    verified afresh. A remembered token is accepted again without its signature check while
    its key is still published under its ``kid`` (a JWKS refresh that drops or replaces the
    key ends it), and ``exp``, ``nbf`` and ``iat`` are checked against the clock on every
    call. ``signatures_checked`` counts the signature checks made.

    ``await verify`` checks the token on the event loop (a fraction of a millisecond of
    CPU); only a JWKS fetch, when one is due, runs in a worker thread.

    Usage::

        verifier = JwtVerifier("https://auth.example.com", audience="https://api.example.com")
        token = verifier.verify_sync(bearer_value)   # or: await verifier.verify(bearer_value)
    """

    def __init__(
        self,
        issuer: str,
        *,
        audience: str | None = None,
        leeway: int = 30,
        jwks_ttl: float = 300.0,
        refetch_interval: float = 30.0,
        max_cached_tokens: int = 10_000,
        jwks_uri: str | None = None,
        verify: ssl.SSLContext | str | bool = True,
        timeout: float = 5.0,
        http: httpx.Client | None = None,
    ) -> None:
        self.issuer = issuer.rstrip("/")
        self.audience = audience or self.issuer
        self.leeway = leeway
        self.jwks_ttl = jwks_ttl
        self.refetch_interval = refetch_interval
        self.max_cached_tokens = max_cached_tokens
        self.signatures_checked = 0
        self._jwks_uri = jwks_uri
        self._owns_http = http is None
        self._http = http or _http_client(verify, timeout)
        self._keys: dict[str, jwk.Key] = {}
        self._published: dict[str, Any] = {}
        self._fetched_at = -float("inf")
        self._attempted_at = -float("inf")
        self._lock = threading.Lock()
        self._checks = claims_checks(self.issuer, self.audience, _now, leeway)
        self._verified: OrderedDict[bytes, _Verified] = OrderedDict()
        self._cache_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"JwtVerifier(issuer={self.issuer!r}, audience={self.audience!r})"

    async def verify(self, token: str, connection: HTTPConnection | None = None) -> VerifiedToken:
        """Check ``token``; the JWKS fetch, when one is due, runs off the event loop."""
        digest, found = self._read(token)
        kid = _kid_of(found)
        if self._fetch_due(kid):
            await anyio.to_thread.run_sync(self._refresh, kid)
        return self._check(token, digest, found, self._key(kid))

    def verify_sync(self, token: str) -> VerifiedToken:
        digest, found = self._read(token)
        kid = _kid_of(found)
        if self._fetch_due(kid):
            self._refresh(kid)
        return self._check(token, digest, found, self._key(kid))

    def _read(self, token: str) -> tuple[bytes, _Verified | jws.CompactSignature]:
        """The token's digest, and the token as verified before or else as parsed now."""
        # Keyed by a digest: the cache never holds a usable token.
        digest = hashlib.sha256(token.encode("utf-8", "surrogateescape")).digest()
        with self._cache_lock:
            verified = self._verified.get(digest)
            if verified is not None:
                self._verified.move_to_end(digest)
                return digest, verified
        return digest, extract_access_token(token)

    def _check(
        self,
        token: str,
        digest: bytes,
        found: _Verified | jws.CompactSignature,
        key: jwk.Key,
    ) -> VerifiedToken:
        if isinstance(found, _Verified):
            if found.key is key:
                return self._recheck(digest, found)
            found = extract_access_token(token)  # the key under this kid changed
        claims = verify_signature(found, key)
        self.signatures_checked += 1
        validate_claims(self._checks, claims)
        verified = _from_claims(claims)
        start, end = accepted_between(claims, self.leeway)
        self._remember(digest, _Verified(verified, _kid_of(found), key, start, end))
        return verified

    def _recheck(self, digest: bytes, verified: _Verified) -> VerifiedToken:
        """Only the clock-dependent claims of a token that passed; expired ones are let go."""
        now = _now()
        if now < verified.end and now >= verified.start:
            return verified.token
        with self._cache_lock:
            self._verified.pop(digest, None)
        if now >= verified.end:
            raise InvalidToken("the access token expired")
        raise InvalidToken("the access token is not meant for this server")

    def _remember(self, digest: bytes, verified: _Verified) -> None:
        if self.max_cached_tokens <= 0:
            return
        with self._cache_lock:
            self._verified[digest] = verified
            while len(self._verified) > self.max_cached_tokens:
                self._verified.popitem(last=False)

    def _fetch_due(self, kid: str) -> bool:
        stale = time.monotonic() - self._fetched_at > self.jwks_ttl
        return (kid not in self._keys or stale) and self._may_fetch()

    def _refresh(self, kid: str) -> None:
        with self._lock:
            # Another thread may have fetched while this one waited for the lock.
            if self._fetch_due(kid):
                self._fetch()

    def _key(self, kid: str) -> jwk.Key:
        key = self._keys.get(kid)
        if key is None:
            if self._fetched_at == -float("inf"):
                raise TemporarilyUnavailable("the issuer's keys cannot be fetched")
            raise InvalidToken("the access token's signing key is unknown")
        return key

    def _may_fetch(self) -> bool:
        return time.monotonic() - self._attempted_at >= self.refetch_interval

    def _fetch(self) -> None:
        """Replace the cached keys; on failure keep the old ones (the issuer may be down)."""
        import httpx  # loaded already by whoever made the verifier's client

        self._attempted_at = time.monotonic()
        try:
            if self._jwks_uri is None:
                self._jwks_uri = _discover(self._http, self.issuer, "jwks_uri")
            document = self._http.get(self._jwks_uri).raise_for_status().json()
            published = {str(entry["kid"]): entry for entry in document["keys"]}
            keys = {kid: self._imported(kid, entry) for kid, entry in published.items()}
        except (httpx.HTTPError, ValueError, KeyError, TypeError, JoseError) as exc:
            logger.warning(
                "jwks.fetch_failed", extra={"issuer": self.issuer, "error": type(exc).__name__}
            )
            return
        self._keys, self._published = keys, published
        self._fetched_at = time.monotonic()
        logger.info("jwks.fetched", extra={"issuer": self.issuer, "keys": len(keys)})

    def _imported(self, kid: str, entry: Any) -> jwk.Key:
        # An unchanged key keeps its object, so the tokens it verified stay remembered.
        if self._published.get(kid) == entry:
            return self._keys[kid]
        return jwk.import_key(entry)


def _now() -> int:
    return math.floor(time.time())


def _kid_of(found: _Verified | jws.CompactSignature) -> str:
    if isinstance(found, _Verified):
        return found.kid
    return str(found.headers()["kid"])


class IntrospectionVerifier(_HttpOwner):
    """Verifies any credgate token (opaque or JWT) by asking the issuer (RFC 7662).

    The caller is a client created with ``credgate clients create --introspect``, in the
    account whose tokens it checks. Answers are cached for at most ``revocation_delay``
    seconds (never past the token's expiry), in a cache of at most ``max_entries`` tokens,
    so a revoked token is refused within that delay.

    Usage::

        verifier = IntrospectionVerifier(
            "https://auth.example.com", client_id="cgc_…", client_secret=secret,
            revocation_delay=5,
        )
        token = await verifier.verify(bearer_value)
    """

    def __init__(
        self,
        issuer: str,
        *,
        client_id: str,
        client_secret: str,
        revocation_delay: float = 5.0,
        max_entries: int = 10_000,
        introspection_endpoint: str | None = None,
        verify: ssl.SSLContext | str | bool = True,
        timeout: float = 5.0,
        http: httpx.Client | None = None,
    ) -> None:
        self.issuer = issuer.rstrip("/")
        self.revocation_delay = revocation_delay
        self.max_entries = max_entries
        self._client_id = client_id
        self._client_secret = client_secret
        self._endpoint = introspection_endpoint
        self._owns_http = http is None
        self._http = http or _http_client(verify, timeout)
        self._cache: OrderedDict[str, tuple[float, VerifiedToken | None]] = OrderedDict()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"IntrospectionVerifier(issuer={self.issuer!r}, client_id={self._client_id!r})"

    async def verify(self, token: str, connection: HTTPConnection | None = None) -> VerifiedToken:
        return await anyio.to_thread.run_sync(self.verify_sync, token)

    def verify_sync(self, token: str) -> VerifiedToken:
        # Keyed by a digest: the cache never holds a usable token.
        key = hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()
        cached = self._cached(key)
        if cached is None:
            cached = self._introspect(token)
            self._remember(key, cached)
        if cached[1] is None:
            raise InvalidToken("the access token is not active")
        return cached[1]

    def _cached(self, key: str) -> tuple[float, VerifiedToken | None] | None:
        with self._lock:
            entry = self._cache.get(key)
            if entry is None or entry[0] <= time.monotonic():
                self._cache.pop(key, None)
                return None
            self._cache.move_to_end(key)
            return entry

    def _remember(self, key: str, entry: tuple[float, VerifiedToken | None]) -> None:
        with self._lock:
            self._cache[key] = entry
            self._cache.move_to_end(key)
            while len(self._cache) > self.max_entries:
                self._cache.popitem(last=False)

    def _introspect(self, token: str) -> tuple[float, VerifiedToken | None]:
        """Ask the issuer; return until when the answer may be reused, and the token or None."""
        import httpx  # loaded already by whoever made the verifier's client

        try:
            if self._endpoint is None:
                self._endpoint = _discover(self._http, self.issuer, "introspection_endpoint")
            response = self._http.post(
                self._endpoint,
                data={"token": token, "token_type_hint": "access_token"},
                headers={"Authorization": self._basic()},
            )
        except (httpx.HTTPError, ValueError) as exc:
            logger.warning(
                "introspection.failed", extra={"issuer": self.issuer, "error": type(exc).__name__}
            )
            raise TemporarilyUnavailable("the token issuer cannot be reached") from None
        if response.status_code != 200:
            # A refused caller is a configuration fault of this server, not of the token.
            logger.error(
                "introspection.refused",
                extra={"issuer": self.issuer, "status": response.status_code},
            )
            raise TemporarilyUnavailable("the token issuer refused to introspect")
        answer = response.json()
        until = time.monotonic() + self.revocation_delay
        if answer.get("active") is not True:
            return until, None
        token_facts = _from_claims(answer)
        lifetime = token_facts.expires_at.timestamp() - time.time()
        return min(until, time.monotonic() + lifetime), token_facts

    def _basic(self) -> str:
        # RFC 6749 §2.3.1: form-encode id and secret before base64.
        pair = f"{quote_plus(self._client_id)}:{quote_plus(self._client_secret)}"
        return "Basic " + base64.b64encode(pair.encode()).decode("ascii")
