"""One exception per RFC error code; each knows its status, body and challenge header.

Token-endpoint errors follow RFC 6749 §5.2; resource errors follow RFC 6750 §3.1. Descriptions
are fixed texts written here: an error never echoes what the client sent.
"""

from __future__ import annotations

from typing import ClassVar


class OAuth2Error(Exception):
    """Base of every protocol error that is answered to the client."""

    error: ClassVar[str] = "server_error"
    status_code: ClassVar[int] = 400

    def __init__(self, description: str | None = None) -> None:
        super().__init__(description or self.error)
        self.description = description

    def body(self) -> dict[str, str]:
        body = {"error": self.error}
        if self.description:
            body["error_description"] = self.description
        return body

    def headers(self) -> dict[str, str]:
        return {}


class InvalidRequest(OAuth2Error):
    error = "invalid_request"


class InvalidClient(OAuth2Error):
    """Client authentication failed (RFC 6749 §5.2).

    The 401 carries a Basic challenge only when the client used Basic, so the challenge
    always names the scheme the client tried.
    """

    error = "invalid_client"
    status_code = 401

    def __init__(
        self,
        description: str | None = None,
        *,
        used_basic: bool = False,
        reason: str | None = None,
    ) -> None:
        super().__init__(description)
        self.used_basic = used_basic
        self.reason = reason  # for the server's own use (rate limits), never sent

    def headers(self) -> dict[str, str]:
        if self.used_basic:
            return {"WWW-Authenticate": 'Basic realm="credgate", charset="UTF-8"'}
        return {}


class InvalidGrant(OAuth2Error):
    error = "invalid_grant"


class UnauthorizedClient(OAuth2Error):
    error = "unauthorized_client"


class UnsupportedGrantType(OAuth2Error):
    error = "unsupported_grant_type"


class InvalidScope(OAuth2Error):
    error = "invalid_scope"


class RequestTooLarge(InvalidRequest):
    status_code = 413


class HttpsRequired(InvalidRequest):
    status_code = 403


class BearerError(OAuth2Error):
    """RFC 6750 §3: resource errors answer with a Bearer challenge naming the error."""

    def __init__(self, description: str | None = None, *, scope: str | None = None) -> None:
        super().__init__(description)
        self.scope = scope

    def headers(self) -> dict[str, str]:
        params = ['realm="credgate"', f'error="{self.error}"']
        if self.description:
            params.append(f'error_description="{self.description}"')
        if self.scope:
            params.append(f'scope="{self.scope}"')
        return {"WWW-Authenticate": "Bearer " + ", ".join(params)}


class MissingBearer(BearerError):
    """RFC 6750 §3.1: a request with no credentials gets a bare challenge and no error code."""

    status_code = 401

    def body(self) -> dict[str, str]:
        return {"error": "invalid_request", "error_description": "bearer token required"}

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": 'Bearer realm="credgate"'}


class InvalidBearerRequest(BearerError):
    error = "invalid_request"
    status_code = 400


class InvalidToken(BearerError):
    error = "invalid_token"
    status_code = 401


class RefusedToken(InvalidToken):
    """A token credgate knows but no longer honours: revoked, expired, or its client is not
    active. The ids let the refusal be logged by token and client; the answer is the same
    ``InvalidToken``."""

    def __init__(self, description: str, token_id: str, client_id: str) -> None:
        super().__init__(description)
        self.token_id = token_id
        self.client_id = client_id


class InsufficientScope(BearerError):
    error = "insufficient_scope"
    status_code = 403


class NotFound(OAuth2Error):
    """A resource that does not exist, or that belongs to someone else (the two look alike)."""

    error = "not_found"
    status_code = 404


class TemporarilyUnavailable(OAuth2Error):
    """The server cannot answer now, typically because the database is unreachable.

    The code is RFC 6749 §4.1.2.1's; the 503 and ``Retry-After`` (RFC 9110 §10.2.3) tell
    clients and load balancers to try again shortly rather than give up on the credentials.
    """

    error = "temporarily_unavailable"
    status_code = 503

    def __init__(self, description: str | None = None, *, retry_after: int = 5) -> None:
        super().__init__(description)
        self.retry_after = retry_after

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class IntrospectionNotAllowed(UnauthorizedClient):
    """An authenticated client without the ``introspect`` permission (RFC 7662 §2.1 lets the
    server refuse callers it does not trust with token facts)."""

    status_code = 403


class SlowDown(OAuth2Error):
    """Too many requests: a rate limit or quota is spent until ``retry_after`` seconds pass.

    ``slow_down`` is RFC 8628 §3.5's code for a client asking too often; unlike
    ``temporarily_unavailable`` (our 503 for outages) it tells the client that it, not the
    server, must wait. The 429 and ``Retry-After`` are RFC 6585 §4's.
    """

    error = "slow_down"
    status_code = 429

    def __init__(self, description: str | None = None, *, retry_after: int = 60) -> None:
        super().__init__(description)
        self.retry_after = max(1, retry_after)

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class RequestTimeout(InvalidRequest):
    """The client sent its request too slowly (RFC 9110 §15.5.9)."""

    status_code = 408


class HeadersTooLarge(InvalidRequest):
    """The request line and headers exceed the server's limit (RFC 6585 §5)."""

    status_code = 431
