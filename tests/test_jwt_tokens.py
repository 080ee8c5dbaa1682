"""JWT access tokens (RFC 9068): issued per client, published keys, kept revocable by row."""

from __future__ import annotations

import ssl
import time
from typing import Any

import httpx
import pytest
from joserfc import jwk

from conftest import LiveServer, Seeded
from credgate import management
from credgate.client import ClientCredentialsAuth
from credgate.oauth2.errors import InvalidToken
from credgate.oauth2.jwt_tokens import verify_access_token
from jwt_checks import (
    flip_signature,
    hs256_with_public_key,
    jwt_client,
    parts,
    resign,
    unsigned,
)
from test_cli import cli, cli_json
from token_checks import assert_token_response

PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def seeded(server: LiveServer) -> Seeded:
    return jwt_client(server)


@pytest.fixture()
def issued(server: LiveServer, seeded: Seeded) -> dict[str, Any]:
    return server.token(seeded, scope="users:read")


def jwks_of(http: httpx.Client) -> dict[str, Any]:
    response = http.get("/.well-known/jwks.json")
    assert response.status_code == 200
    return dict(response.json())


def public_key(http: httpx.Client, kid: str) -> jwk.Key:
    keys = [key for key in jwks_of(http)["keys"] if key["kid"] == kid]
    assert len(keys) == 1
    return jwk.import_key(keys[0])


def test_jwt_client_gets_a_jwt_in_the_create_token_shape(
    server: LiveServer, seeded: Seeded
) -> None:
    with server.http() as http:
        response = http.post(
            "/oauth/token",
            data={"grant_type": "client_credentials", "scope": "users:read"},
            auth=(seeded.client_id, seeded.client_secret),
        )
    assert response.status_code == 200
    token = server.remember_token(response.json()["access_token"])

    assert_token_response(response.json(), response.headers, ttl=3600, scope="users:read")
    header, _ = parts(token)
    assert header["typ"] == "at+jwt"
    assert header["alg"] == "ES256"
    assert header["kid"]


def test_jwt_carries_the_rfc_9068_claims_and_the_account(
    server: LiveServer, seeded: Seeded, issued: dict[str, Any]
) -> None:
    account = server.run(lambda rt: management.list_accounts(rt))
    account_id = next(a.id for a in account if a.name == seeded.account)

    _, claims = parts(issued["access_token"])

    assert claims == {
        "iss": server.base_url,
        "sub": seeded.client_id,
        "aud": server.base_url,
        "exp": issued["expires_at"],
        "iat": issued["expires_at"] - 3600,
        "jti": issued["token_id"],
        "client_id": seeded.client_id,
        "scope": "users:read",
        "account": account_id,
    }


def test_jwt_verifies_against_the_published_key(
    server: LiveServer, issued: dict[str, Any]
) -> None:
    header, _ = parts(issued["access_token"])
    with server.http() as http:
        key = public_key(http, header["kid"])

    claims = verify_access_token(
        issued["access_token"],
        key,
        issuer=server.base_url,
        audience=server.base_url,
        now=time.time(),
    )

    assert claims["jti"] == issued["token_id"]


def test_jwks_holds_public_members_only(server: LiveServer, issued: dict[str, Any]) -> None:
    with server.http() as http:
        response = http.get("/.well-known/jwks.json")
        metadata = http.get("/.well-known/oauth-authorization-server").json()

    assert response.headers["content-type"] == "application/json"
    keys = response.json()["keys"]
    assert keys
    for key in keys:
        assert not PRIVATE_MEMBERS & set(key), key
        assert key["use"] == "sig"
        assert key["alg"] in {"ES256", "Ed25519", "RS256"}
    assert metadata["jwks_uri"] == f"{server.base_url}/.well-known/jwks.json"


def test_jwt_opens_the_api_and_its_own_token_resource(
    server: LiveServer, issued: dict[str, Any]
) -> None:
    token = issued["access_token"]
    with server.http() as http:
        users = http.get("/api/users", headers=bearer(token))
        described = http.get(f"/oauth/tokens/{issued['token_id']}", headers=bearer(token))

    assert users.status_code == 200, users.text
    assert described.status_code == 200
    assert described.json()["token_id"] == issued["token_id"]


def test_jwt_is_listed_by_its_token_id_and_stored_as_a_hash_only(
    server: LiveServer, seeded: Seeded, issued: dict[str, Any]
) -> None:
    rows = server.run(lambda rt: management.list_live_tokens(rt, seeded.client_id))

    row = next(row for row in rows if row.token_id == issued["token_id"])
    assert len(row.token_hash) == 64
    assert row.token_hash != issued["access_token"]


def test_jwt_revoked_by_value_is_refused_at_once(
    server: LiveServer, seeded: Seeded, issued: dict[str, Any]
) -> None:
    token = issued["access_token"]
    with server.http() as http:
        revoked = http.post(
            "/oauth/revoke", data={"token": token}, auth=(seeded.client_id, seeded.client_secret)
        )
        refused = http.get("/api/users", headers=bearer(token))

    assert revoked.status_code == 200
    assert refused.status_code == 401
    assert 'error="invalid_token"' in refused.headers["www-authenticate"]


def test_jwt_revoked_by_token_id_is_refused_at_once(
    server: LiveServer, issued: dict[str, Any]
) -> None:
    server.run(lambda rt: management.revoke_token(rt, issued["token_id"], actor="test"))

    with server.http() as http:
        refused = http.get("/api/users", headers=bearer(issued["access_token"]))

    assert refused.status_code == 401


def test_renewed_jwt_is_a_new_jwt_and_the_old_one_ends_after_the_overlap(
    server: LiveServer, issued: dict[str, Any]
) -> None:
    old = issued["access_token"]
    with server.http() as http:
        renewed = http.post(f"/oauth/tokens/{issued['token_id']}/renew", headers=bearer(old))
        assert renewed.status_code == 200, renewed.text
        new = server.remember_token(renewed.json()["access_token"])
        time.sleep(1.5)  # the test server's overlap is one second
        old_answer = http.get("/api/users", headers=bearer(old))
        new_answer = http.get("/api/users", headers=bearer(new))

    assert parts(new)[1]["jti"] == renewed.json()["token_id"]
    assert old_answer.status_code == 401
    assert new_answer.status_code == 200


def test_opaque_client_still_gets_an_opaque_token(server: LiveServer) -> None:
    seeded = jwt_client(server, token_format="opaque")

    assert server.token(seeded)["access_token"].startswith("cgt_")


def _forged(kind: str, server: LiveServer, token: str, http: httpx.Client) -> str:
    header, _ = parts(token)
    if kind == "forged signature":
        return flip_signature(token)
    if kind == "alg none":
        return unsigned(token)
    if kind == "HS256 with the public key":
        return hs256_with_public_key(token, public_key(http, header["kid"]))
    if kind == "unknown kid":
        return resign(server, token, header={"kid": "no-such-key"})
    if kind == "wrong aud":
        return resign(server, token, aud="https://elsewhere.example")
    if kind == "wrong iss":
        return resign(server, token, iss="https://elsewhere.example")
    if kind == "expired":
        return resign(server, token, exp=int(time.time()) - 120, iat=int(time.time()) - 300)
    if kind == "typ JWT":
        return resign(server, token, header={"typ": "JWT"})
    raise ValueError(kind)


FORGERIES = [
    "forged signature",
    "alg none",
    "HS256 with the public key",
    "unknown kid",
    "wrong aud",
    "wrong iss",
    "expired",
    "typ JWT",
]


@pytest.mark.parametrize("kind", FORGERIES)
def test_tampered_jwt_is_refused_by_the_api_and_by_local_verification(
    server: LiveServer, issued: dict[str, Any], kind: str
) -> None:
    token = issued["access_token"]
    with server.http() as http:
        forged = _forged(kind, server, token, http)
        published = {key["kid"]: key for key in jwks_of(http)["keys"]}
        answer = http.get("/api/users", headers=bearer(forged))

    assert answer.status_code == 401
    assert 'error="invalid_token"' in answer.headers["www-authenticate"]
    # Locally, the key is the published one the token names; an unknown kid names none.
    named = published.get(parts(forged)[0].get("kid"))
    assert (named is None) == (kind == "unknown kid")
    if named is not None:
        with pytest.raises(InvalidToken):
            verify_access_token(
                forged,
                jwk.import_key(named),
                issuer=server.base_url,
                audience=server.base_url,
                now=time.time(),
            )


def test_cli_creates_a_jwt_client_and_refuses_an_unknown_format(server: LiveServer) -> None:
    account = server.account()
    created = cli_json(
        "clients",
        "create",
        "--account",
        account,
        "--name",
        "jwt",
        "--token-format",
        "jwt",
        env=server.env,
    )
    refused = cli(
        "clients",
        "create",
        "--account",
        account,
        "--name",
        "x",
        "--token-format",
        "paseto",
        env=server.env,
    )

    seeded = Seeded(created["client_id"], created["client_secret"], account)
    assert created["token_format"] == "jwt"
    assert created["introspect"] is False
    assert parts(server.token(seeded)["access_token"])[0]["typ"] == "at+jwt"
    assert refused.returncode == 1
    assert "the token format must be jwt or opaque" in refused.stderr


def test_client_sdk_uses_jwts_and_replaces_a_revoked_one_after_one_401(
    server: LiveServer, seeded: Seeded
) -> None:
    auth = ClientCredentialsAuth(
        token_url=f"{server.base_url}/oauth/token",
        client_id=seeded.client_id,
        client_secret=seeded.client_secret,
        verify=str(server.ca_file),
    )
    ca = ssl.create_default_context(cafile=server.ca_file)
    with (
        server.http() as plain,
        httpx.Client(base_url=server.base_url, verify=ca, auth=auth) as api,
    ):
        assert api.get("/api/users").status_code == 200
        first = server.remember_token(auth.get_token().value)
        revoked = plain.post(
            "/oauth/revoke",
            data={"token": first},
            auth=(seeded.client_id, seeded.client_secret),
        )
        answer = api.get("/api/users")
        second = server.remember_token(auth.get_token().value)

    assert revoked.status_code == 200
    assert answer.status_code == 200
    assert parts(first)[0]["typ"] == parts(second)[0]["typ"] == "at+jwt"
    assert second != first
