"""What every guard of the kit shares: reading the token, checking scopes, answering errors.

Errors are rendered exactly as the credgate server renders its own (``server/errors.py``):
the same status, JSON body, ``WWW-Authenticate`` challenge and no-store headers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from starlette.responses import JSONResponse

from credgate.oauth2.errors import InsufficientScope, OAuth2Error
from credgate.resource.verifiers import VerifiedToken

# Fixed scopes, or a function of (method, path) that names the scopes a request needs.
ScopeRule = Sequence[str] | Callable[[str, str], Sequence[str]]


def error_response(exc: OAuth2Error) -> JSONResponse:
    headers = {"Cache-Control": "no-store", "Pragma": "no-cache", **exc.headers()}
    return JSONResponse(exc.body(), status_code=exc.status_code, headers=headers)


def scopes_for(rule: ScopeRule, method: str, path: str) -> tuple[str, ...]:
    return tuple(rule(method, path) if callable(rule) else rule)


def check_scopes(token: VerifiedToken, scopes: Sequence[str]) -> None:
    """RFC 6750 §3.1: a token without a required scope gets 403 naming the scopes needed."""
    if not token.has_scopes(*scopes):
        raise InsufficientScope("the token lacks a required scope", scope=" ".join(scopes))
