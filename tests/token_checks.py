"""Checks shared by the end-to-end token tests: what every token response must look like."""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from typing import Any

TOKEN_FIELDS = {"token_id", "token", "access_token", "token_type", "expires_at", "expires_in"}


def assert_token_response(
    body: Mapping[str, Any],
    headers: Mapping[str, str],
    *,
    ttl: int,
    scope: str = "users:read users:write",
    issued_near: float | None = None,
) -> str:
    """Assert the Create Token (or renewal) answer's shape; return the token value.

    ``headers`` must answer lowercase names (httpx and requests headers both do).
    """
    issued_near = time.time() if issued_near is None else issued_near
    assert set(body) >= TOKEN_FIELDS, body.keys()
    assert "refresh_token" not in body  # RFC 6749 §4.4.3
    assert str(uuid.UUID(body["token_id"])) == body["token_id"]
    assert isinstance(body["token"], str)
    assert body["token"]
    assert body["token"] == body["access_token"]
    assert body["token_type"] == "Bearer"
    assert type(body["expires_in"]) is int
    assert type(body["expires_at"]) is int
    assert body["expires_in"] == ttl
    assert abs(body["expires_at"] - (issued_near + body["expires_in"])) <= 2
    assert isinstance(body["scope"], str)
    assert body["scope"] == scope
    assert headers.get("cache-control") == "no-store"
    assert headers.get("pragma") == "no-cache"
    return str(body["access_token"])
