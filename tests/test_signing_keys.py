"""Signing keys of JWT access tokens: first key on first need, rotation, JWKS lifetime."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.exceptions import InvalidTag
from joserfc import jwk
from sqlalchemy import update

from conftest import LiveServer, start_server, stop_server
from credgate.oauth2.jwt_tokens import verify_access_token
from credgate.oauth2.signing_keys import KeyCipher
from credgate.storage.models import SigningKey, utcnow
from jwt_checks import jwt_client, parts, private_key, sharing_hash_key, with_hash_key
from test_cli import cli_json


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory, server: LiveServer) -> Iterator[LiveServer]:
    """A server of its own: these tests rotate its keys and move them through time."""
    process, live = start_server(sharing_hash_key(tmp_path_factory.mktemp("keys"), server))
    yield live
    stop_server(process)


def jwks(server: LiveServer) -> dict[str, dict[str, Any]]:
    with server.http() as http:
        return {key["kid"]: key for key in http.get("/.well-known/jwks.json").json()["keys"]}


def api_status(server: LiveServer, token: str) -> int:
    with server.http() as http:
        return http.get("/api/users", headers={"Authorization": f"Bearer {token}"}).status_code


def keys_list(server: LiveServer) -> dict[str, dict[str, Any]]:
    return {key["kid"]: key for key in cli_json("keys", "list", env=server.env)}


def verifies_locally(server: LiveServer, token: str) -> bool:
    key = jwks(server).get(parts(token)[0]["kid"])
    if key is None:
        return False
    verify_access_token(
        token,
        jwk.import_key(key),
        issuer=server.base_url,
        audience=server.base_url,
        now=time.time(),
    )
    return True


def test_first_key_is_made_on_first_need(tmp_path: Path, scratch_database_url: str) -> None:
    process, fresh = start_server(tmp_path, {"CREDGATE_DATABASE_URL": scratch_database_url})
    try:
        assert keys_list(fresh) == {}
        assert jwks(fresh) == {}
        assert fresh.token(jwt_client(fresh, token_format="opaque"))
        assert keys_list(fresh) == {}

        token = fresh.token(jwt_client(fresh))["access_token"]

        kid = parts(token)[0]["kid"]
        assert keys_list(fresh)[kid]["state"] == "active"
        assert list(jwks(fresh)) == [kid]
    finally:
        stop_server(process)


def test_after_rotate_old_tokens_still_verify_and_new_ones_carry_the_new_kid(
    keyed: LiveServer,
) -> None:
    seeded = jwt_client(keyed)
    old = keyed.token(seeded)
    old_kid = parts(old["access_token"])[0]["kid"]

    rotated = cli_json("keys", "rotate", env=keyed.env)
    new = keyed.token(seeded)

    assert rotated["state"] == "active"
    assert rotated["kid"] != old_kid
    assert parts(new["access_token"])[0]["kid"] == rotated["kid"]
    assert set(jwks(keyed)) >= {old_kid, rotated["kid"]}
    assert verifies_locally(keyed, old["access_token"])
    assert verifies_locally(keyed, new["access_token"])
    assert api_status(keyed, old["access_token"]) == 200
    assert api_status(keyed, new["access_token"]) == 200
    listed = keys_list(keyed)
    assert listed[old_kid]["state"] == "retired"
    # Published until every token the old key signed has expired, with a minute to spare.
    assert listed[old_kid]["published_until"] >= old["expires_at"] + 60


def test_retired_key_leaves_the_jwks_once_its_tokens_have_expired(keyed: LiveServer) -> None:
    seeded = jwt_client(keyed, token_ttl=2)
    token = keyed.token(seeded)["access_token"]
    old_kid = parts(token)[0]["kid"]
    cli_json("keys", "rotate", env=keyed.env)

    async def move_past_not_after(runtime):  # type: ignore[no-untyped-def]
        # Stands for the time passing: the key's last token has ended.
        async with runtime.sessions.begin() as session:
            await session.execute(
                update(SigningKey).where(SigningKey.kid == old_kid).values(not_after=utcnow())
            )

    keyed.run(move_past_not_after)
    time.sleep(2.1)

    assert old_kid not in jwks(keyed)
    assert keys_list(keyed)[old_kid]["state"] == "expired"
    assert api_status(keyed, token) == 401


def test_private_keys_are_encrypted_at_rest_and_never_printed(keyed: LiveServer) -> None:
    token = keyed.token(jwt_client(keyed))["access_token"]
    kid = parts(token)[0]["kid"]
    secret_d = private_key(keyed, kid).as_dict(private=True)["d"]

    async def stored(runtime):  # type: ignore[no-untyped-def]
        async with runtime.sessions() as session:
            return await session.get(SigningKey, kid)

    row = keyed.run(stored)
    listed = cli_json("keys", "list", env=keyed.env)
    rotated = cli_json("keys", "rotate", env=keyed.env)

    assert secret_d not in row.private_key_encrypted
    assert secret_d not in str(row.public_jwk)
    assert secret_d not in str(listed) + str(rotated) + str(jwks(keyed))
    assert secret_d not in keyed.log_file.read_text()
    with pytest.raises(InvalidTag):
        KeyCipher.from_hash_key(b"\x01" * 32).decrypt(kid, row.private_key_encrypted)
    with pytest.raises(InvalidTag):
        # A ciphertext moved to another kid's row does not open.
        KeyCipher.from_hash_key(bytes(32)).decrypt("other", row.private_key_encrypted)


@pytest.mark.parametrize(("algorithm", "kty"), [("Ed25519", "OKP"), ("RS256", "RSA")])
def test_configured_algorithm_signs_new_tokens(
    tmp_path: Path, scratch_database_url: str, algorithm: str, kty: str
) -> None:
    env = {"CREDGATE_JWT_ALGORITHM": algorithm, "CREDGATE_DATABASE_URL": scratch_database_url}
    process, live = start_server(tmp_path, env)
    try:
        token = live.token(jwt_client(live))["access_token"]
        header = parts(token)[0]
        published = jwks(live)[header["kid"]]

        assert header["alg"] == algorithm
        assert published["kty"] == kty
        assert published["alg"] == algorithm
        assert verifies_locally(live, token)
        assert api_status(live, token) == 200
    finally:
        stop_server(process)


def test_server_wide_jwt_format_and_audience_apply_to_clients_that_do_not_choose(
    tmp_path: Path, scratch_database_url: str
) -> None:
    env = {
        "CREDGATE_TOKEN_FORMAT": "jwt",
        "CREDGATE_TOKEN_AUDIENCE": "https://api.example.com",
        "CREDGATE_DATABASE_URL": scratch_database_url,
    }
    process, live = start_server(tmp_path, env)
    try:
        default = live.token(jwt_client(live, token_format=None))["access_token"]
        opaque = live.token(jwt_client(live, token_format="opaque"))["access_token"]

        assert parts(default)[0]["typ"] == "at+jwt"
        assert parts(default)[1]["aud"] == "https://api.example.com"
        assert parts(default)[1]["iss"] == live.base_url
        assert api_status(live, default) == 200
        assert opaque.startswith("cgt_")
    finally:
        stop_server(process)


def test_an_instance_with_another_hashing_key_answers_503_not_500(
    tmp_path: Path, keyed: LiveServer
) -> None:
    """A fleet must share CREDGATE_HASH_KEY; one that does not cannot open the signing key."""
    keyed.token(jwt_client(keyed))  # an active key exists, sealed with keyed's hashing key
    env = {"CREDGATE_DATABASE_URL": keyed.settings.resolved_database_url}
    process, stranger = start_server(with_hash_key(tmp_path, b"\xab" * 32), env)
    try:
        seeded = jwt_client(stranger)
        with stranger.http() as http:
            answer = http.post(
                "/oauth/token",
                data={"grant_type": "client_credentials"},
                auth=(seeded.client_id, seeded.client_secret),
            )
    finally:
        stop_server(process)

    assert answer.status_code == 503
    assert answer.json()["error"] == "temporarily_unavailable"
    assert "signing_key.unreadable" in stranger.log_file.read_text()
