"""A token's life on a live server: expiry, revocation, renewal, and what secrets do to it.

The shared server renews with a 1 s overlap (``CREDGATE_RENEWAL_OVERLAP=1``); the tests that
wait sleep only as long as the expiry they pin needs.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from client_sdk_support import log_events
from conftest import LiveServer, Seeded, start_server, stop_server
from credgate import management
from credgate.credentials import generate_access_token
from token_checks import assert_token_response

TTL = 600


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_works(http: httpx.Client, token: str) -> None:
    response = http.get("/api/users", headers=bearer(token))
    assert response.status_code == 200, response.text


def assert_refused(http: httpx.Client, token: str) -> None:
    """RFC 6750 §3.1: 401 ``invalid_token`` with a Bearer challenge naming the error."""
    response = http.get("/api/users", headers=bearer(token))
    assert response.status_code == 401, response.text
    assert response.json()["error"] == "invalid_token"
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith("Bearer ")
    assert 'error="invalid_token"' in challenge


def request_token(http: httpx.Client, client_id: str, secret: str) -> httpx.Response:
    return http.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret)
    )


def assert_invalid_client(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    assert response.json()["error"] == "invalid_client"
    assert response.headers["www-authenticate"].startswith("Basic ")


def renew(server: LiveServer, http: httpx.Client, issued: dict[str, Any]) -> httpx.Response:
    response = http.post(
        f"/oauth/tokens/{issued['token_id']}/renew", headers=bearer(issued["access_token"])
    )
    if response.status_code == 200:
        server.remember_token(response.json()["access_token"])
    return response


def sleep_until(start: float, seconds: float) -> None:
    """Sleep until ``seconds`` after the monotonic instant ``start``."""
    time.sleep(max(0.0, start + seconds - time.monotonic()))


@pytest.fixture()
def seeded(server: LiveServer) -> Seeded:
    return server.client(token_ttl=TTL)


# Expiry


def test_token_works_until_its_lifetime_ends_then_is_refused_as_invalid_token(
    server: LiveServer, http: httpx.Client
) -> None:
    seeded = server.client(token_ttl=2)
    start = time.monotonic()
    issued = server.token(seeded)
    assert issued["expires_in"] == 2

    assert_works(http, issued["access_token"])
    sleep_until(start, 2.5)

    assert_refused(http, issued["access_token"])


# Revocation


@pytest.mark.parametrize(
    "extra", [{}, {"token_type_hint": "access_token"}], ids=["no-hint", "hint"]
)
def test_token_revoked_through_rfc7009_is_refused_at_once(
    server: LiveServer, http: httpx.Client, seeded: Seeded, extra: dict[str, str]
) -> None:
    issued = server.token(seeded)
    assert_works(http, issued["access_token"])

    response = http.post(
        "/oauth/revoke",
        data={"token": issued["access_token"], **extra},
        auth=(seeded.client_id, seeded.client_secret),
    )

    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    assert_refused(http, issued["access_token"])


def test_refused_token_is_logged_with_reason_and_ids_but_never_the_token(
    server: LiveServer, http: httpx.Client, seeded: Seeded
) -> None:
    issued = server.token(seeded)
    revoked = http.delete(
        f"/oauth/tokens/{issued['token_id']}", headers=bearer(issued["access_token"])
    )
    assert revoked.status_code == 204

    assert_refused(http, issued["access_token"])
    refusals = log_events(server, "token.refused", seeded.client_id)

    assert [(r["reason"], r["token_id"]) for r in refusals] == [
        ("the access token was revoked", issued["token_id"])
    ]
    assert refusals[0]["level"] == "INFO"
    assert refusals[0]["path"] == "/api/users"
    assert issued["access_token"] not in server.log_file.read_text()


def test_unknown_token_refusal_is_logged_without_ids(
    server: LiveServer, http: httpx.Client
) -> None:
    unknown = generate_access_token()

    assert_refused(http, unknown)
    log = server.log_file.read_text()
    refusals = [json.loads(line) for line in log.splitlines() if '"token.refused"' in line]

    assert refusals[-1]["reason"] == "the access token is not recognised"
    assert (refusals[-1]["client_id"], refusals[-1]["token_id"]) == (None, None)
    assert unknown not in log


@pytest.mark.parametrize("credentials", ["own-bearer", "owner-basic"])
def test_token_deleted_by_id_is_refused_at_once(
    server: LiveServer, http: httpx.Client, seeded: Seeded, credentials: str
) -> None:
    issued = server.token(seeded)
    assert_works(http, issued["access_token"])

    if credentials == "own-bearer":
        response = http.delete(
            f"/oauth/tokens/{issued['token_id']}", headers=bearer(issued["access_token"])
        )
    else:
        response = http.delete(
            f"/oauth/tokens/{issued['token_id']}", auth=(seeded.client_id, seeded.client_secret)
        )

    assert response.status_code == 204, response.text
    assert response.content == b""
    assert_refused(http, issued["access_token"])


@pytest.mark.parametrize(
    ("method", "credentials"),
    [("DELETE", "basic"), ("DELETE", "bearer"), ("GET", "bearer")],
)
def test_another_client_cannot_see_or_delete_a_token_and_it_keeps_working(
    server: LiveServer, http: httpx.Client, seeded: Seeded, method: str, credentials: str
) -> None:
    issued = server.token(seeded)
    other = server.client()
    if credentials == "basic":
        kwargs: dict[str, Any] = {"auth": (other.client_id, other.client_secret)}
    else:
        kwargs = {"headers": bearer(server.token(other)["access_token"])}

    response = http.request(method, f"/oauth/tokens/{issued['token_id']}", **kwargs)

    assert response.status_code == 404, response.text
    assert response.json()["error"] == "not_found"
    assert issued["access_token"] not in response.text
    assert_works(http, issued["access_token"])


@pytest.mark.parametrize(
    "value",
    [generate_access_token(), "not-a-token", ""],
    ids=["well-formed-unknown", "malformed", "empty"],
)
def test_rfc7009_revocation_of_an_unknown_token_answers_200(
    server: LiveServer, http: httpx.Client, seeded: Seeded, value: str
) -> None:
    response = http.post(
        "/oauth/revoke", data={"token": value}, auth=(seeded.client_id, seeded.client_secret)
    )

    assert response.status_code == 200, response.text


def test_rfc7009_revocation_of_another_clients_token_answers_200_and_leaves_it_working(
    server: LiveServer, http: httpx.Client, seeded: Seeded
) -> None:
    victim = server.token(seeded)
    other = server.client()

    response = http.post(
        "/oauth/revoke",
        data={"token": victim["access_token"]},
        auth=(other.client_id, other.client_secret),
    )

    assert response.status_code == 200, response.text
    assert_works(http, victim["access_token"])


# Description


def test_token_description_gives_client_scope_and_times_but_never_the_token(
    server: LiveServer, http: httpx.Client
) -> None:
    seeded = server.client(scope="users:read", token_ttl=TTL)
    before = time.time()
    issued = server.token(seeded)

    response = http.get(
        f"/oauth/tokens/{issued['token_id']}", headers=bearer(issued["access_token"])
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert body == {
        "token_id": issued["token_id"],
        "client_id": seeded.client_id,
        "scope": "users:read",
        "issued_at": body["issued_at"],
        "expires_at": issued["expires_at"],
    }
    assert int(before) - 1 <= body["issued_at"] <= time.time()
    assert body["expires_at"] - body["issued_at"] in (TTL - 1, TTL, TTL + 1)
    assert issued["access_token"] not in response.text
    assert response.headers["cache-control"] == "no-store"


# Renewal


def test_renewal_gives_a_new_token_and_the_old_one_ends_after_the_overlap(
    server: LiveServer, http: httpx.Client, seeded: Seeded
) -> None:
    old = server.token(seeded)

    start = time.monotonic()
    response = renew(server, http, old)

    assert response.status_code == 200, response.text
    new = response.json()
    assert_token_response(new, response.headers, ttl=TTL)
    assert new["token_id"] != old["token_id"]
    assert new["access_token"] != old["access_token"]
    assert_works(http, old["access_token"])  # calls in flight finish during the overlap
    assert_works(http, new["access_token"])

    sleep_until(start, 1.5)

    assert_refused(http, old["access_token"])
    assert_works(http, new["access_token"])


def test_renewing_the_same_token_twice_is_invalid_grant(
    server: LiveServer, http: httpx.Client, seeded: Seeded
) -> None:
    old = server.token(seeded)
    first = renew(server, http, old)
    assert first.status_code == 200, first.text

    again = renew(server, http, old)

    assert again.status_code == 400, again.text
    assert again.json()["error"] == "invalid_grant"
    assert again.headers["cache-control"] == "no-store"
    assert_works(http, first.json()["access_token"])


@pytest.fixture(scope="module")
def short_chains(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A second server whose renewal chains may run 3 s past Create Token."""
    process, live = start_server(
        tmp_path_factory.mktemp("short-chains"), {"CREDGATE_RENEWAL_MAX_AGE": "3"}
    )
    yield live
    stop_server(process)


def test_token_lifetime_is_capped_at_the_renewal_max_age_so_it_cannot_be_renewed(
    short_chains: LiveServer,
) -> None:
    seeded = short_chains.client(token_ttl=TTL)
    issued = short_chains.token(seeded)
    assert issued["expires_in"] == 3  # not TTL: no chain outlives the maximum age

    with short_chains.http() as http:
        response = renew(short_chains, http, issued)

        assert response.status_code == 400, response.text
        assert response.json()["error"] == "invalid_grant"
        assert_works(http, issued["access_token"])


def test_token_expires_at_the_renewal_max_age(short_chains: LiveServer) -> None:
    seeded = short_chains.client(token_ttl=TTL)
    start = time.monotonic()
    issued = short_chains.token(seeded)

    with short_chains.http() as http:
        assert_works(http, issued["access_token"])
        sleep_until(start, 3.5)
        assert_refused(http, issued["access_token"])


def test_renewal_chain_stops_at_the_renewal_max_age(short_chains: LiveServer) -> None:
    seeded = short_chains.client(token_ttl=2)
    issued = short_chains.token(seeded)
    chain_end = time.time() + 3
    start = time.monotonic()

    with short_chains.http() as http:
        sleep_until(start, 1.6)
        renewed = renew(short_chains, http, issued)
        assert renewed.status_code == 200, renewed.text
        # A full 2 s more would pass the chain's 3 s: the new token ends with the chain,
        # about 1.4 s from now.
        assert renewed.json()["expires_in"] == 1
        assert abs(renewed.json()["expires_at"] - chain_end) <= 1.5

        again = renew(short_chains, http, renewed.json())

        assert again.status_code == 400, again.text
        assert again.json()["error"] == "invalid_grant"
        assert_works(http, renewed.json()["access_token"])


# Secrets and clients


def test_secret_rotated_without_grace_stops_at_once_and_earlier_tokens_keep_working(
    server: LiveServer, http: httpx.Client, seeded: Seeded
) -> None:
    earlier = server.token(seeded)

    new = server.run(
        lambda rt: management.rotate_secret(rt, seeded.client_id, grace=0, actor="test")
    )
    server.remember_secret(new.client_secret)

    assert_invalid_client(request_token(http, seeded.client_id, seeded.client_secret))
    fresh = request_token(http, seeded.client_id, new.client_secret)
    assert fresh.status_code == 200, fresh.text
    server.remember_token(fresh.json()["access_token"])
    assert_works(http, fresh.json()["access_token"])
    assert_works(http, earlier["access_token"])


def test_secret_rotated_with_grace_keeps_the_old_secret_working_until_the_grace_ends(
    server: LiveServer, http: httpx.Client, seeded: Seeded
) -> None:
    start = time.monotonic()
    new = server.run(
        lambda rt: management.rotate_secret(rt, seeded.client_id, grace=2, actor="test")
    )
    server.remember_secret(new.client_secret)

    during = request_token(http, seeded.client_id, seeded.client_secret)
    assert during.status_code == 200, during.text
    server.remember_token(during.json()["access_token"])

    sleep_until(start, 2.5)

    assert_invalid_client(request_token(http, seeded.client_id, seeded.client_secret))
    after = request_token(http, seeded.client_id, new.client_secret)
    assert after.status_code == 200, after.text
    server.remember_token(after.json()["access_token"])


def test_revoked_clients_tokens_stop_at_once_and_its_secret_is_refused(
    server: LiveServer, http: httpx.Client, seeded: Seeded
) -> None:
    tokens = [server.token(seeded)["access_token"] for _ in range(2)]
    for token in tokens:
        assert_works(http, token)

    revoked = server.run(lambda rt: management.revoke_client(rt, seeded.client_id, actor="test"))

    assert revoked == 2
    for token in tokens:
        assert_refused(http, token)
    assert_invalid_client(request_token(http, seeded.client_id, seeded.client_secret))
