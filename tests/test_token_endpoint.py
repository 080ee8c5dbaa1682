"""``POST /oauth/token`` (RFC 6749 §4.4 and §5) against a live ``credgate serve`` over HTTPS.

Every bad input must get its RFC 6749 §5.2 answer: never a 500, never an echo of what was sent.
"""

from __future__ import annotations

import base64
import json
import statistics
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote_plus

import httpx
import pytest

from conftest import LiveServer, Seeded
from credgate import management
from credgate.credentials import (
    generate_client_id,
    generate_client_secret,
    is_well_formed_token,
)

TOKEN = "/oauth/token"
FORM = "application/x-www-form-urlencoded"
JSON_TYPE = "application/json"
GRANT = {"grant_type": "client_credentials"}
BOTH_SCOPES = "users:read users:write"

# A secret from another system, full of what form-encoding and Basic treat specially.
RESERVED_SECRET = "a:b%c+d&e=f é ü ß/?#~ %41+%2B x:y 日本"
ERROR_KEYS = {"error", "error_description"}


# --- helpers --------------------------------------------------------------------------------


def basic_value(client_id: str, secret: str) -> str:
    """RFC 6749 §2.3.1: form-urlencode id and secret, then base64 ``id:secret``."""
    raw = f"{quote_plus(client_id)}:{quote_plus(secret)}"
    return "Basic " + base64.b64encode(raw.encode("utf-8")).decode("ascii")


def basic(client_id: str, secret: str) -> dict[str, str]:
    return {"Authorization": basic_value(client_id, secret)}


def raw_basic(raw: bytes) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(raw).decode("ascii")}


def form_of(seeded: Seeded, **extra: str) -> dict[str, str]:
    return {**GRANT, "client_id": seeded.client_id, "client_secret": seeded.client_secret, **extra}


def flip_last_char(value: str) -> str:
    return value[:-1] + ("A" if value[-1] != "A" else "B")


def assert_not_echoed(response: httpx.Response, *values: str) -> None:
    """None of ``values``, raw or form-encoded, appears in the body or any header."""
    headers = "\n".join(f"{name}: {value}" for name, value in response.headers.multi_items())
    for value in values:
        for form in {value, quote_plus(value), json.dumps(value)[1:-1]}:
            assert form not in response.text, f"{form!r} echoed in the body"
            assert form not in headers, f"{form!r} echoed in a header"


def assert_error(
    response: httpx.Response, status: int, error: str, *not_echoed: str
) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["cache-control"] == "no-store"
    body: dict[str, Any] = response.json()
    assert body["error"] == error
    assert set(body) <= ERROR_KEYS
    assert_not_echoed(response, *not_echoed)
    return body


def assert_token(server: LiveServer, response: httpx.Response) -> dict[str, Any]:
    """A successful RFC 6749 §5.1 answer; the token is remembered for the at-rest checks."""
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    server.remember_token(body["access_token"])
    assert body["token_type"] == "Bearer"
    assert body["access_token"] == body["token"]
    assert is_well_formed_token(body["access_token"])
    assert body["expires_in"] > 0
    assert "refresh_token" not in body
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["pragma"] == "no-cache"
    return body


@pytest.fixture()
def seeded(server: LiveServer) -> Seeded:
    return server.client(scope=BOTH_SCOPES)


@pytest.fixture(scope="module")
def reserved(server: LiveServer) -> Seeded:
    """A client whose imported secret holds reserved and non-ASCII characters."""
    return server.client(imported_secret=RESERVED_SECRET)


@pytest.fixture(scope="module")
def shared(server: LiveServer) -> Seeded:
    """A client for tests that only need some valid client to exist."""
    return server.client()


# --- success --------------------------------------------------------------------------------


def test_basic_credentials_get_a_bearer_token(
    server: LiveServer, http: httpx.Client, seeded: Seeded
) -> None:
    response = http.post(TOKEN, data=GRANT, auth=(seeded.client_id, seeded.client_secret))
    body = assert_token(server, response)
    assert response.headers["content-type"].startswith("application/json")
    assert body["scope"] == BOTH_SCOPES
    assert body["expires_in"] == server.settings.default_token_ttl
    assert set(body) == {
        "token_id",
        "token",
        "access_token",
        "token_type",
        "expires_at",
        "expires_in",
        "scope",
    }


def test_form_field_credentials_get_a_token(
    server: LiveServer, http: httpx.Client, seeded: Seeded
) -> None:
    assert_token(server, http.post(TOKEN, data=form_of(seeded)))


def test_json_body_credentials_get_a_token(
    server: LiveServer, http: httpx.Client, seeded: Seeded
) -> None:
    assert_token(server, http.post(TOKEN, json=form_of(seeded)))


def test_json_body_without_grant_type_gets_a_token(
    server: LiveServer, http: httpx.Client, seeded: Seeded
) -> None:
    body = {"client_id": seeded.client_id, "client_secret": seeded.client_secret}
    assert_token(server, http.post(TOKEN, json=body))


def test_json_grant_type_null_counts_as_absent(
    server: LiveServer, http: httpx.Client, seeded: Seeded
) -> None:
    body: dict[str, str | None] = {"grant_type": None, "client_id": seeded.client_id}
    body["client_secret"] = seeded.client_secret
    assert_token(server, http.post(TOKEN, json=body))


def test_form_body_without_grant_type_is_invalid_request(
    http: httpx.Client, seeded: Seeded
) -> None:
    response = http.post(TOKEN, data={}, auth=(seeded.client_id, seeded.client_secret))
    assert_error(response, 400, "invalid_request", seeded.client_secret)


def test_generated_secrets_work_in_basic_whether_or_not_the_client_form_encodes(
    server: LiveServer, http: httpx.Client, seeded: Seeded
) -> None:
    # httpx's auth=(id, secret) base64-encodes without form-encoding first.
    raw = http.post(TOKEN, data=GRANT, auth=(seeded.client_id, seeded.client_secret))
    encoded = http.post(TOKEN, data=GRANT, headers=basic(seeded.client_id, seeded.client_secret))
    assert_token(server, raw)
    assert_token(server, encoded)


def test_each_request_gets_a_distinct_token(
    server: LiveServer, http: httpx.Client, seeded: Seeded
) -> None:
    first = assert_token(server, http.post(TOKEN, data=form_of(seeded)))
    second = assert_token(server, http.post(TOKEN, data=form_of(seeded)))
    assert first["access_token"] != second["access_token"]
    assert first["token_id"] != second["token_id"]


def test_token_lifetime_follows_the_client_setting(server: LiveServer, http: httpx.Client) -> None:
    short = server.client(token_ttl=120)
    body = assert_token(server, http.post(TOKEN, data=form_of(short)))
    assert body["expires_in"] == 120
    assert abs(body["expires_at"] - time.time() - 120) < 30


@pytest.mark.parametrize(
    "content_type",
    [
        "application/x-www-form-urlencoded; charset=UTF-8",
        "application/x-www-form-urlencoded;charset=utf-8",
        "Application/X-WWW-Form-URLEncoded",
    ],
    ids=["charset_upper", "charset_no_space", "mixed_case"],
)
def test_form_content_type_with_charset_or_other_case_works(
    server: LiveServer, http: httpx.Client, seeded: Seeded, content_type: str
) -> None:
    content = f"grant_type=client_credentials&client_id={seeded.client_id}"
    content += f"&client_secret={seeded.client_secret}"
    response = http.post(TOKEN, content=content, headers={"Content-Type": content_type})
    assert_token(server, response)


@pytest.mark.parametrize(
    "content_type",
    ["application/json; charset=utf-8", "application/json;charset=UTF-8", "Application/JSON"],
    ids=["charset", "charset_upper", "mixed_case"],
)
def test_json_content_type_with_charset_or_other_case_works(
    server: LiveServer, http: httpx.Client, seeded: Seeded, content_type: str
) -> None:
    content = json.dumps(form_of(seeded))
    response = http.post(TOKEN, content=content, headers={"Content-Type": content_type})
    assert_token(server, response)


# --- scope ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("requested", "granted"),
    [
        ("users:read", "users:read"),
        ("users:write", "users:write"),
        ("users:write users:read", BOTH_SCOPES),
        ("  users:read   ", "users:read"),
    ],
    ids=["read", "write", "both_reordered", "extra_spaces"],
)
def test_a_requested_subset_of_scope_is_granted(
    server: LiveServer, http: httpx.Client, seeded: Seeded, requested: str, granted: str
) -> None:
    body = assert_token(server, http.post(TOKEN, data=form_of(seeded, scope=requested)))
    assert body["scope"] == granted


def test_json_requested_scope_is_granted(
    server: LiveServer, http: httpx.Client, seeded: Seeded
) -> None:
    body = assert_token(server, http.post(TOKEN, json=form_of(seeded, scope="users:read")))
    assert body["scope"] == "users:read"


def test_no_requested_scope_grants_the_clients_full_set(
    server: LiveServer, http: httpx.Client
) -> None:
    narrow = server.client(scope="users:read")
    body = assert_token(server, http.post(TOKEN, data=form_of(narrow)))
    assert body["scope"] == "users:read"


@pytest.mark.parametrize(
    "requested",
    ["users:write", "users:read users:write", "admin-everything", "", "   ", 'users:read"x'],
    ids=["other_scope", "superset", "unknown", "empty", "blank", "bad_character"],
)
def test_scope_beyond_the_clients_is_invalid_scope(
    server: LiveServer, http: httpx.Client, requested: str
) -> None:
    narrow = server.client(scope="users:read")
    response = http.post(TOKEN, data=form_of(narrow, scope=requested))
    echoes = [narrow.client_secret] + (["admin-everything"] if "admin" in requested else [])
    assert_error(response, 400, "invalid_scope", *echoes)
    assert response.headers["pragma"] == "no-cache"


# --- client authentication failures ---------------------------------------------------------


def test_wrong_secret_with_basic_is_invalid_client_with_a_basic_challenge(
    http: httpx.Client, seeded: Seeded
) -> None:
    wrong = generate_client_secret()
    response = http.post(TOKEN, data=GRANT, auth=(seeded.client_id, wrong))
    assert_error(response, 401, "invalid_client", wrong, seeded.client_secret)
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith("Basic ")
    assert 'realm="credgate"' in challenge


@pytest.mark.parametrize("encoding", ["form", "json"])
def test_wrong_secret_in_the_body_is_invalid_client_without_a_challenge(
    http: httpx.Client, seeded: Seeded, encoding: str
) -> None:
    wrong = generate_client_secret()
    fields = form_of(seeded, client_secret=wrong)
    if encoding == "form":
        response = http.post(TOKEN, data=fields)
    else:
        response = http.post(TOKEN, json=fields)
    assert_error(response, 401, "invalid_client", wrong, seeded.client_secret)
    assert "www-authenticate" not in response.headers


@pytest.mark.parametrize("method", ["basic", "form"])
def test_wrong_secret_and_unknown_client_get_the_same_answer(
    http: httpx.Client, seeded: Seeded, method: str
) -> None:
    wrong = generate_client_secret()
    unknown_id = generate_client_id()

    def attempt(client_id: str) -> httpx.Response:
        if method == "basic":
            return http.post(TOKEN, data=GRANT, headers=basic(client_id, wrong))
        return http.post(TOKEN, data={**GRANT, "client_id": client_id, "client_secret": wrong})

    wrong_secret, unknown_client = attempt(seeded.client_id), attempt(unknown_id)
    assert_error(wrong_secret, 401, "invalid_client", wrong, seeded.client_id)
    assert_error(unknown_client, 401, "invalid_client", wrong, unknown_id)
    assert wrong_secret.content == unknown_client.content
    assert wrong_secret.headers.get("www-authenticate") == unknown_client.headers.get(
        "www-authenticate"
    )


def test_unknown_client_and_wrong_secret_take_similar_time(
    http: httpx.Client, shared: Seeded
) -> None:
    wrong = generate_client_secret()
    unknown_id = generate_client_id()
    durations: dict[str, list[float]] = {"wrong_secret": [], "unknown_client": []}
    cases = {"wrong_secret": shared.client_id, "unknown_client": unknown_id}

    def refuse(client_id: str) -> float:
        started = time.perf_counter()
        response = http.post(TOKEN, data=GRANT, headers=basic(client_id, wrong))
        elapsed = time.perf_counter() - started
        assert response.status_code == 401
        return elapsed

    for _ in range(5):  # warm up the connection, the server and the database
        for client_id in cases.values():
            refuse(client_id)
    for _ in range(30):  # interleaved, so drift in load affects both alike
        for name, client_id in cases.items():
            durations[name].append(refuse(client_id))

    ratio = statistics.median(durations["unknown_client"]) / statistics.median(
        durations["wrong_secret"]
    )
    assert 0.5 <= ratio <= 2.0, durations


def test_revoked_client_is_invalid_client_like_a_wrong_secret(
    server: LiveServer, http: httpx.Client
) -> None:
    revoked = server.client()
    assert_token(server, http.post(TOKEN, data=form_of(revoked)))
    server.run(lambda rt: management.revoke_client(rt, revoked.client_id, actor="test"))

    by_basic = http.post(TOKEN, data=GRANT, auth=(revoked.client_id, revoked.client_secret))
    by_form = http.post(TOKEN, data=form_of(revoked))
    assert_error(by_basic, 401, "invalid_client", revoked.client_secret)
    assert_error(by_form, 401, "invalid_client", revoked.client_secret)
    assert by_basic.headers["www-authenticate"].startswith("Basic ")

    wrong = http.post(TOKEN, data=GRANT, auth=(revoked.client_id, generate_client_secret()))
    assert by_basic.content == wrong.content


def test_secret_with_a_bad_checksum_is_invalid_client(http: httpx.Client, seeded: Seeded) -> None:
    forged = flip_last_char(seeded.client_secret)
    by_basic = http.post(TOKEN, data=GRANT, auth=(seeded.client_id, forged))
    by_form = http.post(TOKEN, data=form_of(seeded, client_secret=forged))
    assert_error(by_basic, 401, "invalid_client", forged, seeded.client_secret)
    assert_error(by_form, 401, "invalid_client", forged, seeded.client_secret)
    wrong = http.post(TOKEN, data=GRANT, auth=(seeded.client_id, generate_client_secret()))
    assert by_basic.content == wrong.content


@pytest.mark.parametrize(
    "secret",
    ["", "short", "x" * 31],
    ids=["empty", "short", "one_under_minimum"],
)
def test_too_short_secrets_are_invalid_client(
    http: httpx.Client, shared: Seeded, secret: str
) -> None:
    response = http.post(TOKEN, data=form_of(shared, client_secret=secret))
    assert_error(response, 401, "invalid_client", shared.client_secret)


@pytest.mark.parametrize(
    "fields",
    [
        GRANT,
        {**GRANT, "client_id": "cgc_someone"},
        {**GRANT, "client_secret": "cgs_something"},
    ],
    ids=["nothing", "id_only", "secret_only"],
)
def test_missing_credentials_are_invalid_client(
    http: httpx.Client, fields: dict[str, str]
) -> None:
    response = http.post(TOKEN, data=fields)
    assert_error(response, 401, "invalid_client", "cgc_someone", "cgs_something")
    assert "www-authenticate" not in response.headers


def test_json_without_credentials_is_invalid_client(http: httpx.Client) -> None:
    assert_error(http.post(TOKEN, json={}), 401, "invalid_client")


# --- malformed requests ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [{}, {"Content-Type": FORM}],
    ids=["no_content_type", "form_content_type"],
)
def test_empty_body_is_invalid_request(http: httpx.Client, headers: dict[str, str]) -> None:
    assert_error(http.post(TOKEN, content=b"", headers=headers), 400, "invalid_request")


def test_empty_body_with_valid_basic_is_invalid_request(
    http: httpx.Client, seeded: Seeded
) -> None:
    response = http.post(TOKEN, content=b"", auth=(seeded.client_id, seeded.client_secret))
    assert_error(response, 400, "invalid_request", seeded.client_secret)


@pytest.mark.parametrize(
    "authorization",
    [
        "Basic !!!not-base64!!!",
        "Basic " + base64.b64encode(b"no-colon-at-all").decode(),
        "Basic Y2djX3g6c2VjcmV",  # truncated: bad padding
        "Basic",
        "Basic " + base64.b64encode(b"id:%FF%FE").decode(),
        "Basic " + base64.b64encode(b"\xff\xfe:secret").decode(),
    ],
    ids=["bad_base64", "no_colon", "bad_padding", "empty", "non_utf8_escape", "non_utf8"],
)
def test_malformed_basic_header_is_invalid_request(http: httpx.Client, authorization: str) -> None:
    response = http.post(TOKEN, data=GRANT, headers={"Authorization": authorization})
    assert_error(response, 400, "invalid_request", "no-colon-at-all", "not-base64")


@pytest.mark.parametrize(
    "authorization",
    ["Bearer cgt_something", "Digest username=someone", "Token abc"],
    ids=["bearer", "digest", "token"],
)
def test_other_authorization_schemes_are_invalid_request(
    http: httpx.Client, shared: Seeded, authorization: str
) -> None:
    response = http.post(TOKEN, data=form_of(shared), headers={"Authorization": authorization})
    assert_error(response, 400, "invalid_request", shared.client_secret, authorization)


@pytest.mark.parametrize("second", ["same", "other_client", "bearer"])
def test_more_than_one_authorization_header_is_invalid_request(
    http: httpx.Client, seeded: Seeded, shared: Seeded, second: str
) -> None:
    first = basic_value(seeded.client_id, seeded.client_secret)
    other = {
        "same": first,
        "other_client": basic_value(shared.client_id, shared.client_secret),
        "bearer": "Bearer cgt_whatever",
    }[second]
    headers = [("Authorization", first), ("Authorization", other)]
    response = http.post(TOKEN, data=GRANT, headers=headers)
    assert_error(response, 400, "invalid_request", seeded.client_secret, shared.client_secret)


def test_basic_plus_form_client_secret_is_invalid_request(
    http: httpx.Client, seeded: Seeded
) -> None:
    response = http.post(
        TOKEN,
        data=form_of(seeded),
        auth=(seeded.client_id, seeded.client_secret),
    )
    assert_error(response, 400, "invalid_request", seeded.client_secret)


def test_basic_plus_a_bare_matching_client_id_in_the_body_is_accepted(
    server: LiveServer, http: httpx.Client, seeded: Seeded
) -> None:
    response = http.post(
        TOKEN,
        data={**GRANT, "client_id": seeded.client_id},
        auth=(seeded.client_id, seeded.client_secret),
    )
    assert_token(server, response)


def test_basic_plus_a_different_client_id_in_the_body_is_invalid_request(
    http: httpx.Client, seeded: Seeded
) -> None:
    other = generate_client_id()
    response = http.post(
        TOKEN,
        data={**GRANT, "client_id": other},
        auth=(seeded.client_id, seeded.client_secret),
    )
    assert_error(response, 400, "invalid_request", other, seeded.client_secret)


@pytest.mark.parametrize(
    "repeat",
    [
        "grant_type=client_credentials",
        "grant_type=password",
        "scope=users:read",
        "client_id=cgc_repeated",
    ],
    ids=["grant_type_same", "grant_type_other", "scope", "client_id"],
)
def test_repeated_parameters_are_invalid_request(
    http: httpx.Client, seeded: Seeded, repeat: str
) -> None:
    content = f"grant_type=client_credentials&scope=users:read&{repeat}"
    if repeat.startswith("client_id"):
        content += "&client_id=cgc_repeated"
    response = http.post(
        TOKEN,
        content=content,
        headers={"Content-Type": FORM},
        auth=(seeded.client_id, seeded.client_secret),
    )
    assert_error(response, 400, "invalid_request", seeded.client_secret, "cgc_repeated")


@pytest.mark.parametrize(
    "content",
    [
        '{"grant_type": "client_credentials", "grant_type": "client_credentials"}',
        '{"scope": "users:read", "scope": "users:write"}',
        '{"client_id": "cgc_a", "client_secret": "s1-json-dup", "client_secret": "s2-json-dup"}',
    ],
    ids=["grant_type", "scope", "client_secret"],
)
def test_duplicate_json_keys_are_invalid_request(http: httpx.Client, content: str) -> None:
    response = http.post(TOKEN, content=content, headers={"Content-Type": "application/json"})
    assert_error(response, 400, "invalid_request", "s1-json-dup", "s2-json-dup")


@pytest.mark.parametrize(
    "grant_type",
    [
        "refresh_token",
        "password",
        "authorization_code",
        "urn:ietf:params:oauth:grant-type:jwt-bearer",
        "nonsense-grant",
        "Client_Credentials",
    ],
)
@pytest.mark.parametrize("encoding", ["form", "json"])
def test_other_grant_types_are_unsupported_grant_type(
    http: httpx.Client, shared: Seeded, grant_type: str, encoding: str
) -> None:
    fields = form_of(shared, grant_type=grant_type)
    if encoding == "form":
        response = http.post(TOKEN, data=fields)
    else:
        response = http.post(TOKEN, json=fields)
    echoes = [shared.client_secret] + ([grant_type] if grant_type.startswith("non") else [])
    assert_error(response, 400, "unsupported_grant_type", *echoes)


def test_refresh_token_grant_with_a_refresh_token_is_unsupported(
    http: httpx.Client, shared: Seeded
) -> None:
    fields = form_of(shared, grant_type="refresh_token", refresh_token="rt-never-issued")
    response = http.post(TOKEN, data=fields)
    assert_error(response, 400, "unsupported_grant_type", "rt-never-issued")


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH"])
def test_other_methods_are_405_allowing_post(http: httpx.Client, method: str) -> None:
    response = http.request(method, TOKEN)
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert response.json()["error"]


def test_get_with_credentials_in_the_query_is_refused_without_echo(
    http: httpx.Client, shared: Seeded
) -> None:
    response = http.get(TOKEN, params=form_of(shared))
    assert response.status_code == 405
    assert_not_echoed(response, shared.client_secret)


def test_a_body_over_64_kib_is_413_invalid_request(http: httpx.Client, shared: Seeded) -> None:
    padding = "p" * (64 * 1024)
    response = http.post(TOKEN, data=form_of(shared, padding=padding))
    assert_error(response, 413, "invalid_request", shared.client_secret)
    assert padding[:100] not in response.text


def test_a_streamed_body_over_64_kib_is_413_invalid_request(http: httpx.Client) -> None:
    def chunks() -> Iterator[bytes]:
        yield b"grant_type=client_credentials&padding="
        for _ in range(20):
            yield b"q" * 4096

    response = http.post(TOKEN, content=chunks(), headers={"Content-Type": FORM})
    assert "content-length" not in response.request.headers
    assert_error(response, 413, "invalid_request", "q" * 100)


def test_a_body_just_under_the_limit_is_read(
    server: LiveServer, http: httpx.Client, seeded: Seeded
) -> None:
    content = f"grant_type=client_credentials&client_id={seeded.client_id}"
    content += f"&client_secret={seeded.client_secret}&padding="
    content += "p" * (server.settings.max_body_bytes - len(content))
    response = http.post(TOKEN, content=content, headers={"Content-Type": FORM})
    assert_token(server, response)


@pytest.mark.parametrize(
    "content",
    ["[]", '["client_credentials"]', '"client_credentials"', "42", "true", "null"],
    ids=["empty_list", "list", "string", "number", "bool", "null"],
)
def test_json_that_is_not_an_object_is_invalid_request(http: httpx.Client, content: str) -> None:
    response = http.post(TOKEN, content=content, headers={"Content-Type": "application/json"})
    assert_error(response, 400, "invalid_request")


@pytest.mark.parametrize(
    "value",
    ["42", "true", '["users:read"]', '{"a": "b"}'],
    ids=["number", "bool", "list", "object"],
)
def test_json_values_that_are_not_strings_are_invalid_request(
    http: httpx.Client, shared: Seeded, value: str
) -> None:
    content = json.dumps(form_of(shared))[:-1] + f', "scope": {value}}}'
    response = http.post(TOKEN, content=content, headers={"Content-Type": "application/json"})
    assert_error(response, 400, "invalid_request", shared.client_secret)


@pytest.mark.parametrize(
    "content",
    [
        b"{",
        b'{"grant_type": "client_credentials",}',
        b"{'grant_type': 'client_credentials'}",
        b'{"client_secret": "\xff\xfe-malformed"}',
        b"[" * 5000,
        b"",
    ],
    ids=["unclosed", "trailing_comma", "single_quotes", "non_utf8", "deep", "empty"],
)
def test_malformed_json_is_invalid_request(http: httpx.Client, content: bytes) -> None:
    response = http.post(TOKEN, content=content, headers={"Content-Type": "application/json"})
    assert_error(response, 400, "invalid_request", "-malformed")


@pytest.mark.parametrize(
    "field",
    ["client_secret", "client_id", "grant_type", "scope"],
)
def test_json_unpaired_surrogate_escapes_are_invalid_request_not_500(
    http: httpx.Client, shared: Seeded, field: str
) -> None:
    fields = form_of(shared, scope="users:read")
    fields[field] = fields[field] + "-surrogate-" + "x" * 32
    content = json.dumps(fields).replace("-surrogate-", "\\ud800")
    response = http.post(TOKEN, content=content, headers={"Content-Type": "application/json"})
    assert_error(response, 400, "invalid_request", shared.client_secret)


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "multipart/form-data; boundary=xyz", "application/xml"],
    ids=["text", "multipart", "xml"],
)
def test_other_content_types_are_invalid_request(
    http: httpx.Client, shared: Seeded, content_type: str
) -> None:
    content = f"grant_type=client_credentials&client_id={shared.client_id}"
    content += f"&client_secret={shared.client_secret}"
    response = http.post(TOKEN, content=content, headers={"Content-Type": content_type})
    assert_error(response, 400, "invalid_request", shared.client_secret)


def test_a_form_body_without_content_type_is_invalid_request(
    http: httpx.Client, shared: Seeded
) -> None:
    content = f"grant_type=client_credentials&client_id={shared.client_id}"
    content += f"&client_secret={shared.client_secret}"
    response = http.post(TOKEN, content=content.encode())
    assert "content-type" not in response.request.headers
    assert_error(response, 400, "invalid_request", shared.client_secret)


@pytest.mark.parametrize(
    "in_url",
    ["client_secret", "client_id", "grant_type", "scope", "all"],
)
def test_parameters_in_the_url_query_are_invalid_request(
    http: httpx.Client, shared: Seeded, in_url: str
) -> None:
    fields = form_of(shared, scope="users:read")
    query = fields if in_url == "all" else {in_url: fields[in_url]}
    body = {name: value for name, value in fields.items() if name not in query}
    response = http.post(TOKEN, params=query, data=body)
    assert_error(response, 400, "invalid_request", shared.client_secret)


def test_query_parameters_are_refused_even_with_valid_basic(
    http: httpx.Client, seeded: Seeded
) -> None:
    response = http.post(
        TOKEN,
        params={"grant_type": "client_credentials"},
        data={},
        auth=(seeded.client_id, seeded.client_secret),
    )
    assert_error(response, 400, "invalid_request", seeded.client_secret)


# --- secrets with reserved characters -------------------------------------------------------


def test_reserved_secret_authenticates_with_form_encoded_basic(
    server: LiveServer, http: httpx.Client, reserved: Seeded
) -> None:
    assert reserved.client_secret == RESERVED_SECRET
    response = http.post(TOKEN, data=GRANT, headers=basic(reserved.client_id, RESERVED_SECRET))
    assert_token(server, response)


def test_reserved_secret_authenticates_with_form_fields(
    server: LiveServer, http: httpx.Client, reserved: Seeded
) -> None:
    assert_token(server, http.post(TOKEN, data=form_of(reserved)))


def test_reserved_secret_authenticates_with_a_json_body(
    server: LiveServer, http: httpx.Client, reserved: Seeded
) -> None:
    assert_token(server, http.post(TOKEN, json=form_of(reserved)))


def test_reserved_secret_sent_without_form_encoding_is_refused_without_echo(
    http: httpx.Client, reserved: Seeded
) -> None:
    # '+' decodes to a space, so the server sees another secret: RFC 6749 §2.3.1 at work.
    raw = f"{reserved.client_id}:{RESERVED_SECRET}".encode()
    response = http.post(TOKEN, data=GRANT, headers=raw_basic(raw))
    assert response.status_code in (400, 401), response.text
    assert response.json()["error"] in ("invalid_request", "invalid_client")
    assert_not_echoed(response, RESERVED_SECRET)


@pytest.mark.parametrize(
    "secret",
    [
        "colon:colon:colon:colon:colon:colon",
        "percent%25%41%%%%-----------------",
        "plus+plus+plus+plus+plus+plus+plus",
        "amp&amp=eq&eq=amp&&==&&==&&==&&==",
        "éééééééééééééééééééééééééééééééééééé",
    ],
    ids=["colons", "percents", "pluses", "amps_and_equals", "non_ascii"],
)
def test_imported_secrets_with_one_kind_of_reserved_character_work_everywhere(
    server: LiveServer, http: httpx.Client, secret: str
) -> None:
    owner = server.client(imported_secret=secret)
    assert_token(server, http.post(TOKEN, data=GRANT, headers=basic(owner.client_id, secret)))
    assert_token(server, http.post(TOKEN, data=form_of(owner)))
    assert_token(server, http.post(TOKEN, json=form_of(owner)))


# --- never a 500 ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b"\x00\x01\x02", FORM),
        (b"%", FORM),
        (b"client_secret=%FF%FE&client_id=%00&grant_type=client_credentials", FORM),
        (b"grant_type=client_credentials&client_id=%00&client_secret=" + b"%00" * 40, FORM),
        (b'{"client_id": "\\u0000", "client_secret": "' + b"\\u0000" * 40 + b'"}', JSON_TYPE),
        (b'{"client_id": "' + b"i" * 60000 + b'", "client_secret": "s"}', JSON_TYPE),
        (b"grant_type=client_credentials&client_id=" + b"%E2%82%AC" * 7000, FORM),
        (b"\xef\xbb\xbf{}", JSON_TYPE),
        (b'{"a": 1e999999}', JSON_TYPE),
    ],
    ids=[
        "binary_form",
        "lone_percent",
        "non_utf8_escapes",
        "nul_escapes",
        "json_nuls",
        "huge_client_id",
        "many_euros",
        "json_bom",
        "json_infinity",
    ],
)
def test_odd_bodies_get_a_4xx_oauth_error_never_a_500(
    http: httpx.Client, content: bytes, content_type: str
) -> None:
    response = http.post(TOKEN, content=content, headers={"Content-Type": content_type})
    assert 400 <= response.status_code < 500, response.text
    assert response.json()["error"] in {"invalid_request", "invalid_client"}
