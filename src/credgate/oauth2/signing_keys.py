"""Keys that sign JWT access tokens: made on first need, rotated, published as a JWKS.

The private half of each key is stored encrypted with AES-GCM under a key derived (HKDF) from
the server's hashing key, so a copy of the database alone signs nothing. The public half is
published at ``/.well-known/jwks.json`` (RFC 7517) while tokens it signed can still be live.
"""

from __future__ import annotations

import base64
import json
import logging
import os
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from joserfc import jwk

from credgate.oauth2.errors import TemporarilyUnavailable
from credgate.storage import signing_keys as key_store
from credgate.storage.database import AsyncSession
from credgate.storage.models import SigningKey

logger = logging.getLogger("credgate.oauth2")

# RFC 9864 names EdDSA over Ed25519 "Ed25519"; the older polymorphic "EdDSA" is deprecated.
ALGORITHMS = ("ES256", "Ed25519", "RS256")

# Tokens signed by a transaction that read the old key just before a rotation committed may
# be issued a moment after it: the old key stays published this much longer than they live.
_ROTATION_MARGIN = timedelta(seconds=60)

_HKDF_INFO = b"credgate signing-key encryption v1"
_NONCE_BYTES = 12

KeyType = Literal["EC", "OKP", "RSA"]


def _generate(algorithm: str) -> jwk.Key:
    if algorithm == "ES256":
        return jwk.generate_key("EC", "P-256")
    if algorithm == "Ed25519":
        return jwk.generate_key("OKP", "Ed25519")
    if algorithm == "RS256":
        return jwk.generate_key("RSA", 2048)
    raise ValueError(f"unsupported signing algorithm {algorithm!r}")


@dataclass(frozen=True)
class KeyCipher:
    """AES-GCM encryption of private keys under a key derived from the hashing key."""

    key: bytes = field(repr=False)

    @classmethod
    def from_hash_key(cls, hash_key: bytes) -> KeyCipher:
        # HKDF (RFC 5869) with its own info string: a key for this use only, never the
        # hashing key itself.
        hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_HKDF_INFO)
        return cls(hkdf.derive(hash_key))

    def encrypt(self, kid: str, plaintext: bytes) -> str:
        nonce = os.urandom(_NONCE_BYTES)
        sealed = AESGCM(self.key).encrypt(nonce, plaintext, kid.encode())
        return base64.b64encode(nonce + sealed).decode("ascii")

    def decrypt(self, kid: str, stored: str) -> bytes:
        raw = base64.b64decode(stored)
        # The kid is the associated data: a ciphertext moved to another row does not open.
        return AESGCM(self.key).decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], kid.encode())


def public_jwk(key: jwk.Key, kid: str, algorithm: str) -> dict[str, Any]:
    """The public half of a key as a JWK, with no private member whatever the key type."""
    public = dict(key.as_dict(private=False))
    return {**public, "kid": kid, "alg": algorithm, "use": "sig"}


def state_of(key: SigningKey, now: datetime) -> str:
    if key.retired_at is None:
        return "active"
    if key.not_after is not None and key.not_after <= now:
        return "expired"
    return "retired"


class SigningKeys:
    """Finding, making and opening signing keys; opened keys are kept in memory by kid.

    Keys never change once made, so the cache needs no invalidation; the active key is read
    from the database for each token, so a rotation on one instance takes effect on all.
    """

    def __init__(self, cipher: KeyCipher, algorithm: str) -> None:
        self._cipher = cipher
        self._algorithm = algorithm
        self._opened: dict[str, jwk.Key] = {}
        self._public: dict[str, tuple[jwk.Key, datetime | None]] = {}

    def __repr__(self) -> str:
        return f"SigningKeys(algorithm={self._algorithm!r})"

    async def active_key(self, session: AsyncSession, now: datetime) -> tuple[str, str, jwk.Key]:
        """Kid, algorithm and private key to sign with; made on first need, and anew when the
        algorithm setting changed."""
        row = await key_store.find_active_key(session)
        if row is None or row.algorithm != self._algorithm:
            row = await self.rotate(session, now)
        return row.kid, row.algorithm, self._open(row)

    async def public_key(self, session: AsyncSession, kid: str, now: datetime) -> jwk.Key | None:
        """The published key named ``kid``, or None when there is none (or no longer).

        A kept key may have been retired since; that only matters once its tokens expired,
        and expired tokens are refused by their own ``exp`` and row anyway.
        """
        kept = self._public.get(kid)
        if kept is None:
            row = await key_store.find_signing_key(session, kid)
            if row is None:
                return None
            kept = (jwk.import_key(row.public_jwk), row.not_after)
            self._public[kid] = kept
        key, not_after = kept
        return None if not_after is not None and not_after <= now else key

    async def rotate(self, session: AsyncSession, now: datetime) -> SigningKey:
        """Make a new active key; the others retire and stay published while their tokens live."""
        key = _generate(self._algorithm)
        kid = key.thumbprint()
        private = json.dumps(key.as_dict(private=True)).encode()
        row = SigningKey(
            kid=kid,
            algorithm=self._algorithm,
            public_jwk=public_jwk(key, kid, self._algorithm),
            private_key_encrypted=self._cipher.encrypt(kid, private),
            created_at=now,
        )
        await key_store.save_signing_key(session, row)
        not_after = await _last_token_end(session, now)
        retired = await key_store.retire_keys(session, kid, now, not_after)
        self._opened[kid] = key
        logger.info(
            "signing_key.created",
            extra={"kid": kid, "algorithm": self._algorithm, "retired": retired},
        )
        return row

    def _open(self, row: SigningKey) -> jwk.Key:
        opened = self._opened.get(row.kid)
        if opened is None:
            try:
                data = json.loads(self._cipher.decrypt(row.kid, row.private_key_encrypted))
            except InvalidTag:
                # Another hashing key sealed it: instances sharing a database must share
                # CREDGATE_HASH_KEY. Not this request's fault, and not one to retry forever.
                logger.error("signing_key.unreadable", extra={"kid": row.kid})
                raise TemporarilyUnavailable("the signing key cannot be opened") from None
            opened = jwk.import_key(data)
            self._opened[row.kid] = opened
        return opened


async def _last_token_end(session: AsyncSession, now: datetime) -> datetime:
    """A moment after which no token signed by a key retired ``now`` can be live.

    Tokens are not tagged with their kid, so this takes the later of the last live token's
    expiry and ``now`` plus the longest lifetime a client can get a token for.
    """
    longest_ttl = await key_store.find_longest_token_ttl(session) or 0
    candidates = [now + timedelta(seconds=longest_ttl)]
    latest = await key_store.find_latest_token_expiry(session)
    if latest is not None:
        candidates.append(latest)
    return max(candidates) + _ROTATION_MARGIN


async def published_jwks(session: AsyncSession, now: datetime) -> dict[str, Any]:
    """The JWK Set of every key whose tokens may still be live; public members only."""
    rows = await key_store.list_published_keys(session, now)
    return {"keys": [dict(row.public_jwk) for row in rows]}
