"""The admin REST API against a live server: every route, who may call it, and what it stores."""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from admin_support import (
    Admin,
    account_admin,
    create_client,
    make_admin,
    sign_in,
    token_for,
    with_key,
)
from conftest import LiveServer
from credgate.storage.models import AdminSession, utcnow

XSS = "<script>alert(1)</script>"


@pytest.fixture()
def owner(server: LiveServer) -> Admin:
    return account_admin(server)


@pytest.fixture()
def owner_http(server: LiveServer, owner: Admin) -> Iterator[httpx.Client]:
    with sign_in(server, owner) as http:
        yield http


@pytest.fixture()
def operator_http(server: LiveServer) -> Iterator[httpx.Client]:
    with sign_in(server, make_admin(server)) as http:
        yield http


@pytest.fixture()
def stranger_http(server: LiveServer) -> Iterator[httpx.Client]:
    """An account admin of another account."""
    with sign_in(server, account_admin(server)) as http:
        yield http


def _audit(http: httpx.Client, **filters: str) -> list[dict[str, Any]]:
    response = http.get("/admin/api/audit", params=filters)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


# Every route of a client, with a body where it needs one.
CLIENT_ROUTES = [
    ("GET", "/clients/{c}", None),
    ("PATCH", "/clients/{c}", {"name": "x"}),
    ("DELETE", "/clients/{c}", None),
    ("POST", "/clients/{c}/disable", None),
    ("POST", "/clients/{c}/enable", None),
    ("GET", "/clients/{c}/samples", None),
    ("GET", "/clients/{c}/secrets", None),
    ("POST", "/clients/{c}/secrets", {"grace_seconds": 0}),
    ("DELETE", "/clients/{c}/secrets/{s}", None),
    ("GET", "/clients/{c}/tokens", None),
    ("DELETE", "/clients/{c}/tokens", None),
    ("DELETE", "/clients/{c}/tokens/{t}", None),
]
OTHER_ROUTES = [
    ("GET", "/me", None),
    ("DELETE", "/session", None),
    ("GET", "/accounts", None),
    ("POST", "/accounts", {"name": "x"}),
    ("GET", "/clients", None),
    ("POST", "/clients", {"name": "x"}),
    ("GET", "/usage", None),
    ("GET", "/audit", None),
    ("GET", "/admins", None),
    ("POST", "/admins", {"email": "a@example.com", "password": "x" * 12}),
    ("GET", "/keys", None),
    ("POST", "/keys", {"name": "x"}),
    ("POST", "/me/totp", None),
]


@pytest.fixture()
def owned(server: LiveServer, owner_http: httpx.Client) -> dict[str, str]:
    """A client of ``owner`` with one live token: the ids the routes above need."""
    created = create_client(owner_http, server)
    token = token_for(server, created["client_id"], created["client_secret"]).json()
    secrets = owner_http.get(f"/admin/api/clients/{created['client_id']}/secrets").json()
    return {
        "c": created["client_id"],
        "s": secrets[0]["id"],
        "t": token["token_id"],
        "secret": created["client_secret"],
        "token": token["access_token"],
    }


def _call(http: httpx.Client, route: tuple[str, str, Any], ids: dict[str, str]) -> httpx.Response:
    method, path, body = route
    return http.request(method, "/admin/api" + path.format(**ids), json=body)


@pytest.mark.parametrize("route", CLIENT_ROUTES + OTHER_ROUTES, ids=lambda r: f"{r[0]} {r[1]}")
def test_anonymous_calls_are_refused_with_401(
    server: LiveServer, owned: dict[str, str], route: tuple[str, str, Any]
) -> None:
    with server.http() as http:
        response = _call(http, route, owned)

    assert response.status_code == 401
    assert response.json()["error"] == "unauthenticated"


@pytest.mark.parametrize("route", CLIENT_ROUTES, ids=lambda r: f"{r[0]} {r[1]}")
def test_another_accounts_client_is_not_found_and_the_attempt_is_audited(
    server: LiveServer,
    owned: dict[str, str],
    stranger_http: httpx.Client,
    owner_http: httpx.Client,
    route: tuple[str, str, Any],
) -> None:
    response = _call(stranger_http, route, owned)

    assert response.status_code == 404
    assert response.json()["error"] == "not_found"
    denied = _audit(stranger_http, action="admin.access_denied")
    assert denied[0]["target"] == owned["c"]
    assert denied[0]["details"]["kind"] == "client"
    # Nothing changed: the owner still sees the client, its secret and token alive.
    assert owner_http.get(f"/admin/api/clients/{owned['c']}").json()["status"] == "active"
    assert token_for(server, owned["c"], owned["secret"]).status_code == 200


def test_another_accounts_token_and_secret_ids_under_ones_own_client_are_not_found(
    server: LiveServer, owned: dict[str, str], stranger_http: httpx.Client
) -> None:
    mine = create_client(stranger_http, server)

    token = stranger_http.delete(f"/admin/api/clients/{mine['client_id']}/tokens/{owned['t']}")
    secret = stranger_http.delete(f"/admin/api/clients/{mine['client_id']}/secrets/{owned['s']}")

    assert (token.status_code, secret.status_code) == (404, 404)
    kinds = [e["details"]["kind"] for e in _audit(stranger_http, action="admin.access_denied")]
    assert kinds[:2] == ["secret", "token"]
    assert token_for(server, owned["c"], owned["secret"]).status_code == 200


def test_operator_reaches_every_account(
    server: LiveServer, owned: dict[str, str], operator_http: httpx.Client
) -> None:
    for route in CLIENT_ROUTES[:1] + CLIENT_ROUTES[5:7] + CLIENT_ROUTES[9:10]:
        assert _call(operator_http, route, owned).status_code == 200, route
    listed = operator_http.get("/admin/api/clients").json()
    assert owned["c"] in {c["client_id"] for c in listed}


def test_account_admin_lists_only_their_own_clients_and_accounts(
    server: LiveServer, owned: dict[str, str], owner: Admin, stranger_http: httpx.Client
) -> None:
    assert stranger_http.get("/admin/api/clients").json() == []
    accounts = stranger_http.get("/admin/api/accounts").json()
    assert len(accounts) == 1
    assert accounts[0]["id"] != owner.account_id
    other = stranger_http.get("/admin/api/clients", params={"account_id": owner.account_id})
    assert other.status_code == 404


def test_created_client_secret_works_once_shown_and_the_creation_is_audited(
    server: LiveServer, owner_http: httpx.Client, owner: Admin
) -> None:
    created = create_client(owner_http, server, name="payroll", token_ttl=600)

    assert created["client_id"].startswith("cgc_")
    assert created["client_secret"].startswith("cgs_")
    assert created["account_id"] == owner.account_id
    assert (created["name"], created["scope"], created["token_ttl"]) == (
        "payroll",
        "users:read",
        600,
    )
    token = token_for(server, created["client_id"], created["client_secret"])
    assert token.status_code == 200
    assert token.json()["expires_in"] == 600
    listed = owner_http.get(f"/admin/api/clients/{created['client_id']}").json()
    assert "client_secret" not in listed
    event = _audit(owner_http, client_id=created["client_id"], action="client.created")[0]
    assert event["actor"] == f"admin:{owner.email}"
    assert event["source_address"] == "127.0.0.1"
    assert created["client_secret"] not in str(event)


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({"name": ""}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"name": "ok", "token_ttl": 0}, "token_ttl"),
        ({"name": "ok", "token_ttl": "soon"}, "token_ttl"),
        ({"name": "ok", "scope": "users:read admin"}, "unknown scope admin"),
        ({"name": "ok", "account_id": "not-an-account"}, "no such account"),
    ],
)
def test_invalid_client_input_is_a_400_that_says_why(
    owner_http: httpx.Client, body: dict[str, Any], problem: str
) -> None:
    response = owner_http.post("/admin/api/clients", json=body)

    assert response.status_code in (400, 404)
    assert problem in response.text
    assert owner_http.get("/admin/api/clients").json() == []


def test_operator_must_name_the_account_of_a_new_client(operator_http: httpx.Client) -> None:
    response = operator_http.post("/admin/api/clients", json={"name": "x"})

    assert response.status_code == 400
    assert response.json()["error_description"] == "account_id is required"


def test_client_name_with_markup_is_stored_and_returned_as_plain_text(
    server: LiveServer, owner_http: httpx.Client
) -> None:
    created = create_client(owner_http, server, name=XSS)

    described = owner_http.get(f"/admin/api/clients/{created['client_id']}")

    assert described.json()["name"] == XSS
    assert described.headers["content-type"] == "application/json"


def test_edit_changes_name_scopes_and_lifetime_of_new_tokens(
    server: LiveServer, owner_http: httpx.Client, owned: dict[str, str]
) -> None:
    response = owner_http.patch(
        f"/admin/api/clients/{owned['c']}",
        json={"name": "renamed", "scope": "users:read users:write", "token_ttl": 120},
    )

    assert response.status_code == 200
    assert response.json()["scopes"] == ["users:read", "users:write"]
    token = token_for(server, owned["c"], owned["secret"]).json()
    assert (token["expires_in"], token["scope"]) == (120, "users:read users:write")
    bad = owner_http.patch(f"/admin/api/clients/{owned['c']}", json={"token_ttl": -1})
    assert bad.status_code == 400


def test_disabled_client_cannot_get_tokens_and_its_live_tokens_end(
    server: LiveServer, owner_http: httpx.Client, owned: dict[str, str]
) -> None:
    assert owner_http.post(f"/admin/api/clients/{owned['c']}/disable").json()["status"] == (
        "disabled"
    )
    assert token_for(server, owned["c"], owned["secret"]).status_code == 401
    with server.http() as http:
        refused = http.get("/api/users", headers={"Authorization": f"Bearer {owned['token']}"})
    assert refused.status_code == 401

    assert owner_http.post(f"/admin/api/clients/{owned['c']}/enable").json()["status"] == "active"
    assert token_for(server, owned["c"], owned["secret"]).status_code == 200


def test_deleted_client_is_gone(
    server: LiveServer, owner_http: httpx.Client, owned: dict[str, str]
) -> None:
    assert owner_http.delete(f"/admin/api/clients/{owned['c']}").status_code == 204

    assert owner_http.get(f"/admin/api/clients/{owned['c']}").status_code == 404
    assert token_for(server, owned["c"], owned["secret"]).status_code == 401
    assert _audit(owner_http, client_id=owned["c"])[0]["action"] == "client.deleted"


def test_rotation_keeps_the_old_secret_working_for_the_overlap_only(
    server: LiveServer, owner_http: httpx.Client, owned: dict[str, str]
) -> None:
    rotated = owner_http.post(
        f"/admin/api/clients/{owned['c']}/secrets", json={"grace_seconds": 2}
    )
    assert rotated.status_code == 201
    new = server.remember_secret(rotated.json()["client_secret"])

    assert token_for(server, owned["c"], owned["secret"]).status_code == 200
    assert token_for(server, owned["c"], new).status_code == 200
    time.sleep(2.2)
    assert token_for(server, owned["c"], owned["secret"]).status_code == 401
    assert token_for(server, owned["c"], new).status_code == 200
    states = [
        s["status"] for s in owner_http.get(f"/admin/api/clients/{owned['c']}/secrets").json()
    ]
    assert states == ["expired", "active"]


def test_rotation_with_an_expiry_and_bad_rotation_input(
    owner_http: httpx.Client, owned: dict[str, str], server: LiveServer
) -> None:
    path = f"/admin/api/clients/{owned['c']}/secrets"
    expires = (utcnow() + timedelta(days=30)).isoformat()

    rotated = owner_http.post(path, json={"grace_seconds": 60, "expires_at": expires})
    server.remember_secret(rotated.json()["client_secret"])

    assert rotated.status_code == 201
    assert owner_http.get(path).json()[-1]["status"] == "expiring"
    assert owner_http.post(path, json={"grace_seconds": -1}).status_code == 400
    naive = owner_http.post(path, json={"expires_at": "2030-01-01T00:00:00"})
    assert naive.status_code == 400
    past = owner_http.post(path, json={"expires_at": "2020-01-01T00:00:00Z"})
    assert past.status_code == 400


@pytest.mark.parametrize("end_tokens", [True, False])
def test_revoking_a_secret_ends_the_tokens_issued_with_it_unless_asked_not_to(
    server: LiveServer, owner_http: httpx.Client, owned: dict[str, str], end_tokens: bool
) -> None:
    response = owner_http.delete(
        f"/admin/api/clients/{owned['c']}/secrets/{owned['s']}",
        params={"end_tokens": str(end_tokens).lower()},
    )

    assert response.status_code == 200
    assert response.json()["tokens_revoked"] == (1 if end_tokens else 0)
    assert token_for(server, owned["c"], owned["secret"]).status_code == 401
    with server.http() as http:
        call = http.get("/api/users", headers={"Authorization": f"Bearer {owned['token']}"})
    assert call.status_code == (401 if end_tokens else 200)
    again = owner_http.delete(f"/admin/api/clients/{owned['c']}/secrets/{owned['s']}")
    assert again.status_code == 400


def test_renewed_token_inherits_its_secret_and_ends_with_it(
    server: LiveServer, owner_http: httpx.Client, owned: dict[str, str]
) -> None:
    with server.http() as http:
        renewed = http.post(
            f"/oauth/tokens/{owned['t']}/renew",
            headers={"Authorization": f"Bearer {owned['token']}"},
        )
    assert renewed.status_code == 200
    value = server.remember_token(renewed.json()["access_token"])
    tokens = owner_http.get(f"/admin/api/clients/{owned['c']}/tokens").json()
    assert {t["secret_id"] for t in tokens} == {owned["s"]}

    owner_http.delete(f"/admin/api/clients/{owned['c']}/secrets/{owned['s']}")

    with server.http() as http:
        call = http.get("/api/users", headers={"Authorization": f"Bearer {value}"})
    assert call.status_code == 401


def test_revoking_one_token_and_all_tokens(
    server: LiveServer, owner_http: httpx.Client, owned: dict[str, str]
) -> None:
    second = token_for(server, owned["c"], owned["secret"]).json()
    path = f"/admin/api/clients/{owned['c']}/tokens"
    assert len(owner_http.get(path).json()) == 2

    assert owner_http.delete(f"{path}/{owned['t']}").status_code == 204
    assert [t["token_id"] for t in owner_http.get(path).json()] == [second["token_id"]]
    assert owner_http.delete(f"{path}/{owned['t']}").status_code == 400
    assert owner_http.delete(path).json() == {"tokens_revoked": 1}
    assert owner_http.get(path).json() == []
    with server.http() as http:
        call = http.get(
            "/api/users", headers={"Authorization": f"Bearer {second['access_token']}"}
        )
    assert call.status_code == 401
    actions = [e["action"] for e in _audit(owner_http, client_id=owned["c"])]
    assert actions[:2] == ["tokens.revoked_all", "token.revoked"]


def test_mutating_session_calls_need_the_csrf_token(
    server: LiveServer, owner: Admin, owned: dict[str, str]
) -> None:
    with sign_in(server, owner) as http:
        token = http.headers.pop("X-CSRF-Token")
        missing = http.post("/admin/api/clients", json={"name": "x"})
        wrong = http.post(
            "/admin/api/clients", json={"name": "x"}, headers={"X-CSRF-Token": "0" * 64}
        )
        reading = http.get("/admin/api/clients")
        right = http.post(
            f"/admin/api/clients/{owned['c']}/disable", headers={"X-CSRF-Token": token}
        )

    assert (missing.status_code, wrong.status_code) == (403, 403)
    assert missing.json()["error"] == "csrf_failed"
    assert reading.status_code == 200
    assert len(reading.json()) == 1
    assert right.status_code == 200


def test_api_keys_need_no_csrf_token_and_reach_only_their_account(
    server: LiveServer, owner: Admin, owned: dict[str, str], stranger_http: httpx.Client
) -> None:
    with with_key(server, owner) as http:
        created = create_client(http, server)
        assert http.get(f"/admin/api/clients/{owned['c']}").status_code == 200
        other = create_client(stranger_http, server)
        assert http.get(f"/admin/api/clients/{other['client_id']}").status_code == 404
        assert http.get("/admin/api/me").json()["via"] == "api_key"
    assert created["account_id"] == owner.account_id


def test_revoked_and_malformed_keys_are_refused(server: LiveServer, owner: Admin) -> None:
    with with_key(server, owner) as http:
        key_id = http.get("/admin/api/keys").json()[-1]["id"]
        assert http.get("/admin/api/keys").json()[-1]["last_used_at"] is not None
        assert http.delete(f"/admin/api/keys/{key_id}").status_code == 204
        refused = http.get("/admin/api/clients")
        assert refused.status_code == 401
        http.headers["Authorization"] = "Bearer cgk_" + "A" * 49
        assert http.get("/admin/api/clients").status_code == 401


def test_key_value_is_shown_once_and_listed_by_hint(server: LiveServer, owner: Admin) -> None:
    with sign_in(server, owner) as http:
        created = http.post("/admin/api/keys", json={"name": "deploy"}).json()
        server.remember_secret(created["key"])
        listed = http.get("/admin/api/keys").json()

    assert created["key"].startswith("cgk_")
    assert listed[0]["hint"] == created["key"][-4:]
    assert "key" not in listed[0]


def test_expired_session_is_refused(server: LiveServer, owner: Admin) -> None:
    with sign_in(server, owner) as http:
        idle = server.settings.admin_session_idle

        async def age_sessions(runtime):  # type: ignore[no-untyped-def]
            async with runtime.sessions.begin() as session:
                await session.execute(
                    update(AdminSession)
                    .where(AdminSession.admin_id == owner.admin_id)
                    .values(last_seen_at=utcnow() - timedelta(seconds=idle + 1))
                )

        server.run(age_sessions)
        response = http.get("/admin/api/clients")

    assert response.status_code == 401


def test_sign_out_ends_the_session_on_the_server(server: LiveServer, owner: Admin) -> None:
    with sign_in(server, owner) as http:
        cookie = http.cookies.get("credgate_admin")
        assert http.delete("/admin/api/session").status_code == 204
    with server.http() as replay:
        replay.cookies.set("credgate_admin", cookie, domain="127.0.0.1", path="/admin")
        assert replay.get("/admin/api/clients").status_code == 401


def test_only_operators_create_and_disable_accounts(
    server: LiveServer,
    owner_http: httpx.Client,
    operator_http: httpx.Client,
    owner: Admin,
    owned: dict[str, str],
) -> None:
    assert owner_http.post("/admin/api/accounts", json={"name": "nope"}).status_code == 403
    assert owner_http.post(f"/admin/api/accounts/{owner.account_id}/disable").status_code == 403

    created = operator_http.post("/admin/api/accounts", json={"name": f"acme-{owned['c'][-6:]}"})
    assert created.status_code == 201
    duplicate = operator_http.post("/admin/api/accounts", json={"name": created.json()["name"]})
    assert duplicate.status_code == 400
    disabled = operator_http.post(f"/admin/api/accounts/{owner.account_id}/disable")
    assert disabled.json()["status"] == "disabled"
    assert token_for(server, owned["c"], owned["secret"]).status_code == 401
    with server.http() as http:
        again = http.post(
            "/admin/api/session", json={"email": owner.email, "password": owner.password}
        )
    assert again.status_code == 401
    operator_http.post(f"/admin/api/accounts/{owner.account_id}/enable")


def test_admin_users_are_managed_within_the_account(
    server: LiveServer, owner_http: httpx.Client, owner: Admin, stranger_http: httpx.Client
) -> None:
    body = {"email": f"second-{owner.admin_id[:6]}@example.com", "password": "p" * 12}
    created = owner_http.post("/admin/api/admins", json=body)
    assert created.status_code == 201
    assert created.json()["account_id"] == owner.account_id
    assert {a["email"] for a in owner_http.get("/admin/api/admins").json()} == {
        owner.email,
        body["email"],
    }
    operator = owner_http.post("/admin/api/admins", json={**body, "role": "operator"})
    assert operator.status_code == 403
    short = owner_http.post("/admin/api/admins", json={**body, "password": "short"})
    assert short.status_code == 400

    assert stranger_http.delete(f"/admin/api/admins/{created.json()['id']}").status_code == 404
    assert owner_http.delete(f"/admin/api/admins/{created.json()['id']}").status_code == 204
    assert owner_http.delete(f"/admin/api/admins/{owner.admin_id}").status_code == 400


def test_audit_filters_and_account_scope(
    server: LiveServer,
    owner_http: httpx.Client,
    owned: dict[str, str],
    owner: Admin,
    operator_http: httpx.Client,
) -> None:
    owner_http.post(f"/admin/api/clients/{owned['c']}/secrets", json={"grace_seconds": 0})

    by_type = _audit(owner_http, action="secret.rotated")
    by_family = _audit(owner_http, action="secret")
    by_actor = _audit(owner_http, actor=f"admin:{owner.email}")
    everything = _audit(operator_http, limit="500")

    assert [e["client_id"] for e in by_type] == [owned["c"]]
    assert by_family == by_type
    assert {e["actor"] for e in by_actor} == {f"admin:{owner.email}"}
    assert {"admin.signed_in", "client.created", "secret.rotated"} <= {
        e["action"] for e in by_actor
    }
    assert {e["account_id"] for e in _audit(owner_http)} == {owner.account_id}
    assert len({e["account_id"] for e in everything}) > 1


def test_security_headers_on_admin_answers(owner_http: httpx.Client) -> None:
    response = owner_http.get("/admin/api/me")

    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]
    assert "frame-ancestors 'none'" in policy
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["cache-control"] == "no-store"


def test_samples_carry_the_client_id_and_never_a_secret(
    owner_http: httpx.Client, owned: dict[str, str]
) -> None:
    samples = owner_http.get(f"/admin/api/clients/{owned['c']}/samples").json()

    assert {"curl", "python-requests", "go"} <= {s["key"] for s in samples}
    assert all(owned["c"] in s["code"] for s in samples)
    assert not any(owned["secret"] in s["code"] for s in samples)


def test_admin_api_is_in_the_openapi_document(http: httpx.Client) -> None:
    document = http.get("/openapi.json").json()

    paths = {p for p in document["paths"] if p.startswith("/admin/api")}
    assert "/admin/api/clients/{client_id}/secrets" in paths
    assert len(paths) >= 15
    operation = document["paths"]["/admin/api/clients"]["post"]
    assert operation["security"] == [{"adminApiKey": []}, {"adminSession": []}]
    assert "adminApiKey" in document["components"]["securitySchemes"]
    assert "security" not in document["paths"]["/admin/api/session"]["post"]
    assert not any(p.startswith("/admin/") and "/api/" not in p for p in document["paths"])


def test_readme_admin_api_example_runs_as_written(server: LiveServer, owner: Admin) -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    section = readme.split("## Admin Portal", 1)[1].split("\n## ", 1)[0]
    script = re.findall(r"```sh\n(.*?)```", section, re.DOTALL)[1]
    with sign_in(server, owner) as http:
        key = server.remember_secret(
            http.post("/admin/api/keys", json={"name": "doc"}).json()["key"]
        )
    env = {
        **server.env,
        "CREDGATE_URL": server.base_url,
        "CREDGATE_CA": str(server.ca_file),
        "ADMIN_KEY": key,
    }

    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    created = json.loads(result.stdout)
    server.remember_secret(created["client_secret"])
    assert (created["name"], created["account_id"]) == ("billing", owner.account_id)
