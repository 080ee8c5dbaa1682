"""Property tests of the parsers: random input never raises past the error layer.

Every parser of untrusted bytes either returns a well-typed value or raises an
``OAuth2Error`` (which the one error mapping turns into a 4xx), and round trips hold for
the values credgate itself produces. Pure functions: SQLite pass only.
"""

from __future__ import annotations

import asyncio
import base64
import string
from urllib.parse import quote_plus

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.requests import Request
from starlette.types import Message

from credgate.credentials import (
    CredentialHasher,
    generate_access_token,
    generate_client_id,
    generate_client_secret,
    is_acceptable_secret,
    is_well_formed_token,
    looks_like_client_id,
)
from credgate.oauth2.bearer import extract_bearer_token
from credgate.oauth2.errors import BearerError, OAuth2Error
from credgate.oauth2.requests import (
    ClientCredentials,
    OAuthRequest,
    extract_client_credentials,
    parse_basic_credentials,
    read_oauth_request,
)
from credgate.oauth2.scopes import format_scope, grant_scope, parse_scope

pytestmark = pytest.mark.database_independent

EXAMPLES = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
LIMIT = 4096
HASHER = CredentialHasher(b"k" * 32)

header_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=200)
media_types = st.sampled_from(
    [
        None,
        "application/x-www-form-urlencoded",
        "application/json",
        "application/json; charset=utf-8",
        "text/plain",
        "multipart/form-data",
    ]
)
form_like = st.lists(
    st.tuples(
        st.sampled_from(["grant_type", "client_id", "client_secret", "scope", "token", "x"]),
        st.text(max_size=40),
    ),
    max_size=6,
).map(lambda pairs: "&".join(f"{quote_plus(k)}={quote_plus(v)}" for k, v in pairs).encode())
json_like = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=12), inner),
    max_leaves=8,
).map(lambda value: repr(value).replace("'", '"').replace("None", "null").encode())
bodies = st.one_of(st.binary(max_size=300), form_like, json_like)


def make_request(
    body: bytes,
    content_type: str | None,
    authorization: list[str],
    query: str = "",
    chunked: bool = False,
) -> Request:
    headers: list[tuple[bytes, bytes]] = []
    if content_type is not None:
        headers.append((b"content-type", content_type.encode("latin-1")))
    if not chunked:
        headers.append((b"content-length", str(len(body)).encode()))
    headers += [(b"authorization", value.encode("latin-1")) for value in authorization]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "https",
        "path": "/oauth/token",
        "raw_path": b"/oauth/token",
        "root_path": "",
        "query_string": query.encode("latin-1"),
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 443),
    }
    chunks = [body[i : i + 64] for i in range(0, len(body), 64)] or [b""]

    async def receive() -> Message:
        if chunks:
            chunk = chunks.pop(0)
            return {"type": "http.request", "body": chunk, "more_body": bool(chunks)}
        return {"type": "http.disconnect"}

    return Request(scope, receive)


def basic_value(client_id: str, secret: str) -> str:
    raw = f"{quote_plus(client_id)}:{quote_plus(secret)}".encode()
    return base64.b64encode(raw).decode("ascii")


# --- Basic headers -----------------------------------------------------------------------


@EXAMPLES
@given(st.one_of(header_text, st.binary(max_size=120).map(lambda b: base64.b64encode(b).decode())))
def test_any_basic_value_parses_or_is_an_invalid_request(value: str) -> None:
    try:
        client_id, secret = parse_basic_credentials(value)
    except OAuth2Error as error:
        assert error.status_code == 400
        return
    assert isinstance(client_id, str)
    assert isinstance(secret, str)


@EXAMPLES
@given(st.text(min_size=1, max_size=60), st.text(min_size=1, max_size=80))
def test_basic_credentials_round_trip_through_form_encoding_and_base64(
    client_id: str, secret: str
) -> None:
    try:
        basic = basic_value(client_id, secret)
    except UnicodeEncodeError:
        return  # a lone surrogate cannot be sent at all
    assert parse_basic_credentials(basic) == (client_id, secret)


# --- bodies and the way the client authenticated ----------------------------------------------


async def read_and_extract(request: Request) -> tuple[OAuthRequest, ClientCredentials]:
    oauth = await read_oauth_request(request, LIMIT)
    return oauth, extract_client_credentials(request, oauth)


@EXAMPLES
@given(
    body=bodies,
    content_type=media_types,
    authorization=st.lists(
        st.one_of(header_text.map(lambda v: "Basic " + v), header_text), max_size=2
    ),
    query=st.sampled_from(["", "client_secret=x", "a=b", "scope=users%3Aread"]),
    chunked=st.booleans(),
)
def test_any_body_and_authorization_parse_or_raise_an_oauth2_error(
    body: bytes, content_type: str | None, authorization: list[str], query: str, chunked: bool
) -> None:
    request = make_request(body, content_type, authorization, query, chunked)
    try:
        oauth, credentials = asyncio.run(read_and_extract(request))
    except OAuth2Error as error:
        assert 400 <= error.status_code < 500
        assert "error" in error.body()
        return
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in oauth.params.items())
    assert credentials.method in (
        "client_secret_basic",
        "client_secret_post",
        "client_secret_json",
    )


@EXAMPLES
@given(st.binary(min_size=LIMIT + 1, max_size=LIMIT + 200), st.booleans())
def test_bodies_over_the_limit_are_refused_however_they_arrive(body: bytes, chunked: bool) -> None:
    request = make_request(body, "application/x-www-form-urlencoded", [], chunked=chunked)
    with pytest.raises(OAuth2Error) as refused:
        asyncio.run(read_oauth_request(request, LIMIT))
    assert refused.value.status_code == 413


# --- scope strings -----------------------------------------------------------------------------

scope_token = st.text(
    st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters='"\\'),
    min_size=1,
    max_size=12,
)


@EXAMPLES
@given(st.text(max_size=80))
def test_any_scope_string_parses_or_is_a_value_error(value: str) -> None:
    try:
        scopes = parse_scope(value)
    except ValueError:
        return
    assert all(token and " " not in token for token in scopes)
    assert parse_scope(format_scope(scopes)) == scopes


@EXAMPLES
@given(st.frozensets(scope_token, max_size=6))
def test_formatted_scopes_parse_back_to_the_same_set(scopes: frozenset[str]) -> None:
    assert parse_scope(format_scope(scopes)) == scopes


@EXAMPLES
@given(st.one_of(st.none(), st.text(max_size=60)), st.frozensets(scope_token, max_size=4))
def test_a_granted_scope_is_never_more_than_the_client_may_have(
    requested: str | None, allowed: frozenset[str]
) -> None:
    try:
        granted = grant_scope(requested, allowed)
    except OAuth2Error as error:
        assert error.error == "invalid_scope"
        return
    assert granted <= allowed


# --- bearer headers --------------------------------------------------------------------------


@EXAMPLES
@given(
    st.lists(
        st.one_of(header_text, header_text.map(lambda v: "Bearer " + v)), min_size=0, max_size=2
    ),
    st.sampled_from(["", "access_token=abc", "x=1"]),
)
def test_any_authorization_header_gives_a_token_or_a_bearer_error(
    values: list[str], query: str
) -> None:
    request = make_request(b"", None, values, query)
    try:
        token = extract_bearer_token(request)
    except BearerError as error:
        assert error.status_code in (400, 401)
        assert error.headers()["WWW-Authenticate"].startswith("Bearer")
        return
    allowed = set(string.ascii_letters + string.digits + "-._~+/=")
    assert token
    assert set(token) <= allowed


@EXAMPLES
@given(st.integers(min_value=0, max_value=100))
def test_a_generated_token_is_read_back_from_its_bearer_header(spaces: int) -> None:
    token = generate_access_token()
    request = make_request(b"", None, ["Bearer " + token + " " * (spaces % 3)])
    assert extract_bearer_token(request) == token


# --- token, secret and client id formats ----------------------------------------------------


@EXAMPLES
@given(st.text(max_size=80))
def test_format_checks_answer_any_text_without_raising(value: str) -> None:
    assert isinstance(is_well_formed_token(value), bool)
    assert isinstance(is_acceptable_secret(value), bool)
    assert isinstance(looks_like_client_id(value), bool)


@EXAMPLES
@given(st.data())
def test_generated_values_pass_and_any_one_character_change_fails_the_checksum(
    data: st.DataObject,
) -> None:
    token, secret = generate_access_token(), generate_client_secret()
    assert is_well_formed_token(token)
    assert is_acceptable_secret(secret)
    assert looks_like_client_id(generate_client_id())

    for value, check in ((token, is_well_formed_token), (secret, is_acceptable_secret)):
        position = data.draw(st.integers(min_value=4, max_value=len(value) - 1))
        alphabet = string.ascii_letters + string.digits
        replacement = data.draw(st.sampled_from(alphabet.replace(value[position], "")))
        changed = value[:position] + replacement + value[position + 1 :]
        assert not check(changed)
