"""``ClientCredentialsAuth``: bearer tokens for httpx and requests, fetched once and shared.

A token is asked for with the client's secret (Create Token, RFC 6749 §4.4) and reused until a
margin before it expires. Renewal is a new Create Token rather than the server's
``/oauth/tokens/{id}/renew``: the secret is held anyway, a renewal chain ends at a maximum age
after which the secret is needed again, and renewing is single-use, which processes sharing a
cache would race on. One path, always valid, is the simpler contract.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import ssl
import threading
import time
import weakref
from collections.abc import AsyncGenerator, Callable, Generator, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from credgate.client._cache import TokenCache, cache_key
from credgate.client._errors import CredgateClientError, InvalidCredentials, MissingSetting
from credgate.client._settings import (
    Credentials,
    SecretProvider,
    discover_token_url,
    read_profile,
    require,
    resolve_settings,
    ssl_context,
    validate_https,
)
from credgate.client._token import Token
from credgate.client._token_request import RetryPolicy, request_token

if TYPE_CHECKING:
    import requests

logger = logging.getLogger("credgate.client")

# RFC 6750 §3: the challenge of a refused token names the error.
_SETTING_ARGUMENTS = ("token_url", "issuer", "client_id", "client_secret", "scope")
_INVALID_TOKEN = re.compile(r'\berror\s*=\s*"?invalid_token"?', re.IGNORECASE)


def is_invalid_token(status_code: int, challenge: str | None) -> bool:
    """Whether an API answer says the bearer token itself is bad (RFC 6750 §3.1).

    ```python
    is_invalid_token(401, 'Bearer realm="credgate", error="invalid_token"')  # True
    ```
    """
    return status_code == 401 and bool(challenge) and bool(_INVALID_TOKEN.search(challenge or ""))


class ClientCredentialsAuth(httpx.Auth):
    """Bearer authentication with tokens from a credgate server, for httpx and requests.

    ```python
    auth = ClientCredentialsAuth(
        token_url="https://auth.example.com/oauth/token",
        client_id="cgc_...",
        client_secret=os.environ["SECRET"],
        scope="users:read",
    )
    httpx.get("https://api.example.com/api/users", auth=auth)
    requests.get("https://api.example.com/api/users", auth=auth)
    ```

    One object serves any number of threads and asyncio tasks, sync and async clients alike:
    they share one token and at most one token request is in flight. On a 401 ``invalid_token``
    the token is renewed once and the request sent again once (not for streaming bodies).

    ``verify`` is ``True``, ``False``, a CA bundle path or an ``ssl.SSLContext`` and applies
    to token requests; ``issuer`` finds the token URL through RFC 8414 metadata;
    ``secret_provider`` is called for the credentials instead of ``client_id`` and
    ``client_secret``, and again after an ``invalid_client`` to pick up a rotated secret;
    ``cache`` shares tokens between processes; ``renew_margin`` overrides the default margin
    (the larger of 30 s and 10 % of the lifetime, at most half of it).
    """

    def __init__(
        self,
        token_url: str | None = None,
        client_id: str | None = None,
        client_secret: str | None = None,
        scope: str | Iterable[str] | None = None,
        verify: bool | str | ssl.SSLContext = True,
        *,
        issuer: str | None = None,
        secret_provider: SecretProvider | None = None,
        cache: TokenCache | None = None,
        renew_margin: float | None = None,
        timeout: float = 10.0,
        retry: RetryPolicy | None = None,
    ) -> None:
        if not token_url and not issuer:
            raise MissingSetting("token_url", "argument token_url or issuer")
        if secret_provider is None:
            if not client_id:
                raise MissingSetting("client_id", "argument client_id or secret_provider")
            if not client_secret:
                raise MissingSetting("client_secret", "argument client_secret or secret_provider")
        self._credentials = (
            Credentials(client_id, client_secret) if client_id and client_secret else None
        )
        self._secret_provider = secret_provider
        self._token_url = validate_https(token_url, "token_url") if token_url else None
        self._issuer = validate_https(issuer, "issuer") if issuer else None
        self.scope = _scope_string(scope)
        self._verify = ssl_context(verify)
        self._cache = cache
        self.renew_margin = renew_margin
        self.timeout = timeout
        self.retry = retry or RetryPolicy()

        self._token: Token | None = None
        self._failure: tuple[float, CredgateClientError] | None = None
        self._lock = threading.Lock()
        self._loop_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock]
        self._loop_locks = weakref.WeakKeyDictionary()
        self._loop_locks_guard = threading.Lock()

    # Construction from the environment, a config file or a secret manager.

    @classmethod
    def from_env(
        cls,
        *,
        profile: str | None = None,
        config_path: str | os.PathLike[str] | None = None,
        environ: Mapping[str, str] | None = None,
        **options: Any,
    ) -> ClientCredentialsAuth:
        """Settings from ``CREDGATE_*`` variables, then from the config file.

        Reads ``CREDGATE_CLIENT_ID``, ``CREDGATE_CLIENT_SECRET``, ``CREDGATE_TOKEN_URL`` or
        ``CREDGATE_ISSUER``, ``CREDGATE_SCOPE`` and ``CREDGATE_CA_BUNDLE``; what is not set is
        taken from the config file's profile (see ``credgate.client``). ``options`` go to
        the constructor (``cache=``, ``timeout=``...). A missing setting raises
        ``MissingSetting`` naming its variable.

        ```python
        auth = ClientCredentialsAuth.from_env(profile="staging")
        ```
        """
        path = Path(config_path) if config_path is not None else None
        arguments = {name: options.pop(name, None) for name in _SETTING_ARGUMENTS}
        found, where = resolve_settings(arguments, environ, path, profile)
        if "token_url" not in found and "issuer" not in found:
            raise MissingSetting("CREDGATE_TOKEN_URL", where + " (or CREDGATE_ISSUER)")
        if "secret_provider" not in options:
            options["client_id"] = require(found, "client_id", where)
            options["client_secret"] = require(found, "client_secret", where)
        return cls._from_found(found, options)

    @classmethod
    def from_config(
        cls,
        path: str | os.PathLike[str] | None = None,
        profile: str | None = None,
        **options: Any,
    ) -> ClientCredentialsAuth:
        """Settings from one profile of a TOML config file only.

        ```toml
        # ~/.config/credgate/client.toml
        [default]
        token_url = "https://auth.example.com/oauth/token"
        client_id = "cgc_..."
        client_secret = "cgs_..."
        scope = "users:read"
        ```

        ```python
        auth = ClientCredentialsAuth.from_config(profile="default")
        ```
        """
        chosen = Path(path) if path is not None else None
        found, where = read_profile(chosen, profile, os.environ)
        if "token_url" not in found and "issuer" not in found:
            raise MissingSetting("token_url", where + " (or issuer)")
        options["client_id"] = require(found, "client_id", where, by_variable=False)
        options["client_secret"] = require(found, "client_secret", where, by_variable=False)
        return cls._from_found(found, options)

    @classmethod
    def from_secret_provider(
        cls, provider: SecretProvider, **options: Any
    ) -> ClientCredentialsAuth:
        """Credentials from ``provider()`` (a secret manager), the rest from arguments or
        the environment as in ``from_env``.

        The provider is called at the first token request and again after an
        ``invalid_client``, so a rotated secret is picked up without a restart.

        ```python
        def from_vault() -> Credentials:
            data = vault.read("secret/credgate")
            return Credentials(data["client_id"], data["client_secret"])

        auth = ClientCredentialsAuth.from_secret_provider(from_vault, scope="users:read")
        ```
        """
        return cls.from_env(secret_provider=provider, **options)

    @classmethod
    def _from_found(cls, found: dict[str, str], options: dict[str, Any]) -> ClientCredentialsAuth:
        options.setdefault("token_url", found.get("token_url"))
        options.setdefault("issuer", found.get("issuer"))
        options.setdefault("scope", found.get("scope"))
        if "ca_bundle" in found and options.get("verify", True) is True:
            options["verify"] = found["ca_bundle"]
        return cls(**options)

    def __repr__(self) -> str:
        client_id = self._credentials.client_id if self._credentials else None
        where = self._token_url or self._issuer
        fields = f"token_url={where!r}, client_id={client_id!r}, scope={self.scope!r}"
        return f"ClientCredentialsAuth({fields})"

    # Tokens: one request in flight for all threads, tasks and event loops.

    def get_token(self) -> Token:
        """A live token, asking the server only when the cached one is due for renewal.

        ```python
        headers = {"Authorization": f"Bearer {auth.get_token().value}"}
        ```
        """
        return self._fresh() or self._obtain(None)

    async def aget_token(self) -> Token:
        """``get_token`` for asyncio code; the event loop is never blocked.

        ```python
        token = await auth.aget_token()
        ```
        """
        return self._fresh() or await self._async_obtain(None)

    def _usable(self, token: Token | None, rejected: Token | None) -> Token | None:
        if token is None or token.needs_renewal(margin=self.renew_margin):
            return None
        if rejected is not None and token.value == rejected.value:
            return None
        return token

    def _fresh(self) -> Token | None:
        """The cached token if it is still good, read without locking."""
        return self._usable(self._token, None)

    def _obtain(self, rejected: Token | None, waiting_since: float | None = None) -> Token:
        """A token other than ``rejected``: the one another thread just got, the shared
        cache's, or a new one. Threads queue on one lock, so one request is in flight."""
        waiting_since = time.monotonic() if waiting_since is None else waiting_since
        with self._lock:
            token = self._usable(self._token, rejected)
            if token is not None:
                return token
            if self._failure is not None and self._failure[0] >= waiting_since:
                # The request in flight while this caller waited failed: share its outcome
                # rather than queue one more request per waiting thread.
                raise _replica(self._failure[1])
            try:
                return self._obtain_locked(rejected)
            except CredgateClientError as error:
                self._failure = (time.monotonic(), error)
                raise

    def _obtain_locked(self, rejected: Token | None) -> Token:
        """The cache's token or a new one; the caller holds the lock."""
        token_url = self._resolve_token_url()
        credentials = self._current_credentials()
        key = cache_key(token_url, credentials.client_id, self.scope)
        with self._cache.lock(key) if self._cache else contextlib.nullcontext():
            token = self._usable(self._cache.load(key), rejected) if self._cache else None
            if token is None:
                token, credentials = self._request_token(token_url, credentials)
                if self._cache is not None:
                    self._cache.save(
                        cache_key(token_url, credentials.client_id, self.scope), token
                    )
        self._token = token
        return token

    async def _async_obtain(self, rejected: Token | None) -> Token:
        """``_obtain`` for a task: tasks of one loop queue on an asyncio lock, and the one
        holding it waits for ``_obtain`` in a worker thread, so the loop keeps running and
        threads and other loops share the same single flight."""
        waiting_since = time.monotonic()
        async with self._loop_lock():
            token = self._usable(self._token, rejected)
            if token is not None:
                return token
            return await asyncio.to_thread(self._obtain, rejected, waiting_since)

    def _loop_lock(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        with self._loop_locks_guard:
            lock = self._loop_locks.get(loop)
            if lock is None:
                lock = self._loop_locks[loop] = asyncio.Lock()
            return lock

    def _resolve_token_url(self) -> str:
        if self._token_url is None:
            issuer = self._issuer or ""
            self._token_url = discover_token_url(issuer, self._verify, self.timeout)
        return self._token_url

    def _current_credentials(self) -> Credentials:
        if self._credentials is None and self._secret_provider is not None:
            self._credentials = _provided(self._secret_provider)
        if self._credentials is None:
            raise MissingSetting("client_secret", "argument or secret_provider")
        return self._credentials

    def _request_token(
        self, token_url: str, credentials: Credentials
    ) -> tuple[Token, Credentials]:
        """A new token; after ``invalid_client`` the secret provider, if any, is asked once
        for rotated credentials. Without one, or without a change, the error stands."""
        try:
            return self._send_token_request(token_url, credentials), credentials
        except InvalidCredentials:
            if self._secret_provider is None:
                raise
            rotated = _provided(self._secret_provider)
            self._credentials = rotated
            if rotated == credentials:
                raise
            logger.info("client.credentials_reloaded", extra={"client_id": rotated.client_id})
            return self._send_token_request(token_url, rotated), rotated

    def _send_token_request(self, token_url: str, credentials: Credentials) -> Token:
        logger.info("client.token_requested", extra={"client_id": credentials.client_id})
        return request_token(
            token_url,
            credentials,
            self.scope,
            verify=self._verify,
            timeout=self.timeout,
            retry=self.retry,
        )

    def _log_rejected(self, token: Token) -> None:
        client_id = self._credentials.client_id if self._credentials else None
        logger.info(
            "client.token_rejected", extra={"client_id": client_id, "token_id": token.token_id}
        )

    # httpx (sync and async clients).

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response]:
        """The httpx flow of ``httpx.Client(auth=auth)``: bearer, then one retry on a 401."""
        token = self.get_token()
        request.headers["Authorization"] = f"Bearer {token.value}"
        response = yield request

        if self._should_retry_httpx(request, response):
            self._log_rejected(token)
            token = self._obtain(token)
            request.headers["Authorization"] = f"Bearer {token.value}"
            yield request

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        """The httpx flow of ``httpx.AsyncClient(auth=auth)``; the loop is never blocked."""
        token = await self.aget_token()
        request.headers["Authorization"] = f"Bearer {token.value}"
        response = yield request

        if self._should_retry_httpx(request, response):
            self._log_rejected(token)
            token = await self._async_obtain(token)
            request.headers["Authorization"] = f"Bearer {token.value}"
            yield request

    @staticmethod
    def _should_retry_httpx(request: httpx.Request, response: httpx.Response) -> bool:
        if not is_invalid_token(response.status_code, response.headers.get("WWW-Authenticate")):
            return False
        try:
            request.content  # noqa: B018 (raises for a streaming body, which cannot be sent twice)
        except httpx.RequestNotRead:
            return False
        return True

    # requests.

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        """The ``requests`` auth protocol: add the bearer and a hook that retries once.

        ```python
        session = requests.Session()
        session.auth = ClientCredentialsAuth.from_env()
        ```
        """
        token = self.get_token()
        request.headers["Authorization"] = f"Bearer {token.value}"
        hook = self._requests_retry_hook(token)
        request.register_hook("response", hook)  # type: ignore[no-untyped-call]
        return request

    def _requests_retry_hook(self, token: Token) -> Callable[..., requests.Response]:
        def retry_once(response: requests.Response, **send_options: Any) -> requests.Response:
            challenge = response.headers.get("WWW-Authenticate")
            body = response.request.body
            if not is_invalid_token(response.status_code, challenge):
                return response
            if body is not None and not isinstance(body, str | bytes):
                return response  # a streaming body cannot be sent twice

            self._log_rejected(token)
            fresh = self._obtain(token)
            response.content  # noqa: B018 (read it so the connection returns to the pool)
            response.close()
            again = response.request.copy()
            again.headers["Authorization"] = f"Bearer {fresh.value}"
            # Sent by the adapter, like requests' own digest auth, so hooks do not run twice.
            retried: requests.Response = response.connection.send(again, **send_options)
            retried.history.append(response)
            retried.request = again
            return retried

        return retry_once


def _replica(error: CredgateClientError) -> CredgateClientError:
    """A copy of an error for another caller, so threads never share one traceback."""
    clone = error.__class__.__new__(error.__class__)
    clone.__dict__.update(error.__dict__)
    clone.args = error.args
    return clone


def _provided(provider: SecretProvider) -> Credentials:
    credentials = provider()
    if not isinstance(credentials, Credentials) or not (
        credentials.client_id and credentials.client_secret
    ):
        raise CredgateClientError("the secret provider must return Credentials with both values")
    return credentials


def _scope_string(scope: str | Iterable[str] | None) -> str | None:
    if scope is None:
        return None
    joined = scope if isinstance(scope, str) else " ".join(scope)
    return " ".join(joined.split()) or None
