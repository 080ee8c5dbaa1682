"""Formats of client ids, secrets and tokens, and how they are hashed at rest.

A generated secret or token reads ``<prefix>_<43 base62 chars><6 base62 chars of CRC32>``:
256 bits of randomness, a prefix that secret scanners can match, and a checksum that lets a
mistyped or forged value be refused without reading the database. Base62 is left unchanged by
form-urlencoding, so clients that forget to encode still send the right bytes.

Only an HMAC-SHA-256 of each value, keyed with a server-side key, is ever stored: for random
values of this size a keyed fast hash is as safe as a slow password hash, and far cheaper.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import zlib

BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_BASE62_SET = frozenset(BASE62)

CLIENT_ID_PREFIX = "cgc"
SECRET_PREFIX = "cgs"  # noqa: S105 - a prefix, not a secret
TOKEN_PREFIX = "cgt"  # noqa: S105 - a prefix, not a token
ADMIN_API_KEY_PREFIX = "cgk"

_BODY_LENGTH = 43  # 62**43 > 2**256
_CHECKSUM_LENGTH = 6  # 62**6 > 2**32
_CLIENT_ID_LENGTH = 22  # about 131 bits: ids are public, uniqueness is all they need

MIN_IMPORTED_SECRET_LENGTH = 32


def _base62(number: int, width: int) -> str:
    digits = []
    for _ in range(width):
        number, remainder = divmod(number, 62)
        digits.append(BASE62[remainder])
    return "".join(reversed(digits))


# Random bytes to base62 by rejection: bytes under 248 (4 times 62) map uniformly onto the 62
# digits, the rest are dropped ("*"). Done by bytes.translate, off the per-character loop.
_UNIFORM_LIMIT = 248
_BYTE_TO_DIGIT = bytes(
    ord(BASE62[byte % 62]) if byte < _UNIFORM_LIMIT else ord("*") for byte in range(256)
)


def _random_base62(length: int) -> str:
    digits = b""
    while len(digits) < length:
        raw = secrets.token_bytes(length + 8)
        digits += raw.translate(_BYTE_TO_DIGIT).replace(b"*", b"")
    return digits[:length].decode("ascii")


def _checksum(prefix: str, body: str) -> str:
    return _base62(zlib.crc32(f"{prefix}_{body}".encode()), _CHECKSUM_LENGTH)


def _generate(prefix: str) -> str:
    body = _random_base62(_BODY_LENGTH)
    return f"{prefix}_{body}{_checksum(prefix, body)}"


def _is_well_formed(value: str, prefix: str) -> bool:
    head = prefix + "_"
    if len(value) != len(head) + _BODY_LENGTH + _CHECKSUM_LENGTH or not value.startswith(head):
        return False
    rest = value[len(head) :]
    if not _BASE62_SET.issuperset(rest):
        return False
    body, checksum = rest[:_BODY_LENGTH], rest[_BODY_LENGTH:]
    return hmac.compare_digest(checksum, _checksum(prefix, body))


def generate_client_id() -> str:
    return f"{CLIENT_ID_PREFIX}_{_random_base62(_CLIENT_ID_LENGTH)}"


def looks_like_client_id(value: str) -> bool:
    """True when ``value`` has the shape of an id from ``generate_client_id``."""
    head = CLIENT_ID_PREFIX + "_"
    rest = value[len(head) :]
    return (
        value.startswith(head) and len(rest) == _CLIENT_ID_LENGTH and _BASE62_SET.issuperset(rest)
    )


def generate_client_secret() -> str:
    return _generate(SECRET_PREFIX)


def generate_access_token() -> str:
    return _generate(TOKEN_PREFIX)


def is_well_formed_token(value: str) -> bool:
    """True when ``value`` has the access-token shape and a matching checksum."""
    return _is_well_formed(value, TOKEN_PREFIX)


def generate_admin_api_key() -> str:
    return _generate(ADMIN_API_KEY_PREFIX)


def is_well_formed_admin_api_key(value: str) -> bool:
    """True when ``value`` has the admin API key shape and a matching checksum."""
    return _is_well_formed(value, ADMIN_API_KEY_PREFIX)


def looks_like_generated_secret(value: str) -> bool:
    return value.startswith(SECRET_PREFIX + "_")


def is_acceptable_secret(value: str) -> bool:
    """Whether a presented secret may be checked against the database at all.

    Secrets that carry credgate's prefix must also carry a valid checksum; imported secrets
    from other systems have no checksum and are only held to the minimum length.
    """
    if looks_like_generated_secret(value):
        return _is_well_formed(value, SECRET_PREFIX)
    # Imported secrets are printable (``validate_imported_secret``), so nothing else matches.
    return len(value) >= MIN_IMPORTED_SECRET_LENGTH and value.isprintable()


def validate_imported_secret(value: str) -> None:
    """Raise ``ValueError`` when a secret brought from another system is unfit to use."""
    if len(value) < MIN_IMPORTED_SECRET_LENGTH:
        raise ValueError(f"an imported secret needs at least {MIN_IMPORTED_SECRET_LENGTH} chars")
    if not value.isprintable():
        raise ValueError("an imported secret must hold printable characters only")
    if looks_like_generated_secret(value) and not _is_well_formed(value, SECRET_PREFIX):
        raise ValueError(f"a secret starting with {SECRET_PREFIX}_ must carry a valid checksum")


def secret_hint(value: str) -> str:
    """The last four characters: enough for an admin to tell secrets apart, useless to guess."""
    return value[-4:]


class CredentialHasher:
    """Keyed hashing of secrets and tokens (HMAC-SHA-256) and their constant-time check."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 32:
            raise ValueError("the hashing key must be at least 32 bytes")
        self._key = key

    def __repr__(self) -> str:
        return "CredentialHasher(key=***)"

    def hash(self, value: str) -> str:
        return hmac.new(self._key, value.encode("utf-8"), hashlib.sha256).hexdigest()

    def matches(self, value: str, stored_hash: str) -> bool:
        return hmac.compare_digest(self.hash(value), stored_hash)
