"""Where the SDK finds its settings: arguments, environment variables, a TOML config file.

Precedence is arguments, then ``CREDGATE_*`` environment variables, then the config file.
The config file is ``$CREDGATE_CLIENT_CONFIG`` when set, else
``$XDG_CONFIG_HOME/credgate/client.toml`` (``~/.config/credgate/client.toml``) when it exists.
Each top-level table of the file is a profile; ``[default]`` is used unless a profile is named
by argument or by ``CREDGATE_PROFILE``.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import ssl
import stat
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from credgate.client._errors import CredgateClientError, MissingSetting

logger = logging.getLogger("credgate.client")

SETTINGS = ("token_url", "issuer", "client_id", "client_secret", "scope", "ca_bundle")
ENVIRONMENT = {name: f"CREDGATE_{name.upper()}" for name in SETTINGS}
METADATA_PATH = "/.well-known/oauth-authorization-server"


@dataclass(frozen=True)
class Credentials:
    """A client id and its secret; the secret never shows in a repr.

    A secret provider returns one:

    ```python
    def from_vault() -> Credentials:
        data = vault.read("secret/credgate")
        return Credentials(data["client_id"], data["client_secret"])
    ```
    """

    client_id: str
    client_secret: str = field(repr=False)


# A callable that fetches the credentials, e.g. from a secret manager.
SecretProvider = Callable[[], Credentials]


def default_config_path(environ: Mapping[str, str]) -> Path:
    """The config file read when ``CREDGATE_CLIENT_CONFIG`` is not set."""
    base = environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "credgate" / "client.toml"


def read_profile(
    path: Path | None, profile: str | None, environ: Mapping[str, str]
) -> tuple[dict[str, str], str]:
    """The settings of one profile of the config file, and a phrase saying where they came
    from (for error messages). No file at the default location means no settings."""
    explicit = path or (
        Path(environ["CREDGATE_CLIENT_CONFIG"]) if environ.get("CREDGATE_CLIENT_CONFIG") else None
    )
    chosen = explicit or default_config_path(environ)
    name = profile or environ.get("CREDGATE_PROFILE") or "default"
    where = f"profile [{name}] of {chosen}"
    if explicit is None and not chosen.is_file():
        return {}, where

    document = _load_toml(chosen)
    table = document.get(name)
    if table is None and (profile or environ.get("CREDGATE_PROFILE")):
        raise CredgateClientError(f"no profile [{name}] in {chosen}")
    if not isinstance(table, dict):
        return {}, where
    _warn_if_readable_by_others(chosen, table)
    return {key: str(value) for key, value in table.items() if key in SETTINGS}, where


def _load_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as file:
            return tomllib.load(file)
    except FileNotFoundError:
        raise CredgateClientError(f"client config file {path} does not exist") from None
    except tomllib.TOMLDecodeError as error:
        # The decoder's message names a line and column, never the value found there.
        raise CredgateClientError(f"client config file {path} is not TOML: {error}") from None


def _warn_if_readable_by_others(path: Path, table: dict[str, Any]) -> None:
    mode = path.stat().st_mode
    if "client_secret" in table and mode & (stat.S_IRWXG | stat.S_IRWXO):
        logger.warning("client.config_readable", extra={"path": str(path)})


def resolve_settings(
    arguments: Mapping[str, str | None],
    environ: Mapping[str, str] | None = None,
    config_path: Path | None = None,
    profile: str | None = None,
) -> tuple[dict[str, str], str]:
    """Every setting found, by precedence, and where missing ones were looked for."""
    environ = os.environ if environ is None else environ
    from_file, file_where = read_profile(config_path, profile, environ)
    found: dict[str, str] = {}
    for name in SETTINGS:
        value = arguments.get(name) or environ.get(ENVIRONMENT[name]) or from_file.get(name)
        if value:
            found[name] = value
    return found, f"argument, environment variable or {file_where}"


def require(found: Mapping[str, str], name: str, where: str, *, by_variable: bool = True) -> str:
    """The setting, or ``MissingSetting`` naming its environment variable (or its own name,
    for arguments and config files)."""
    value = found.get(name)
    if not value:
        raise MissingSetting(ENVIRONMENT[name] if by_variable else name, where)
    return value


def validate_https(url: str, setting: str) -> str:
    """Refuse to send the secret over plain HTTP except to loopback (RFC 6749 §2.3.1: TLS).

    ```python
    validate_https("https://auth.example.com/oauth/token", "token_url")
    ```
    """
    parsed = urlsplit(url)
    if parsed.scheme == "https" and parsed.hostname:
        return url
    if parsed.scheme == "http" and _is_loopback(parsed.hostname or ""):
        return url
    raise CredgateClientError(f"{setting} must be an https:// URL (plain http only on loopback)")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def ssl_context(verify: bool | str | ssl.SSLContext) -> bool | ssl.SSLContext:
    """What httpx takes for ``verify``: a path to a CA bundle becomes an SSL context."""
    if isinstance(verify, str):
        return ssl.create_default_context(cafile=verify)
    return verify


def discover_token_url(issuer: str, verify: bool | ssl.SSLContext, timeout: float) -> str:
    """The ``token_endpoint`` of the issuer's RFC 8414 metadata.

    ```python
    discover_token_url("https://auth.example.com", True, 10.0)
    ```
    """
    issuer = issuer.rstrip("/")
    try:
        with httpx.Client(verify=verify, timeout=timeout) as http:
            response = http.get(issuer + METADATA_PATH)
    except httpx.TransportError as error:
        raise CredgateClientError(f"cannot reach {issuer}: {type(error).__name__}") from None
    if response.status_code != 200:
        raise CredgateClientError(f"{issuer}{METADATA_PATH} answered HTTP {response.status_code}")

    metadata = response.json()
    # RFC 8414 §3.3: the metadata must name the issuer it was fetched from.
    if not isinstance(metadata, dict) or metadata.get("issuer", "").rstrip("/") != issuer:
        raise CredgateClientError(f"the metadata of {issuer} names another issuer")
    token_url = metadata.get("token_endpoint")
    if not isinstance(token_url, str) or not token_url:
        raise CredgateClientError(f"the metadata of {issuer} has no token_endpoint")
    return validate_https(token_url, "the metadata's token_endpoint")
