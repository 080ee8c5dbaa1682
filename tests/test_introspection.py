"""Token introspection (RFC 7662): answers match each token's real state, for both formats."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from conftest import LiveServer, Seeded
from credgate import management
from credgate.credentials import generate_access_token
from jwt_checks import jwt_client, parts

FORMATS = ["opaque", "jwt"]


@pytest.fixture(scope="module")
def account(server: LiveServer) -> str:
    return server.account()


@pytest.fixture(scope="module")
def introspector(server: LiveServer, account: str) -> Seeded:
    """A resource server's client, in the same account as the tokens it checks."""
    return jwt_client(server, account=account, token_format=None, introspect=True)


def introspect(server: LiveServer, caller: Seeded, token: str, **extra: str) -> httpx.Response:
    with server.http() as http:
        return http.post(
            "/oauth/introspect",
            data={"token": token, **extra},
            auth=(caller.client_id, caller.client_secret),
        )


def state(server: LiveServer, caller: Seeded, token: str) -> dict[str, Any]:
    response = introspect(server, caller, token)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    return dict(response.json())


def token_of(
    server: LiveServer, account: str, token_format: str, token_ttl: int | None = None
) -> dict[str, Any]:
    seeded = jwt_client(server, account=account, token_format=token_format, token_ttl=token_ttl)
    return {**server.token(seeded, scope="users:read"), "client_id": seeded.client_id}


@pytest.mark.parametrize("token_format", FORMATS)
def test_live_token_is_active_with_its_facts(
    server: LiveServer, account: str, introspector: Seeded, token_format: str
) -> None:
    issued = token_of(server, account, token_format)

    answer = state(server, introspector, issued["access_token"])

    assert answer["active"] is True
    assert answer["scope"] == "users:read"
    assert answer["client_id"] == issued["client_id"]
    assert answer["sub"] == issued["client_id"]
    assert answer["token_type"] == "Bearer"
    assert answer["exp"] == issued["expires_at"]
    assert answer["iat"] == issued["expires_at"] - issued["expires_in"]
    assert answer["iss"] == server.base_url
    assert answer["aud"] == server.base_url
    assert answer["jti"] == issued["token_id"]
    if token_format == "jwt":
        claims = parts(issued["access_token"])[1]
        assert {k: answer[k] for k in ("iss", "aud", "exp", "iat", "jti")} == {
            k: claims[k] for k in ("iss", "aud", "exp", "iat", "jti")
        }


@pytest.mark.parametrize("token_format", FORMATS)
def test_token_type_hint_is_accepted(
    server: LiveServer, account: str, introspector: Seeded, token_format: str
) -> None:
    issued = token_of(server, account, token_format)

    for hint in ("access_token", "refresh_token", "something_else"):
        response = introspect(server, introspector, issued["access_token"], token_type_hint=hint)
        assert response.json()["active"] is True


@pytest.mark.parametrize("token_format", FORMATS)
def test_revoked_token_is_inactive(
    server: LiveServer, account: str, introspector: Seeded, token_format: str
) -> None:
    issued = token_of(server, account, token_format)
    server.run(lambda rt: management.revoke_token(rt, issued["token_id"], actor="test"))

    assert state(server, introspector, issued["access_token"]) == {"active": False}


@pytest.mark.parametrize("token_format", FORMATS)
def test_expired_token_is_inactive(
    server: LiveServer, account: str, introspector: Seeded, token_format: str
) -> None:
    issued = token_of(server, account, token_format, token_ttl=1)
    time.sleep(1.2)

    assert state(server, introspector, issued["access_token"]) == {"active": False}


@pytest.mark.parametrize("token_format", FORMATS)
def test_renewed_token_is_active_during_the_overlap_then_inactive(
    server: LiveServer, account: str, introspector: Seeded, token_format: str
) -> None:
    issued = token_of(server, account, token_format)
    with server.http() as http:
        renewed = http.post(
            f"/oauth/tokens/{issued['token_id']}/renew",
            headers={"Authorization": f"Bearer {issued['access_token']}"},
        )
    new = server.remember_token(renewed.json()["access_token"])

    during = state(server, introspector, issued["access_token"])
    time.sleep(1.2)  # the test server's overlap is one second
    after = state(server, introspector, issued["access_token"])

    assert during["active"] is True
    assert after == {"active": False}
    assert state(server, introspector, new)["jti"] == renewed.json()["token_id"]


@pytest.mark.parametrize("token_format", FORMATS)
def test_another_accounts_token_is_inactive(
    server: LiveServer, introspector: Seeded, token_format: str
) -> None:
    issued = token_of(server, server.account(), token_format)

    assert state(server, introspector, issued["access_token"]) == {"active": False}


@pytest.mark.parametrize(
    "value",
    ["not-a-token", "eyJhbGciOiJub25lIn0.e30.", "a.b.c", "cgt_" + "x" * 49],
    ids=["garbage", "alg-none-stub", "three-parts", "bad-checksum"],
)
def test_malformed_token_is_inactive(server: LiveServer, introspector: Seeded, value: str) -> None:
    assert state(server, introspector, value) == {"active": False}


def test_unknown_token_is_inactive(server: LiveServer, introspector: Seeded) -> None:
    unknown = server.remember_token(generate_access_token())

    assert state(server, introspector, unknown) == {"active": False}


def test_client_without_the_permission_gets_403_unauthorized_client(
    server: LiveServer, account: str
) -> None:
    caller = jwt_client(server, account=account, token_format="opaque")
    issued = token_of(server, account, "opaque")

    response = introspect(server, caller, issued["access_token"])

    assert response.status_code == 403
    assert response.json()["error"] == "unauthorized_client"
    assert response.headers["cache-control"] == "no-store"


def test_bad_credentials_get_401_invalid_client(
    server: LiveServer, account: str, introspector: Seeded
) -> None:
    issued = token_of(server, account, "opaque")
    wrong = Seeded(introspector.client_id, "cgs_" + "0" * 49, account)

    response = introspect(server, wrong, issued["access_token"])

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert response.headers["www-authenticate"].startswith("Basic")


def test_missing_token_is_invalid_request(server: LiveServer, introspector: Seeded) -> None:
    with server.http() as http:
        response = http.post(
            "/oauth/introspect", data={}, auth=(introspector.client_id, introspector.client_secret)
        )

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_metadata_names_the_introspection_endpoint(server: LiveServer) -> None:
    with server.http() as http:
        metadata = http.get("/.well-known/oauth-authorization-server").json()

    assert metadata["introspection_endpoint"] == f"{server.base_url}/oauth/introspect"
    assert "client_secret_basic" in metadata["introspection_endpoint_auth_methods_supported"]
