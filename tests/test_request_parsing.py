"""Reading OAuth requests off the wire: Basic credentials, form and JSON bodies.

Requests are real ``starlette.requests.Request`` objects built from an ASGI scope and a
``receive`` callable, as a server would hand them to the endpoint.
"""

from __future__ import annotations

import base64
from urllib.parse import quote_plus

import pytest
from starlette.requests import Request
from starlette.types import Message

from credgate.oauth2.errors import InvalidClient, InvalidRequest, RequestTooLarge
from credgate.oauth2.requests import (
    ClientCredentials,
    OAuthRequest,
    extract_client_credentials,
    parse_basic_credentials,
    read_oauth_request,
)

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
LIMIT = 1024


def make_request(
    body: bytes | list[bytes] = b"",
    *,
    content_type: str | None = FORM,
    headers: list[tuple[str, str]] | None = None,
    query: str = "",
    content_length: bool = True,
) -> Request:
    """A request as uvicorn would deliver it; a list body arrives in several chunks."""
    chunks = list(body) if isinstance(body, list) else [body]
    raw_headers: list[tuple[bytes, bytes]] = []
    if content_type is not None:
        raw_headers.append((b"content-type", content_type.encode("latin-1")))
    if content_length:
        raw_headers.append((b"content-length", str(sum(map(len, chunks))).encode()))
    for name, value in headers or []:
        raw_headers.append((name.lower().encode("latin-1"), value.encode("latin-1")))
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
        "headers": raw_headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 443),
    }

    async def receive() -> Message:
        if chunks:
            chunk = chunks.pop(0)
            return {"type": "http.request", "body": chunk, "more_body": bool(chunks)}
        return {"type": "http.disconnect"}

    return Request(scope, receive)


def basic(client_id: str, secret: str) -> str:
    """An RFC 6749 §2.3.1 Basic value: each part form-urlencoded, then base64."""
    raw = f"{quote_plus(client_id)}:{quote_plus(secret)}"
    return base64.b64encode(raw.encode("utf-8")).decode("ascii")


def raw_basic(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


async def read(request: Request) -> OAuthRequest:
    return await read_oauth_request(request, LIMIT)


# --- parse_basic_credentials ----------------------------------------------------------------


def test_basic_plain_id_and_secret_decode_as_sent() -> None:
    assert parse_basic_credentials(raw_basic(b"cgc_abc:cgs_xyz")) == ("cgc_abc", "cgs_xyz")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"my%3Aid:s%3Acret", ("my:id", "s:cret")),
        (b"id:50%25off", ("id", "50%off")),
        (b"id:with+space", ("id", "with space")),
        (b"id:with%2Bplus", ("id", "with+plus")),
        (b"id:%2B+%20", ("id", "+  ")),
        (b"id:caf%C3%A9", ("id", "café")),
        (b"id:%E6%97%A5%E6%9C%AC", ("id", "日本")),
        (b"id:a%26b%3Dc", ("id", "a&b=c")),
        (b"id%40x:secret", ("id@x", "secret")),
    ],
    ids=[
        "encoded_colons",
        "encoded_percent",
        "plus_is_space",
        "encoded_plus",
        "plus_and_encoded_space",
        "utf8_two_bytes",
        "utf8_three_bytes",
        "encoded_amp_and_equals",
        "encoded_id",
    ],
)
def test_basic_parts_are_form_decoded_after_base64(raw: bytes, expected: tuple[str, str]) -> None:
    assert parse_basic_credentials(raw_basic(raw)) == expected


def test_basic_splits_at_the_first_colon_so_secrets_may_hold_raw_colons() -> None:
    assert parse_basic_credentials(raw_basic(b"id:a:b:c")) == ("id", "a:b:c")


def test_basic_allows_an_empty_secret_to_reach_authentication() -> None:
    assert parse_basic_credentials(raw_basic(b"id:")) == ("id", "")


@pytest.mark.parametrize(
    ("client_id", "secret"),
    [
        ("cgc_0123456789abcdefABCDEF", "cgs_" + "A" * 49),
        ("client:with:colons", "secret:with:colons"),
        ("id", "a:b%c+d&e=f é ü/?#~ 日本 \"'\\"),
        ("id+plus", "%41 is not A"),
        ("é", "%%%+++   "),
    ],
    ids=["generated", "colons", "reserved_and_unicode", "plus_in_id", "percents_and_spaces"],
)
def test_basic_round_trips_anything_a_client_form_encodes(client_id: str, secret: str) -> None:
    assert parse_basic_credentials(basic(client_id, secret)) == (client_id, secret)


def test_basic_value_surrounding_whitespace_is_ignored() -> None:
    assert parse_basic_credentials("  " + raw_basic(b"id:secret") + " ") == ("id", "secret")


@pytest.mark.parametrize(
    "header",
    [
        raw_basic(b"no-colon-here"),
        raw_basic(b""),
        "",
        "not base64!",
        "aWQ6c2VjcmU",  # "id:secre" with its padding removed
        "aWQ6c2VjcmU==",
        "aWQ6c2Vj cmV0",
        "aWQ6c2VjcmV0\x00",
        "aWQ6c2VjcmV0\xe9",
        raw_basic(b"\xff\xfe:secret"),
        raw_basic(b"id:\xc3"),
        raw_basic(b"id:%FF"),
        raw_basic(b"%C3%28:secret"),
        raw_basic(b"id:%ED%A0%80"),
    ],
    ids=[
        "no_colon",
        "empty_decoded",
        "empty",
        "not_base64",
        "missing_padding",
        "extra_padding",
        "inner_space",
        "nul",
        "non_ascii",
        "non_utf8_bytes",
        "truncated_utf8",
        "non_utf8_percent_escape",
        "bad_utf8_escape_in_id",
        "surrogate_escape",
    ],
)
def test_malformed_basic_values_are_invalid_request(header: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        parse_basic_credentials(header)
    assert refused.value.status_code == 400
    assert refused.value.body()["error"] == "invalid_request"


def test_malformed_basic_refusal_does_not_echo_the_header() -> None:
    header = raw_basic(b"leaky-secret-value")
    with pytest.raises(InvalidRequest) as refused:
        parse_basic_credentials(header)
    text = str(refused.value.body())
    assert header not in text
    assert "leaky-secret-value" not in text


# --- form bodies ----------------------------------------------------------------------------


async def test_form_body_is_read_into_params() -> None:
    oauth = await read(make_request(b"grant_type=client_credentials&scope=a+b%3Ac"))
    assert oauth.params == {"grant_type": "client_credentials", "scope": "a b:c"}
    assert not oauth.is_json


@pytest.mark.parametrize(
    "content_type",
    [
        FORM,
        f"{FORM}; charset=UTF-8",
        f"{FORM};charset=utf-8",
        "Application/X-WWW-Form-Urlencoded",
        f"  {FORM}  ",
    ],
    ids=["plain", "charset", "charset_no_space", "mixed_case", "padded"],
)
async def test_form_media_type_parameters_and_case_are_accepted(content_type: str) -> None:
    request = make_request(b"grant_type=client_credentials", content_type=content_type)
    assert (await read(request)).params == {"grant_type": "client_credentials"}


async def test_form_values_may_be_blank() -> None:
    oauth = await read(make_request(b"grant_type=client_credentials&scope="))
    assert oauth.params["scope"] == ""


async def test_empty_body_without_content_type_reads_as_an_empty_form() -> None:
    oauth = await read(make_request(b"", content_type=None))
    assert oauth.params == {}
    assert not oauth.is_json


@pytest.mark.parametrize(
    "body",
    [
        b"grant_type=client_credentials&grant_type=client_credentials",
        b"scope=a&scope=b",
        b"client_id=x&client_secret=y&client_id=x",
        b"client_secret=&client_secret=y",
        b"grant_type=client_credentials&scope=a&grant_type=password",
        b"unknown=1&unknown=2",
    ],
    ids=[
        "grant_type_same",
        "scope_different",
        "client_id",
        "client_secret_blank_first",
        "grant_type_different",
        "unknown_name",
    ],
)
async def test_repeated_form_parameters_are_invalid_request(body: bytes) -> None:
    with pytest.raises(InvalidRequest):
        await read(make_request(body))


async def test_repeated_unknown_parameter_names_are_not_echoed() -> None:
    with pytest.raises(InvalidRequest) as refused:
        await read(make_request(b"leaky_name=1&leaky_name=2"))
    assert "leaky_name" not in str(refused.value.body())


@pytest.mark.parametrize(
    "body",
    [b"grant_type", b"grant_type=client_credentials&&scope=a", b"&", b"\xff=\xfe", b"a=\xe9"],
    ids=["no_equals", "empty_pair", "lone_ampersand", "non_utf8_name", "latin1_value"],
)
async def test_malformed_form_bodies_are_invalid_request(body: bytes) -> None:
    with pytest.raises(InvalidRequest):
        await read(make_request(body))


# --- JSON bodies ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type",
    [JSON, f"{JSON}; charset=utf-8", "Application/JSON"],
    ids=["plain", "charset", "mixed_case"],
)
async def test_json_object_of_strings_is_read_into_params(content_type: str) -> None:
    body = b'{"grant_type": "client_credentials", "scope": "a b", "client_id": "\\u00e9"}'
    oauth = await read(make_request(body, content_type=content_type))
    assert oauth.params == {"grant_type": "client_credentials", "scope": "a b", "client_id": "é"}
    assert oauth.is_json


async def test_json_null_values_count_as_absent() -> None:
    oauth = await read(make_request(b'{"scope": null, "client_id": "x"}', content_type=JSON))
    assert oauth.params == {"client_id": "x"}


@pytest.mark.parametrize(
    "body",
    [
        b'{"scope": "a", "scope": "a"}',
        b'{"scope": "a", "scope": "b"}',
        b'{"client_secret": "x", "client_id": "y", "client_secret": "z"}',
        b'{"scope": "a", "scope": null}',
        b'{"x": {"k": 1, "k": 2}}',
    ],
    ids=["same_value", "different_value", "secret", "second_null", "nested"],
)
async def test_duplicate_json_keys_are_invalid_request(body: bytes) -> None:
    with pytest.raises(InvalidRequest):
        await read(make_request(body, content_type=JSON))


@pytest.mark.parametrize(
    "body",
    [b"[]", b'["grant_type"]', b'"client_credentials"', b"42", b"true", b"null", b"1.5"],
    ids=["empty_list", "list", "string", "number", "bool", "null", "float"],
)
async def test_json_that_is_not_an_object_is_invalid_request(body: bytes) -> None:
    with pytest.raises(InvalidRequest):
        await read(make_request(body, content_type=JSON))


@pytest.mark.parametrize(
    "value",
    [b"1", b"1.0", b"true", b"false", b"[]", b'["a"]', b"{}", b'{"a": "b"}', b"NaN", b"1e999"],
    ids=[
        "int",
        "float",
        "true",
        "false",
        "empty_list",
        "list",
        "empty_object",
        "object",
        "nan",
        "huge",
    ],
)
async def test_json_values_that_are_not_strings_are_invalid_request(value: bytes) -> None:
    body = b'{"grant_type": "client_credentials", "scope": ' + value + b"}"
    with pytest.raises(InvalidRequest):
        await read(make_request(body, content_type=JSON))


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"{",
        b'{"scope": "a",}',
        b"{'scope': 'a'}",
        b'{"scope": "a"} trailing',
        b'{"scope": "\xff"}',
        b"[" * 1000,
        b"9" * 5000,
    ],
    ids=[
        "empty",
        "unclosed",
        "trailing_comma",
        "single_quotes",
        "trailing_garbage",
        "non_utf8",
        "deep_nesting",
        "giant_integer",
    ],
)
async def test_malformed_json_is_invalid_request(body: bytes) -> None:
    request = make_request(body, content_type=JSON)
    with pytest.raises(InvalidRequest):
        await read_oauth_request(request, 64 * 1024)


async def test_deeply_nested_json_within_the_size_limit_is_invalid_request() -> None:
    body = b'{"a": ' * 30000 + b"1" + b"}" * 30000
    request = make_request(body, content_type=JSON)
    with pytest.raises(InvalidRequest):
        await read_oauth_request(request, len(body))


@pytest.mark.parametrize(
    "body",
    [
        b'{"client_secret": "\\ud800xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}',
        b'{"client_id": "cgc_\\udfff"}',
        b'{"\\ud800": "x"}',
    ],
    ids=["lone_high_surrogate_value", "lone_low_surrogate_value", "surrogate_key"],
)
async def test_json_unpaired_surrogate_escapes_are_invalid_request(body: bytes) -> None:
    with pytest.raises(InvalidRequest):
        await read(make_request(body, content_type=JSON))


async def test_json_paired_surrogate_escapes_decode_to_one_character() -> None:
    request = make_request(b'{"client_secret": "\\ud83d\\ude00"}', content_type=JSON)
    assert (await read(request)).params == {"client_secret": "\U0001f600"}


async def test_non_string_refusal_does_not_echo_unknown_key_names() -> None:
    request = make_request(b'{"leaky_key": 12345}', content_type=JSON)
    with pytest.raises(InvalidRequest) as refused:
        await read(request)
    assert "leaky_key" not in str(refused.value.body())


# --- media types, URL parameters and size ---------------------------------------------------


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "multipart/form-data; boundary=x",
        "application/xml",
        "application/jsonx",
        "application/json-patch+json",
        None,
    ],
    ids=["text", "multipart", "xml", "json_lookalike", "json_suffix", "missing"],
)
async def test_bodies_of_other_media_types_are_invalid_request(content_type: str | None) -> None:
    request = make_request(b"grant_type=client_credentials", content_type=content_type)
    with pytest.raises(InvalidRequest):
        await read(request)


@pytest.mark.parametrize(
    "query",
    [
        "client_secret=s",
        "client_id=c",
        "grant_type=client_credentials",
        "scope=a",
        "token=t",
        "foo=1&client_secret=s",
    ],
    ids=["client_secret", "client_id", "grant_type", "scope", "token", "among_others"],
)
async def test_oauth_parameters_in_the_url_are_invalid_request(query: str) -> None:
    request = make_request(b"grant_type=client_credentials", query=query)
    with pytest.raises(InvalidRequest):
        await read(request)


async def test_unrelated_url_parameters_are_ignored() -> None:
    request = make_request(b"grant_type=client_credentials", query="trace=1")
    assert (await read(request)).params == {"grant_type": "client_credentials"}


async def test_a_body_at_the_limit_is_read() -> None:
    body = b"scope=" + b"a" * (LIMIT - len(b"scope="))
    assert len((await read(make_request(body))).params["scope"]) == LIMIT - 6


async def test_a_declared_length_over_the_limit_is_request_too_large() -> None:
    request = make_request(b"x" * (LIMIT + 1))
    with pytest.raises(RequestTooLarge) as refused:
        await read(request)
    assert refused.value.status_code == 413
    assert refused.value.body()["error"] == "invalid_request"


async def test_a_streamed_body_over_the_limit_is_request_too_large() -> None:
    chunks = [b"scope=", *([b"a" * 200] * 6)]
    request = make_request(chunks, content_length=False)
    with pytest.raises(RequestTooLarge):
        await read(request)


async def test_an_understated_content_length_does_not_lift_the_limit() -> None:
    request = make_request(
        [b"a" * 600, b"a" * 600],
        content_length=False,
        headers=[("content-length", "10")],
    )
    with pytest.raises(RequestTooLarge):
        await read(request)


# --- extract_client_credentials -------------------------------------------------------------


async def credentials_of(request: Request) -> ClientCredentials:
    return extract_client_credentials(request, await read(request))


@pytest.mark.parametrize("scheme", ["Basic", "basic", "BASIC"])
async def test_basic_credentials_are_found_whatever_the_scheme_case(scheme: str) -> None:
    request = make_request(
        b"grant_type=client_credentials",
        headers=[("authorization", f"{scheme} {basic('my:id', 'sé:cret')}")],
    )
    found = await credentials_of(request)
    assert (found.client_id, found.client_secret) == ("my:id", "sé:cret")
    assert found.method == "client_secret_basic"
    assert found.used_basic


async def test_form_credentials_are_client_secret_post() -> None:
    request = make_request(b"client_id=abc&client_secret=a%3Ab%25c%2Bd+e")
    found = await credentials_of(request)
    assert (found.client_id, found.client_secret) == ("abc", "a:b%c+d e")
    assert found.method == "client_secret_post"
    assert not found.used_basic


async def test_json_credentials_are_client_secret_json() -> None:
    request = make_request(b'{"client_id": "abc", "client_secret": "s"}', content_type=JSON)
    found = await credentials_of(request)
    assert (found.client_id, found.client_secret, found.method) == (
        "abc",
        "s",
        "client_secret_json",
    )


async def test_basic_with_a_matching_body_client_id_is_accepted() -> None:
    request = make_request(
        b"grant_type=client_credentials&client_id=abc",
        headers=[("authorization", f"Basic {basic('abc', 'secret')}")],
    )
    assert (await credentials_of(request)).client_id == "abc"


@pytest.mark.parametrize(
    "body",
    [b"client_id=other", b"client_secret=secret", b"client_id=abc&client_secret=secret"],
    ids=["different_client_id", "body_secret", "body_id_and_secret"],
)
async def test_basic_plus_body_credentials_is_invalid_request(body: bytes) -> None:
    request = make_request(body, headers=[("authorization", f"Basic {basic('abc', 'secret')}")])
    with pytest.raises(InvalidRequest):
        await credentials_of(request)


@pytest.mark.parametrize(
    "authorization",
    ["Bearer abc", "Digest username=x", "abc", "Basic", "Basic !!!", "Basic " + raw_basic(b"x")],
    ids=["bearer", "digest", "no_scheme", "empty_basic", "bad_base64", "no_colon"],
)
async def test_other_schemes_and_malformed_basic_are_invalid_request(authorization: str) -> None:
    request = make_request(
        b"client_id=abc&client_secret=s", headers=[("authorization", authorization)]
    )
    with pytest.raises(InvalidRequest):
        await credentials_of(request)


@pytest.mark.parametrize(
    "second",
    ["Basic " + basic("abc", "secret"), "Basic " + basic("other", "secret"), "Bearer cgt_x"],
    ids=["same_basic_twice", "two_basic_clients", "basic_and_bearer"],
)
async def test_more_than_one_authorization_header_is_invalid_request(second: str) -> None:
    request = make_request(
        b"grant_type=client_credentials",
        headers=[("authorization", f"Basic {basic('abc', 'secret')}"), ("authorization", second)],
    )
    with pytest.raises(InvalidRequest):
        await credentials_of(request)


async def test_basic_with_a_non_utf8_escape_is_invalid_request() -> None:
    request = make_request(b"", headers=[("authorization", "Basic " + raw_basic(b"id:%FF"))])
    with pytest.raises(InvalidRequest):
        await credentials_of(request)


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"grant_type=client_credentials", FORM),
        (b"client_id=abc", FORM),
        (b"client_secret=s", FORM),
        (b'{"client_id": "abc"}', JSON),
    ],
    ids=["none", "id_only", "secret_only", "json_id_only"],
)
async def test_missing_credentials_are_invalid_client_without_a_challenge(
    body: bytes, content_type: str
) -> None:
    with pytest.raises(InvalidClient) as refused:
        await credentials_of(make_request(body, content_type=content_type))
    assert refused.value.status_code == 401
    assert refused.value.headers() == {}


def test_client_credentials_repr_hides_the_secret() -> None:
    found = ClientCredentials("abc", "hidden-secret-value", "client_secret_post")
    assert "hidden-secret-value" not in repr(found)
