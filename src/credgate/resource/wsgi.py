"""WSGI middleware of the kit, for Flask, Django or any WSGI application."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from starlette.requests import HTTPConnection

from credgate.oauth2.bearer import extract_bearer_token
from credgate.oauth2.errors import OAuth2Error
from credgate.resource._responses import ScopeRule, check_scopes, error_response, scopes_for
from credgate.resource.verifiers import SyncTokenVerifier, VerifiedToken

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

ENVIRON_KEY = "credgate.token"


def _connection(environ: WSGIEnvironment) -> HTTPConnection:
    """The request's Authorization headers and query, seen through Starlette's reader, so WSGI
    requests are judged by the same bearer parsing as the server's own."""
    headers = (
        [(b"authorization", environ["HTTP_AUTHORIZATION"].encode("latin-1"))]
        if "HTTP_AUTHORIZATION" in environ
        else []
    )
    scope: dict[str, Any] = {
        "type": "http",
        "headers": headers,
        "query_string": environ.get("QUERY_STRING", "").encode("latin-1"),
        "path": environ.get("PATH_INFO", ""),
    }
    return HTTPConnection(scope)


def token_of(environ: WSGIEnvironment) -> VerifiedToken:
    """The verified token of a request that passed ``BearerTokenWSGIMiddleware``.

    In Flask: ``token_of(flask.request.environ)``; in Django: ``token_of(request.META)``.
    """
    token: VerifiedToken = environ[ENVIRON_KEY]
    return token


class BearerTokenWSGIMiddleware:
    """Requires a valid bearer token (and ``scopes``) on every request of a WSGI app.

    The verified token is put in the WSGI environment (read it with ``token_of``); refused
    requests get the RFC 6750 answer credgate itself gives. ``scopes`` may be a function of
    ``(method, path)``; paths in ``exempt_paths`` pass untouched.

    Usage with Flask::

        app = Flask(__name__)
        app.wsgi_app = BearerTokenWSGIMiddleware(
            app.wsgi_app,
            verifier=JwtVerifier("https://auth.example.com"),
            scopes=lambda method, path: ["reports:write"] if method == "POST" else [],
        )

        @app.get("/reports")
        def reports():
            return {"client": token_of(request.environ).client_id}
    """

    def __init__(
        self,
        app: WSGIApplication,
        verifier: SyncTokenVerifier,
        scopes: ScopeRule = (),
        exempt_paths: Sequence[str] = (),
    ) -> None:
        self.app = app
        self.verifier = verifier
        self.scopes = scopes
        self.exempt_paths = exempt_paths

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path in self.exempt_paths:
            return self.app(environ, start_response)
        try:
            value = extract_bearer_token(_connection(environ))
            token = self.verifier.verify_sync(value)
            check_scopes(token, scopes_for(self.scopes, environ["REQUEST_METHOD"], path))
        except OAuth2Error as exc:
            return _refuse(exc, start_response)
        environ[ENVIRON_KEY] = token
        return self.app(environ, start_response)


def _refuse(exc: OAuth2Error, start_response: StartResponse) -> Iterable[bytes]:
    response = error_response(exc)
    status = f"{response.status_code} {HTTPStatus(response.status_code).phrase}"
    headers = [
        (name.decode("latin-1"), value.decode("latin-1")) for name, value in response.raw_headers
    ]
    start_response(status, headers)
    return [bytes(response.body)]
