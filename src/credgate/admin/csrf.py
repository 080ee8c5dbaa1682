"""CSRF protection for requests made with the session cookie.

The token is derived from the session's cookie value with the server's keyed hash, so it needs
no storage, changes with every session, and cannot be computed by a page that cannot read the
cookie (it is HttpOnly). Forms carry it in a hidden ``csrf_token`` field; scripts send it in
the ``X-CSRF-Token`` header. Calls made with an admin API key carry no cookie and need none.
"""

from __future__ import annotations

import hmac

from credgate.admin.errors import CsrfRejected
from credgate.credentials import CredentialHasher

HEADER = "X-CSRF-Token"
FORM_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def csrf_token_for(hasher: CredentialHasher, cookie_value: str) -> str:
    return hasher.hash("csrf:" + cookie_value)


def validate_csrf(expected: str | None, presented: str | None) -> None:
    """Raise ``CsrfRejected`` unless the presented token is the session's."""
    if not expected or not presented or not hmac.compare_digest(expected, presented):
        raise CsrfRejected("the CSRF token is missing or wrong: reload the page and retry")
