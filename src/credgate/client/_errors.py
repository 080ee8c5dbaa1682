"""The errors the client SDK raises, all under ``CredgateClientError``.

Messages name settings, error codes and the server's own fixed descriptions; they never carry
a client secret or a token value.
"""

from __future__ import annotations


class CredgateClientError(Exception):
    """Base of every error the SDK raises.

    ```python
    try:
        http.get("/api/users")
    except CredgateClientError as error:
        print("credgate:", error)
    ```
    """


class MissingSetting(CredgateClientError):
    """A required setting (client id, secret, token URL) was found nowhere.

    ``setting`` names it, e.g. ``CREDGATE_CLIENT_SECRET``.

    ```python
    try:
        auth = ClientCredentialsAuth.from_env()
    except MissingSetting as error:
        sys.exit(f"set {error.setting}")
    ```
    """

    def __init__(self, setting: str, where: str) -> None:
        super().__init__(f"missing setting {setting} ({where})")
        self.setting = setting


class TokenRequestFailed(CredgateClientError):
    """The token endpoint refused the request with an RFC 6749 §5.2 error.

    ``error`` is the error code (``invalid_request``, ``unauthorized_client``...),
    ``description`` the server's ``error_description`` and ``status_code`` the HTTP status.

    ```python
    except TokenRequestFailed as error:
        log.warning("token refused: %s", error.error)
    ```
    """

    def __init__(self, error: str, description: str | None, status_code: int) -> None:
        message = f"token request refused: {error} (HTTP {status_code})"
        if description:
            message += f": {description}"
        super().__init__(message)
        self.error = error
        self.description = description
        self.status_code = status_code


class InvalidCredentials(TokenRequestFailed):
    """``invalid_client``: the client id or secret is wrong, revoked or expired.

    Raised at once; retrying with the same credentials cannot succeed.

    ```python
    except InvalidCredentials:
        alert("rotate the credgate secret")
    ```
    """


class InvalidScope(TokenRequestFailed):
    """``invalid_scope``: the scope asked for is unknown or not granted to the client.

    ```python
    except InvalidScope as error:
        print(error.description)
    ```
    """


class ServerUnavailable(CredgateClientError):
    """The token endpoint could not be reached, or answered 5xx/429, after every retry.

    ``attempts`` tells how many requests were made; ``retry_after`` is the server's last
    ``Retry-After`` in seconds, when it sent one.

    ```python
    except ServerUnavailable as error:
        schedule_again(after=error.retry_after or 60)
    ```
    """

    def __init__(self, reason: str, attempts: int, retry_after: float | None = None) -> None:
        super().__init__(f"token endpoint unavailable after {attempts} attempts: {reason}")
        self.attempts = attempts
        self.retry_after = retry_after


class InvalidTokenResponse(CredgateClientError):
    """The token endpoint answered 200 with a body that is not an RFC 6749 §5.1 token.

    ```python
    except InvalidTokenResponse:
        log.error("the token URL does not point at an OAuth 2.0 token endpoint")
    ```
    """
