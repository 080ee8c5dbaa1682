"""Create Token: one ``POST`` to the token endpoint, with bounded retries when the server is
unavailable (RFC 6749 §4.4.2)."""

from __future__ import annotations

import base64
import logging
import random
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from urllib.parse import quote_plus

import httpx

from credgate.client._errors import (
    InvalidCredentials,
    InvalidScope,
    InvalidTokenResponse,
    ServerUnavailable,
    TokenRequestFailed,
)
from credgate.client._settings import Credentials
from credgate.client._token import Token

logger = logging.getLogger("credgate.client")

RETRYABLE_STATUS = {429, 500, 502, 503, 504}
MAX_RETRY_AFTER = 30.0


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently to ask an unavailable token endpoint again.

    Waits grow as ``backoff * 2**n`` with jitter, capped at ``max_backoff``; a ``Retry-After``
    from the server is honoured up to 30 s.

    ```python
    ClientCredentialsAuth(..., retry=RetryPolicy(attempts=5, backoff=1.0))
    ```
    """

    attempts: int = 4
    backoff: float = 0.5
    max_backoff: float = 8.0

    def delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, MAX_RETRY_AFTER)
        ceiling = min(self.max_backoff, self.backoff * 2.0**attempt)
        return ceiling / 2 + random.uniform(0, ceiling / 2)  # noqa: S311 (jitter, not a key)


def basic_authorization(credentials: Credentials) -> str:
    """RFC 6749 §2.3.1: form-urlencode id and secret before joining and base64-encoding."""
    pair = f"{quote_plus(credentials.client_id)}:{quote_plus(credentials.client_secret)}"
    return "Basic " + base64.b64encode(pair.encode()).decode("ascii")


def request_token(
    token_url: str,
    credentials: Credentials,
    scope: str | None,
    *,
    verify: bool | ssl.SSLContext,
    timeout: float,
    retry: RetryPolicy,
    sleep: Callable[[float], None] = time.sleep,
) -> Token:
    """A fresh token from the token endpoint, or the typed error that explains why not."""
    data = {"grant_type": "client_credentials"}
    if scope:
        data["scope"] = scope
    headers = {"Authorization": basic_authorization(credentials), "Accept": "application/json"}

    with httpx.Client(verify=verify, timeout=timeout) as http:
        reason, retry_after = "no attempt made", None
        for attempt in range(retry.attempts):
            outcome, retry_after = _try_once(http, token_url, data, headers, credentials)
            if isinstance(outcome, Token):
                return outcome
            reason = outcome
            logger.warning(
                "client.token_endpoint_unavailable",
                extra={"client_id": credentials.client_id, "reason": reason, "attempt": attempt},
            )
            if attempt + 1 < retry.attempts:
                sleep(retry.delay(attempt, retry_after))
    raise ServerUnavailable(reason, retry.attempts, retry_after)


def _try_once(
    http: httpx.Client,
    token_url: str,
    data: dict[str, str],
    headers: dict[str, str],
    credentials: Credentials,
) -> tuple[Token | str, float | None]:
    """The token, or why the server is unavailable and its ``Retry-After``; protocol errors
    are raised."""
    requested_at = time.time()
    try:
        response = http.post(token_url, data=data, headers=headers)
    except httpx.TransportError as error:
        return type(error).__name__, None
    if response.status_code in RETRYABLE_STATUS:
        return f"HTTP {response.status_code}", _retry_after(response)

    if response.status_code != 200:
        raise _protocol_error(response)
    try:
        token = Token.from_response(response.json(), requested_at=requested_at)
    except ValueError:
        raise InvalidTokenResponse("the token response is not JSON") from None
    logger.info(
        "client.token_received",
        extra={
            "client_id": credentials.client_id,
            "token_id": token.token_id,
            "expires_in": token.lifetime,
        },
    )
    return token, None


def _protocol_error(response: httpx.Response) -> TokenRequestFailed:
    """The RFC 6749 §5.2 error of a refused token request as its SDK exception."""
    try:
        body = response.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    error = str(body.get("error") or f"http_{response.status_code}")
    description = body.get("error_description")
    description = str(description) if description else None

    if error == "invalid_client" or (response.status_code == 401 and "error" not in body):
        return InvalidCredentials("invalid_client", description, response.status_code)
    if error == "invalid_scope":
        return InvalidScope(error, description, response.status_code)
    return TokenRequestFailed(error, description, response.status_code)


def _retry_after(response: httpx.Response) -> float | None:
    """RFC 9110 §10.2.3: seconds, or an HTTP date."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    if value.strip().isdigit():
        return float(value)
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None
