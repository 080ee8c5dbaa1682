"""Bearer tokens on requests (RFC 6750): read from the Authorization header, nowhere else."""

from __future__ import annotations

import re

from starlette.requests import HTTPConnection

from credgate.oauth2.errors import InvalidBearerRequest, InvalidToken, MissingBearer

# RFC 6750 §2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
_B64TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")


def extract_bearer_token(connection: HTTPConnection) -> str:
    """The bearer token of a request, or the RFC 6750 error that fits what is wrong.

    Tokens in the query string (RFC 6750 §2.3) are refused outright: URLs end up in logs,
    proxies and browser histories.
    """
    # Parsed only when there is a query string: most calls have none.
    if connection.scope.get("query_string") and "access_token" in connection.query_params:
        raise InvalidBearerRequest("access tokens are not accepted in the URL")
    headers = connection.headers.getlist("authorization")
    if not headers:
        raise MissingBearer()
    if len(headers) > 1:
        raise InvalidBearerRequest("more than one Authorization header")
    scheme, _, value = headers[0].strip().partition(" ")
    if scheme.lower() != "bearer":
        raise MissingBearer()
    value = value.strip()
    if not _B64TOKEN.fullmatch(value):
        raise InvalidToken("the access token is malformed")
    return value


def has_bearer(connection: HTTPConnection) -> bool:
    header = connection.headers.get("authorization", "")
    return header.strip().partition(" ")[0].lower() == "bearer"
