"""RFC 6750 on the sample protected API (/api/users), against the live server.

Every request goes over real HTTPS to a real ``credgate serve``; tokens come from the real
token endpoint.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import httpx
import pytest

from conftest import LiveServer, Seeded
from credgate.credentials import generate_access_token

BARE_CHALLENGE = 'Bearer realm="credgate"'

# (method, path template, JSON body); {user} is replaced by a user of the token's account.
ENDPOINTS = [
    ("GET", "/api/users", None),
    ("POST", "/api/users", {"email": "someone@example.com", "name": "Someone"}),
    ("GET", "/api/users/{user}", None),
]
ENDPOINT_IDS = ["list", "create", "get"]


def bearer(token: str, scheme: str = "Bearer") -> dict[str, str]:
    return {"Authorization": f"{scheme} {token}"}


def call(
    http: httpx.Client,
    method: str,
    path: str,
    headers: dict[str, str] | None = None,
    body: dict[str, str] | None = None,
    params: dict[str, str] | None = None,
) -> httpx.Response:
    return http.request(method, path, headers=headers, json=body, params=params)


def fresh_body() -> dict[str, str]:
    return {"email": f"{uuid.uuid4().hex[:10]}@example.com", "name": "Katherine Johnson"}


def flip_last_char(token: str) -> str:
    return token[:-1] + ("A" if token[-1] != "A" else "B")


def assert_no_store(response: httpx.Response) -> None:
    assert response.headers["cache-control"] == "no-store"


@pytest.fixture()
def account_user(server: LiveServer, client: Seeded) -> str:
    return server.user(client.account)


@pytest.fixture()
def full_token(server: LiveServer, client: Seeded) -> str:
    return str(server.token(client)["access_token"])


def path_for(template: str, user_id: str) -> str:
    return template.format(user=user_id)


# --- Missing or wrong credentials --------------------------------------------------------


@pytest.mark.parametrize(("method", "template", "body"), ENDPOINTS, ids=ENDPOINT_IDS)
def test_request_without_authorization_gets_401_with_bare_bearer_challenge(
    http: httpx.Client, account_user: str, method: str, template: str, body: dict | None
) -> None:
    response = call(http, method, path_for(template, account_user), body=body)

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == BARE_CHALLENGE
    assert "error=" not in response.headers["www-authenticate"]
    assert_no_store(response)


@pytest.mark.parametrize(("method", "template", "body"), ENDPOINTS, ids=ENDPOINT_IDS)
@pytest.mark.parametrize(
    "make_token",
    [
        pytest.param(flip_last_char, id="bad-checksum"),
        pytest.param(lambda _: generate_access_token(), id="unknown-well-formed"),
        pytest.param(lambda _: "garbage", id="garbage-b64token"),
        pytest.param(lambda _: "not a token!", id="garbage-not-b64token"),
        pytest.param(lambda t: t[:-3], id="truncated"),
    ],
)
def test_invalid_token_gets_401_invalid_token_with_error_in_challenge(
    http: httpx.Client,
    account_user: str,
    full_token: str,
    make_token: Callable[[str], str],
    method: str,
    template: str,
    body: dict | None,
) -> None:
    token = make_token(full_token)
    response = call(http, method, path_for(template, account_user), bearer(token), body)

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_token"
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith("Bearer ")
    assert 'realm="credgate"' in challenge
    assert 'error="invalid_token"' in challenge
    assert token not in response.text
    assert_no_store(response)


def test_bearer_scheme_without_a_value_is_refused_as_invalid_token(http: httpx.Client) -> None:
    response = http.get("/api/users", headers={"Authorization": "Bearer"})

    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER", "bEaReR"])
def test_bearer_scheme_name_is_case_insensitive(
    http: httpx.Client, account_user: str, full_token: str, scheme: str
) -> None:
    response = http.get(f"/api/users/{account_user}", headers=bearer(full_token, scheme))

    assert response.status_code == 200
    assert response.json()["id"] == account_user


@pytest.mark.parametrize(
    "authorization",
    [
        pytest.param("Basic {basic}", id="basic"),
        pytest.param("Token {token}", id="other-scheme"),
        pytest.param("{token}", id="no-scheme"),
    ],
)
def test_non_bearer_authorization_gets_401_with_bare_challenge(
    http: httpx.Client, client: Seeded, full_token: str, authorization: str
) -> None:
    basic = httpx.BasicAuth(client.client_id, client.client_secret)._auth_header
    header = authorization.format(basic=basic.split(" ", 1)[1], token=full_token)

    response = http.get("/api/users", headers={"Authorization": header})

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == BARE_CHALLENGE
    assert_no_store(response)


def test_client_credentials_do_not_authorize_the_api(http: httpx.Client, client: Seeded) -> None:
    response = http.get("/api/users", auth=(client.client_id, client.client_secret))

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == BARE_CHALLENGE


def test_two_authorization_headers_are_an_invalid_request(
    http: httpx.Client, full_token: str
) -> None:
    headers = [
        ("Authorization", f"Bearer {full_token}"),
        ("Authorization", f"Bearer {full_token}"),
    ]

    response = http.get("/api/users", headers=headers)

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    assert 'error="invalid_request"' in response.headers["www-authenticate"]


# --- Tokens in the URL are refused -------------------------------------------------------


@pytest.mark.parametrize(("method", "template", "body"), ENDPOINTS, ids=ENDPOINT_IDS)
@pytest.mark.parametrize("also_in_header", [False, True], ids=["query-only", "query-and-header"])
def test_access_token_in_query_is_400_invalid_request_even_when_valid(
    http: httpx.Client,
    account_user: str,
    full_token: str,
    method: str,
    template: str,
    body: dict | None,
    also_in_header: bool,
) -> None:
    headers = bearer(full_token) if also_in_header else None
    path = path_for(template, account_user)

    response = call(http, method, path, headers, body, params={"access_token": full_token})

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    assert 'error="invalid_request"' in response.headers["www-authenticate"]
    assert full_token not in response.text
    assert_no_store(response)


def test_refused_query_token_creates_nothing(http: httpx.Client, full_token: str) -> None:
    body = fresh_body()
    response = http.post("/api/users", json=body, params={"access_token": full_token})
    assert response.status_code == 400

    listed = http.get("/api/users", headers=bearer(full_token)).json()["users"]
    assert body["email"] not in [user["email"] for user in listed]


# --- Scopes ------------------------------------------------------------------------------


def test_read_only_token_cannot_create_users_403_insufficient_scope(
    server: LiveServer, http: httpx.Client
) -> None:
    token = server.token(server.client(scope="users:read"))["access_token"]

    response = http.post("/api/users", json=fresh_body(), headers=bearer(token))

    assert response.status_code == 403
    assert response.json()["error"] == "insufficient_scope"
    challenge = response.headers["www-authenticate"]
    assert 'error="insufficient_scope"' in challenge
    assert 'scope="users:write"' in challenge
    assert_no_store(response)


def test_token_narrowed_to_read_at_issue_cannot_create_users(
    server: LiveServer, http: httpx.Client, client: Seeded
) -> None:
    token = server.token(client, scope="users:read")["access_token"]

    response = http.post("/api/users", json=fresh_body(), headers=bearer(token))

    assert response.status_code == 403
    assert 'scope="users:write"' in response.headers["www-authenticate"]


@pytest.mark.parametrize("template", ["/api/users", "/api/users/{user}"], ids=["list", "get"])
def test_write_only_token_cannot_read_users_403_insufficient_scope(
    server: LiveServer, http: httpx.Client, template: str
) -> None:
    seeded = server.client(scope="users:write")
    user_id = server.user(seeded.account)
    token = server.token(seeded)["access_token"]

    response = http.get(path_for(template, user_id), headers=bearer(token))

    assert response.status_code == 403
    assert response.json()["error"] == "insufficient_scope"
    assert 'scope="users:read"' in response.headers["www-authenticate"]
    assert user_id not in response.text


def test_write_only_token_can_create_users(server: LiveServer, http: httpx.Client) -> None:
    token = server.token(server.client(scope="users:write"))["access_token"]

    response = http.post("/api/users", json=fresh_body(), headers=bearer(token))

    assert response.status_code == 201


# --- Account isolation -------------------------------------------------------------------


def test_other_accounts_user_is_404_like_a_user_that_does_not_exist(
    server: LiveServer, http: httpx.Client, full_token: str
) -> None:
    other = server.client()
    foreign_user = server.user(other.account)

    foreign = http.get(f"/api/users/{foreign_user}", headers=bearer(full_token))
    missing = http.get(f"/api/users/{uuid.uuid4()}", headers=bearer(full_token))

    assert foreign.status_code == 404
    assert missing.status_code == 404
    assert foreign.json() == missing.json()
    assert foreign.json()["error"] == "not_found"
    assert foreign_user not in foreign.text
    assert_no_store(foreign)


def test_user_id_that_is_not_a_uuid_is_404(http: httpx.Client, full_token: str) -> None:
    response = http.get("/api/users/not-a-uuid", headers=bearer(full_token))

    assert response.status_code == 404


def test_own_user_is_returned_with_its_fields(
    server: LiveServer, http: httpx.Client, client: Seeded, full_token: str
) -> None:
    user_id = server.user(client.account, email="mary@example.com", name="Mary Jackson")

    response = http.get(f"/api/users/{user_id}", headers=bearer(full_token))

    assert response.status_code == 200
    body = response.json()
    assert body["id"] == user_id
    assert body["email"] == "mary@example.com"
    assert body["name"] == "Mary Jackson"
    assert body["created_at"]


def test_list_returns_only_the_token_accounts_users(
    server: LiveServer, http: httpx.Client, client: Seeded, full_token: str
) -> None:
    mine = {server.user(client.account) for _ in range(3)}
    other = server.client()
    theirs = {server.user(other.account) for _ in range(2)}

    response = http.get("/api/users", headers=bearer(full_token))

    assert response.status_code == 200
    listed = {user["id"] for user in response.json()["users"]}
    assert listed == mine
    assert not listed & theirs


def test_list_of_an_account_without_users_is_empty(http: httpx.Client, full_token: str) -> None:
    response = http.get("/api/users", headers=bearer(full_token))

    assert response.status_code == 200
    assert response.json() == {"users": [], "limit": 50, "offset": 0}


def test_list_pages_with_limit_and_offset(
    server: LiveServer, http: httpx.Client, client: Seeded, full_token: str
) -> None:
    created = {server.user(client.account) for _ in range(3)}

    first = http.get("/api/users", params={"limit": 2}, headers=bearer(full_token)).json()
    rest = http.get(
        "/api/users", params={"limit": 2, "offset": 2}, headers=bearer(full_token)
    ).json()

    assert len(first["users"]) == 2
    assert len(rest["users"]) == 1
    assert {u["id"] for u in first["users"] + rest["users"]} == created


@pytest.mark.parametrize("offset", [str(2**63), "9" * 30])
def test_offset_beyond_what_the_database_can_hold_is_invalid_request(
    http: httpx.Client, full_token: str, offset: str
) -> None:
    response = http.get("/api/users", params={"offset": offset}, headers=bearer(full_token))

    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "invalid_request"
    assert [problem["field"] for problem in body["fields"]] == ["query.offset"]
    assert offset not in response.text


# --- Creating users ----------------------------------------------------------------------


def test_create_user_returns_201_with_location_and_the_user(
    http: httpx.Client, full_token: str
) -> None:
    body = fresh_body()

    response = http.post("/api/users", json=body, headers=bearer(full_token))

    assert response.status_code == 201
    created = response.json()
    assert set(created) == {"id", "email", "name", "created_at"}
    assert created["email"] == body["email"]
    assert created["name"] == body["name"]
    assert uuid.UUID(created["id"])
    assert response.headers["location"] == f"/api/users/{created['id']}"
    fetched = http.get(response.headers["location"], headers=bearer(full_token))
    assert fetched.status_code == 200
    assert fetched.json() == created


def test_created_user_is_visible_only_to_its_account(
    server: LiveServer, http: httpx.Client, full_token: str
) -> None:
    created = http.post("/api/users", json=fresh_body(), headers=bearer(full_token)).json()
    other_token = server.token(server.client())["access_token"]

    response = http.get(f"/api/users/{created['id']}", headers=bearer(other_token))

    assert response.status_code == 404


@pytest.mark.parametrize("same_case", [True, False], ids=["same-case", "other-case"])
def test_duplicate_email_in_the_same_account_is_409(
    http: httpx.Client, full_token: str, same_case: bool
) -> None:
    body = fresh_body()
    assert http.post("/api/users", json=body, headers=bearer(full_token)).status_code == 201
    again = {**body, "email": body["email"] if same_case else body["email"].upper()}

    response = http.post("/api/users", json=again, headers=bearer(full_token))

    assert response.status_code == 409
    assert response.json()["error"] == "conflict"
    assert_no_store(response)


def test_same_email_in_another_account_is_allowed(
    server: LiveServer, http: httpx.Client, full_token: str
) -> None:
    body = fresh_body()
    other_token = server.token(server.client())["access_token"]

    first = http.post("/api/users", json=body, headers=bearer(full_token))
    second = http.post("/api/users", json=body, headers=bearer(other_token))

    assert first.status_code == 201
    assert second.status_code == 201
    assert first.json()["id"] != second.json()["id"]


MARKER = "Zq7MarkerValue"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        pytest.param({"email": f"{MARKER}-no-at-sign", "name": "X"}, "email", id="bad-email"),
        pytest.param({"email": f"{MARKER}@", "name": "X"}, "email", id="email-no-domain"),
        pytest.param(
            {"email": f"x@{MARKER}\u2603.com", "name": "X"}, "email", id="email-bad-idna-label"
        ),
        pytest.param({"email": f"x@{MARKER}@x.co", "name": "X"}, "email", id="email-two-ats"),
        pytest.param({"email": f"{MARKER}@example.com"}, "name", id="missing-name"),
        pytest.param({"name": MARKER}, "email", id="missing-email"),
        pytest.param({"email": f"{MARKER}@example.com", "name": ""}, "name", id="empty-name"),
        pytest.param(
            {"email": f"{MARKER}@example.com", "name": MARKER * 20}, "name", id="long-name"
        ),
        pytest.param(
            {"email": f"{MARKER}@example.com", "name": "X", "is_admin": MARKER},
            "is_admin",
            id="extra-field",
        ),
        pytest.param(
            {"email": f"{MARKER}@example.com", "name": "X", "id": MARKER}, "id", id="extra-id"
        ),
    ],
)
def test_invalid_user_body_is_400_invalid_request_without_echoing_values(
    http: httpx.Client, full_token: str, body: dict[str, str], field: str
) -> None:
    response = http.post("/api/users", json=body, headers=bearer(full_token))

    assert response.status_code == 400
    document = response.json()
    assert document["error"] == "invalid_request"
    assert [problem["field"] for problem in document["fields"]] == [f"body.{field}"]
    # Case-blind: the email checks lower-case the domain before they complain about it.
    assert MARKER.lower() not in response.text.lower()
    assert_no_store(response)


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        pytest.param(b'{"email": "Zq7MarkerValue@', "application/json", id="truncated-json"),
        pytest.param(b"[]", "application/json", id="json-array"),
        pytest.param(b"email=Zq7MarkerValue", "text/plain", id="not-json"),
    ],
)
def test_malformed_user_body_is_400_invalid_request_without_echoing_it(
    http: httpx.Client, full_token: str, content: bytes, content_type: str
) -> None:
    headers = {**bearer(full_token), "Content-Type": content_type}

    response = http.post("/api/users", content=content, headers=headers)

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    assert MARKER not in response.text
    assert_no_store(response)


def test_invalid_body_creates_no_user(http: httpx.Client, full_token: str) -> None:
    body = {**fresh_body(), "extra": "field"}
    assert http.post("/api/users", json=body, headers=bearer(full_token)).status_code == 400

    listed = http.get("/api/users", headers=bearer(full_token)).json()["users"]

    assert listed == []


def test_unauthenticated_invalid_body_is_401_not_400(http: httpx.Client) -> None:
    response = http.post("/api/users", json={"bad": MARKER})

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == BARE_CHALLENGE


# --- Oversized bodies --------------------------------------------------------------------


def _oversized_user(server: LiveServer) -> bytes:
    name = "x" * (server.settings.max_body_bytes + 1)
    return b'{"email": "big@example.com", "name": "' + name.encode() + b'"}'


def _in_chunks(body: bytes) -> Iterator[bytes]:
    for start in range(0, len(body), 8192):
        yield body[start : start + 8192]


@pytest.mark.parametrize("authorized", [True, False], ids=["with-token", "without-token"])
@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_oversized_api_body_is_refused_with_413_before_it_is_read(
    server: LiveServer, http: httpx.Client, full_token: str, authorized: bool, chunked: bool
) -> None:
    body = _oversized_user(server)
    headers = {"Content-Type": "application/json", **(bearer(full_token) if authorized else {})}
    content = _in_chunks(body) if chunked else body

    response = http.post("/api/users", content=content, headers=headers)

    assert response.status_code == 413
    assert response.json() == {
        "error": "invalid_request",
        "error_description": "the request body is too large",
    }
    assert_no_store(response)


# --- Methods -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        ("/api/users", {"GET", "POST"}),
        ("/api/users/{user}", {"GET"}),
        ("/oauth/tokens/{token_id}", {"GET", "DELETE"}),
        ("/oauth/tokens/{token_id}/renew", {"POST"}),
    ],
)
def test_405_names_every_method_the_resource_allows(
    http: httpx.Client, account_user: str, path: str, allowed: set[str]
) -> None:
    url = path.format(user=account_user, token_id=uuid.uuid4())

    response = http.request("PATCH", url)

    assert response.status_code == 405
    assert {method.strip() for method in response.headers["allow"].split(",")} == allowed
    assert_no_store(response)
