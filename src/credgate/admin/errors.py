"""Errors of the admin surfaces, answered like the protocol's: a status, a code, a reason."""

from __future__ import annotations

from credgate.oauth2.errors import OAuth2Error


class SignInRequired(OAuth2Error):
    """No session or API key, or one that ended."""

    error = "unauthenticated"
    status_code = 401

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": 'Bearer realm="credgate-admin"'}


class Forbidden(OAuth2Error):
    """Signed in, but the role does not allow it (an account admin at an operator's task)."""

    error = "forbidden"
    status_code = 403


class CsrfRejected(OAuth2Error):
    """A mutating call made with a session cookie lacked the session's CSRF token."""

    error = "csrf_failed"
    status_code = 403
