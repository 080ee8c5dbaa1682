"""An access token as the SDK holds it, and when to renew it."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from credgate.client._errors import InvalidTokenResponse

# Used when a server leaves ``expires_in`` out (RFC 6749 §5.1 only recommends it).
FALLBACK_LIFETIME = 60.0
MIN_MARGIN = 30.0
MARGIN_FRACTION = 0.1


@dataclass(frozen=True)
class Token:
    """A bearer token, with its expiry on the local clock.

    ``expires_at`` is the local time the request was sent plus ``expires_in``, never the
    server's ``expires_at``: a client whose clock is off still renews at the right moment.
    The server issued the token after the request left, so however slow the answer (or the
    client's own thread) was, the token is never thought to live longer than it does.

    ```python
    requested_at = time.time()
    response = httpx.post(token_url, data=form, auth=(client_id, client_secret))
    token = Token.from_response(response.json(), requested_at=requested_at)
    token.needs_renewal(time.time())
    ```
    """

    value: str = field(repr=False)
    expires_at: float
    lifetime: float
    token_id: str | None = None
    scope: str | None = None

    @classmethod
    def from_response(cls, body: Any, requested_at: float) -> Token:
        """Read an RFC 6749 §5.1 success body answering a request sent at ``requested_at``
        (local time)."""
        if not isinstance(body, dict):
            raise InvalidTokenResponse("the token response is not a JSON object")
        value = body.get("access_token")
        if not isinstance(value, str) or not value:
            raise InvalidTokenResponse("the token response has no access_token")
        if str(body.get("token_type", "")).lower() != "bearer":
            raise InvalidTokenResponse("the token response is not a Bearer token")

        lifetime = _lifetime(body.get("expires_in"))
        token_id = body.get("token_id")
        scope = body.get("scope")
        return cls(
            value=value,
            expires_at=requested_at + lifetime,
            lifetime=lifetime,
            token_id=token_id if isinstance(token_id, str) else None,
            scope=scope if isinstance(scope, str) else None,
        )

    def renew_at(self, margin: float | None = None) -> float:
        """When to renew: ``margin`` seconds before expiry. The default is the larger of 30 s
        and 10 % of the lifetime, but never more than half the lifetime, so short-lived
        tokens are still reused."""
        if margin is None:
            margin = min(max(MIN_MARGIN, MARGIN_FRACTION * self.lifetime), self.lifetime / 2)
        return self.expires_at - margin

    def needs_renewal(self, now: float | None = None, margin: float | None = None) -> bool:
        """Whether the token is past its renewal time."""
        now = time.time() if now is None else now
        return now >= self.renew_at(margin)

    def to_dict(self) -> dict[str, Any]:
        """The token as stored by a shared cache."""
        return {
            "access_token": self.value,
            "expires_at": self.expires_at,
            "lifetime": self.lifetime,
            "token_id": self.token_id,
            "scope": self.scope,
        }

    @classmethod
    def from_dict(cls, data: Any) -> Token | None:
        """The token a shared cache stored, or ``None`` when the entry is unreadable."""
        try:
            return cls(
                value=str(data["access_token"]),
                expires_at=float(data["expires_at"]),
                lifetime=float(data["lifetime"]),
                token_id=data.get("token_id"),
                scope=data.get("scope"),
            )
        except (KeyError, TypeError, ValueError):
            return None


def _lifetime(expires_in: Any) -> float:
    if expires_in is None:
        return FALLBACK_LIFETIME
    try:
        lifetime = float(expires_in)
    except (TypeError, ValueError):
        raise InvalidTokenResponse("the token response has a malformed expires_in") from None
    if lifetime <= 0:
        raise InvalidTokenResponse("the token response has already expired")
    return lifetime
