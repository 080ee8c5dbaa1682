"""Reading OAuth requests off the wire: bodies, client credentials, and their pitfalls.

Everything that parses untrusted bytes for the token, revocation and lifecycle endpoints is
here, so that every malformed input ends as an ``invalid_request`` and never as a 500.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import parse_qsl, unquote_plus

from starlette.requests import Request

from credgate.oauth2.errors import InvalidClient, InvalidRequest, RequestTooLarge

AuthMethod = Literal["client_secret_basic", "client_secret_post", "client_secret_json", "none"]

FORM_TYPE = "application/x-www-form-urlencoded"
JSON_TYPE = "application/json"

# RFC 6749 §2.3.1 and §3.2: credentials and grant parameters never travel in the URL.
_BODY_ONLY_PARAMETERS = frozenset({"client_secret", "client_id", "grant_type", "scope", "token"})


@dataclass(frozen=True)
class ClientCredentials:
    client_id: str
    client_secret: str = field(repr=False)
    method: AuthMethod

    @property
    def used_basic(self) -> bool:
        return self.method == "client_secret_basic"


@dataclass(frozen=True)
class OAuthRequest:
    """The body parameters of a request, and how it was encoded."""

    params: dict[str, str]
    is_json: bool


async def read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise RequestTooLarge("the request body is too large")
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise RequestTooLarge("the request body is too large")
        chunks.append(chunk)
    return b"".join(chunks)


def _media_type(request: Request) -> str:
    content_type = request.headers.get("content-type", "")
    return content_type.split(";", 1)[0].strip().lower()


def _parse_form(body: bytes) -> dict[str, str]:
    try:
        text = body.decode("utf-8")
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=bool(text))
    except (UnicodeDecodeError, ValueError):
        raise InvalidRequest("the form body is malformed") from None
    return _unique(pairs)


def _unique(pairs: list[tuple[str, str]]) -> dict[str, str]:
    params: dict[str, str] = {}
    for name, value in pairs:
        if name in params:
            # RFC 6749 §3.2: request parameters must not be included more than once.
            raise InvalidRequest(f"a parameter is repeated: {_safe_name(name)}")
        params[name] = value
    return params


def _safe_name(name: str) -> str:
    """Parameter names are echoed only when they are ones credgate itself knows."""
    known = {"grant_type", "scope", "client_id", "client_secret", "token", "token_type_hint"}
    return name if name in known else "unknown parameter"


def _reject_duplicate_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    keys = [key for key, _ in pairs]
    if len(keys) != len(set(keys)):
        raise InvalidRequest("the JSON body repeats a key")
    return dict(pairs)


def _parse_json(body: bytes) -> dict[str, str]:
    try:
        document = json.loads(body, object_pairs_hook=_reject_duplicate_keys)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise InvalidRequest("the JSON body is malformed") from None
    if not isinstance(document, dict):
        raise InvalidRequest("the JSON body must be an object")
    params: dict[str, str] = {}
    for name, value in document.items():
        if value is None:
            continue
        if not isinstance(value, str):
            raise InvalidRequest(f"a JSON value must be a string: {_safe_name(name)}")
        if not _is_utf8(name) or not _is_utf8(value):
            # "\ud800" escapes decode to lone surrogates, which no later step can encode.
            raise InvalidRequest("the JSON body holds an unpaired surrogate escape")
        params[name] = value
    return params


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


async def read_oauth_request(request: Request, limit: int) -> OAuthRequest:
    """Parse a form or JSON body, refusing URL parameters, repeats and other media types."""
    if any(name in _BODY_ONLY_PARAMETERS for name in request.query_params):
        raise InvalidRequest("parameters must be sent in the request body, not in the URL")
    body = await read_body(request, limit)
    media_type = _media_type(request)
    if media_type == JSON_TYPE:
        return OAuthRequest(_parse_json(body), is_json=True)
    if media_type == FORM_TYPE or (not media_type and not body):
        return OAuthRequest(_parse_form(body), is_json=False)
    raise InvalidRequest(f"the body must be {FORM_TYPE} or {JSON_TYPE}")


def parse_basic_credentials(header: str) -> tuple[str, str]:
    """Decode an HTTP Basic value per RFC 6749 §2.3.1: form-decode each part after base64."""
    try:
        decoded = base64.b64decode(header.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        raise InvalidRequest("the Basic authorization header is malformed") from None
    client_id, colon, client_secret = decoded.partition(":")
    if not colon:
        raise InvalidRequest("the Basic authorization header is malformed")
    try:
        client_id = unquote_plus(client_id, errors="strict")
        client_secret = unquote_plus(client_secret, errors="strict")
    except UnicodeDecodeError:  # a percent-escape that is not UTF-8
        raise InvalidRequest("the Basic authorization header is malformed") from None
    return client_id, client_secret


def _authorization_scheme(request: Request) -> tuple[str, str] | None:
    headers = request.headers.getlist("authorization")
    if not headers:
        return None
    if len(headers) > 1:
        raise InvalidRequest("more than one Authorization header")
    scheme, _, value = headers[0].strip().partition(" ")
    return scheme.lower(), value


def extract_client_credentials(request: Request, oauth: OAuthRequest) -> ClientCredentials:
    """Find the one way the client authenticated: Basic, form fields or JSON fields.

    Two ways at once is ``invalid_request`` (RFC 6749 §2.3). A body ``client_id`` that
    matches the Basic one is tolerated, since several client libraries send both.
    """
    body_id = oauth.params.get("client_id")
    body_secret = oauth.params.get("client_secret")
    authorization = _authorization_scheme(request)
    if authorization is not None and authorization[0] == "basic":
        try:
            client_id, client_secret = parse_basic_credentials(authorization[1])
        except UnicodeDecodeError:
            raise InvalidRequest("the Basic authorization header is malformed") from None
        if body_secret is not None or (body_id is not None and body_id != client_id):
            raise InvalidRequest("the client authenticated in more than one way")
        return ClientCredentials(client_id, client_secret, "client_secret_basic")
    if authorization is not None:
        raise InvalidRequest("client authentication must use the Basic scheme or the body")
    if body_id is None or body_secret is None:
        # RFC 6749 §5.2: no client authentication at all is an invalid_client failure.
        raise InvalidClient("client authentication is required")
    method: AuthMethod = "client_secret_json" if oauth.is_json else "client_secret_post"
    return ClientCredentials(body_id, body_secret, method)
