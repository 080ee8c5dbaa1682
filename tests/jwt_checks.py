"""Helpers shared by the JWT, introspection and resource-kit tests."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from joserfc import jwk, jwt

from conftest import LiveServer, Seeded
from credgate import management
from credgate.oauth2.signing_keys import KeyCipher
from credgate.runtime import load_hash_key
from credgate.storage import signing_keys as key_store


def with_hash_key(tmp: Path, key: bytes) -> Path:
    """``tmp`` prepared for ``start_server`` with this hashing key in its data directory."""
    data_dir = tmp / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "hash.key").write_text(key.hex())
    return tmp


def sharing_hash_key(tmp: Path, server: LiveServer) -> Path:
    """``tmp`` for a server that shares ``server``'s hashing key, as a fleet on one database
    must: signing keys are sealed with it (this matters on PostgreSQL runs, where every test
    server shares one database)."""
    return with_hash_key(tmp, load_hash_key(server.settings))


def jwt_client(
    server: LiveServer,
    *,
    scope: str = "users:read users:write",
    token_ttl: int | None = None,
    account: str | None = None,
    token_format: str | None = "jwt",  # noqa: S107 - a format name
    introspect: bool = False,
) -> Seeded:
    """A client of ``token_format`` (JWT by default), in a fresh account unless one is named."""
    account = account or server.account()
    new = server.run(
        lambda rt: management.create_client(
            rt,
            account_name=account,
            name="jwt test client",
            scope=scope,
            token_ttl=token_ttl,
            actor="test",
            token_format=token_format,
            introspect=introspect,
        )
    )
    server.remember_secret(new.client_secret)
    return Seeded(new.client.client_id, new.client_secret, account)


def b64(data: dict[str, Any]) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def parts(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The header and claims of a JWT, unverified."""
    header, payload, _ = token.split(".")
    pad = lambda s: s + "=" * (-len(s) % 4)  # noqa: E731
    return (
        json.loads(base64.urlsafe_b64decode(pad(header))),
        json.loads(base64.urlsafe_b64decode(pad(payload))),
    )


def private_key(server: LiveServer, kid: str) -> jwk.Key:
    """The server's private signing key, read as an attacker with the database and key file
    would: lets tests mint tokens that only the claims checks can refuse."""

    async def load(runtime):  # type: ignore[no-untyped-def]
        async with runtime.sessions() as session:
            return await key_store.find_signing_key(session, kid)

    row = server.run(load)
    cipher = KeyCipher.from_hash_key(load_hash_key(server.settings))
    return jwk.import_key(json.loads(cipher.decrypt(kid, row.private_key_encrypted)))


def resign(
    server: LiveServer, token: str, header: dict[str, Any] | None = None, **claims: Any
) -> str:
    """``token`` signed again with the server's own key, with some header or claims changed."""
    old_header, old_claims = parts(token)
    key = private_key(server, old_header["kid"])
    new_header = {**old_header, **(header or {})}
    new_claims = {k: v for k, v in {**old_claims, **claims}.items() if v is not None}
    return jwt.encode(new_header, new_claims, key, algorithms=[old_header["alg"]])


def unsigned(token: str, **header: Any) -> str:
    """``alg: none``: the claims of ``token`` with an empty signature."""
    old_header, claims = parts(token)
    return f"{b64({**old_header, 'alg': 'none', **header})}.{b64(claims)}."


def hs256_with_public_key(token: str, public: jwk.Key) -> str:
    """The classic algorithm confusion: HS256 keyed with the server's public key (PEM)."""
    import hashlib
    import hmac

    header, claims = parts(token)
    signing_input = f"{b64({**header, 'alg': 'HS256'})}.{b64(claims)}"
    secret = public.as_pem(private=False)
    digest = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    signature = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    return f"{signing_input}.{signature}"


def flip_signature(token: str) -> str:
    head, _, signature = token.rpartition(".")
    swapped = "A" if signature[5] != "A" else "B"
    return f"{head}.{signature[:5]}{swapped}{signature[6:]}"
