"""Settings, from ``CREDGATE_*`` environment variables and an optional TOML file.

Environment variables win over the file, which wins over the defaults; every default runs.
See ``credgate.config_file`` for where the file is looked for.
"""

from __future__ import annotations

import ipaddress
from functools import cached_property
from pathlib import Path
from typing import Annotated

from limits import parse as parse_rate_limit
from pydantic import Field, field_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from credgate.config_file import config_file_source

_LOG_LEVELS = {"CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG"}
_DATABASE_BACKENDS = {"sqlite", "postgresql"}


class Settings(BaseSettings):
    """Effective configuration of one credgate process."""

    model_config = SettingsConfigDict(env_prefix="CREDGATE_", extra="ignore")

    data_dir: Path = Field(
        default=Path(".credgate"),
        description="Where the SQLite database, the hashing key and the dev TLS files live.",
    )
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; defaults to SQLite in data_dir."
    )
    hash_key: str | None = Field(
        default=None,
        description="Server key for hashing secrets and tokens (hex, at least 32 bytes). "
        "Generated into data_dir on first run when not set.",
    )
    issuer: str | None = Field(
        default=None, description="Public base URL; defaults to the request's own origin."
    )

    default_token_ttl: int = Field(default=3600, ge=1)
    renewal_overlap: float = Field(
        default=5.0, ge=0, description="Seconds a renewed token keeps working after renewal."
    )
    renewal_max_age: int = Field(
        default=86400, ge=1, description="Seconds a chain of renewals may run past Create Token."
    )

    scopes: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["users:read", "users:write"],
        description="Scopes clients may be granted (space- or comma-separated).",
    )

    allow_loopback_http: bool = Field(
        default=True, description="Accept plain HTTP from 127.0.0.0/8 and ::1 (development)."
    )
    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Addresses allowed to set X-Forwarded-Proto and X-Forwarded-For.",
    )
    hsts_max_age: int = Field(default=31536000, ge=0)
    max_body_bytes: int = Field(default=65536, ge=1024)

    # --- Retention and purge ---------------------------------------------------------------
    token_retention: int = Field(
        default=86400,
        ge=0,
        description="Seconds an expired or revoked token is kept before it is purged.",
    )
    audit_retention_days: int = Field(
        default=365, ge=1, description="Days audit events are kept before they are purged."
    )
    purge_interval: float = Field(
        default=3600, ge=0, description="Seconds between background purges; 0 turns them off."
    )
    purge_batch_size: int = Field(
        default=1000, ge=1, description="Rows deleted per transaction by a purge."
    )

    # --- Admin Portal ------------------------------------------------------------------------
    admin_session_idle: int = Field(
        default=1800, ge=1, description="Seconds of inactivity after which a portal session ends."
    )
    admin_signin_lock_after: int = Field(
        default=5, ge=1, description="Failed sign-ins in a row that lock an admin out."
    )
    admin_signin_lock_seconds: int = Field(
        default=900, ge=1, description="Seconds an admin stays locked out."
    )

    # --- JWT access tokens (RFC 9068) ------------------------------------------------------
    token_format: str = Field(
        default="opaque",
        pattern="^(opaque|jwt)$",
        description="Access token format for clients that do not choose: opaque or jwt.",
    )
    token_audience: str | None = Field(
        default=None, description="The aud claim of JWT access tokens; defaults to the issuer."
    )
    jwt_algorithm: str = Field(
        default="ES256",
        pattern="^(ES256|Ed25519|RS256)$",
        description="Signing algorithm of new JWT keys: ES256, Ed25519 (EdDSA) or RS256.",
    )

    # --- Fleet: shared cache, metrics ---------------------------------------------------------
    redis_url: str | None = Field(
        default=None,
        description="redis:// URL of the Redis shared by the fleet; unset, no Redis is used.",
    )
    metrics: bool = Field(default=False, description="Serve Prometheus metrics at /metrics.")
    metrics_token: str | None = Field(
        default=None, description="Bearer key a scrape of /metrics must send, when set."
    )

    # --- Limits and abuse protection --------------------------------------------------------
    rate_limits: bool = Field(
        default=True, description="Apply the rate limits and quotas below; false turns them off."
    )
    auth_failure_limit: str = Field(
        default="10/minute",
        description="Failed client authentications allowed per existing client id "
        "(limits notation: N/second, N/minute, N/hour), then 429 until the window ends.",
    )
    auth_failure_limit_per_address: str = Field(
        default="10/minute",
        description="Failed client authentications allowed per source address.",
    )
    token_quota_per_hour: int | None = Field(
        default=None,
        ge=1,
        description="Successful Create Token requests per client and hour, for clients "
        "without a quota of their own; none is unlimited.",
    )
    api_rate_limit: str = Field(
        default="6000/minute",
        description="Requests to the protected API per client (limits notation).",
    )
    request_body_timeout: float = Field(
        default=10.0, gt=0, description="Seconds a client may take to send a request body."
    )
    request_header_timeout: float = Field(
        default=10.0, gt=0, description="Seconds a client may take to send its request headers."
    )
    max_header_bytes: int = Field(
        default=16384, ge=4096, description="Largest request line and headers, in bytes."
    )
    keep_alive_timeout: int = Field(
        default=5, ge=1, description="Seconds an idle keep-alive connection stays open."
    )
    max_concurrency: int = Field(
        default=1000,
        ge=1,
        description="Connections and requests in progress per worker before 503s.",
    )

    @field_validator("auth_failure_limit", "auth_failure_limit_per_address", "api_rate_limit")
    @classmethod
    def _check_rate_limit(cls, value: str) -> str:
        try:
            parse_rate_limit(value)
        except ValueError:
            raise ValueError("must read like 10/minute or 100/hour") from None
        return value

    log_level: str = "INFO"
    log_format: str | None = Field(
        default=None,
        pattern="^(json|text)$",
        description="json or text; unset, text on a terminal and JSON otherwise.",
    )

    @field_validator("trusted_proxies", "scopes", mode="before")
    @classmethod
    def _split_list(cls, value: object) -> object:
        if isinstance(value, str):
            return value.replace(",", " ").split()
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Earlier sources win: arguments, then the environment, then the config file.
        config_file = config_file_source(settings_cls)
        return (init_settings, env_settings, *([config_file] if config_file else []))

    # --- Checks that stop start-up with the setting named ------------------------------------
    @field_validator("hash_key")
    @classmethod
    def _check_hash_key(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            key = bytes.fromhex(value)
        except ValueError:
            raise ValueError("must be hexadecimal") from None
        if len(key) < 32:
            raise ValueError("must be at least 32 bytes (64 hex digits)")
        return value

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str | None) -> str | None:
        if not value:
            return None
        try:
            backend = make_url(value).get_backend_name()
        except ArgumentError:
            raise ValueError("is not a database URL") from None
        if backend not in _DATABASE_BACKENDS:
            raise ValueError("must be a sqlite:// or postgresql:// URL")
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _check_trusted_proxies(cls, value: list[str]) -> list[str]:
        # Addresses and networks only: "*" would let any client claim HTTPS for itself.
        for entry in value:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(
                    "must list proxy IP addresses or networks (CIDR), not names or *"
                ) from None
        return value

    @field_validator("log_level")
    @classmethod
    def _check_log_level(cls, value: str) -> str:
        if value.upper() not in _LOG_LEVELS:
            raise ValueError(f"must be one of {', '.join(sorted(_LOG_LEVELS))}")
        return value.upper()

    @field_validator("redis_url")
    @classmethod
    def _check_redis_url(cls, value: str | None) -> str | None:
        if not value:
            return None
        if not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must be a redis://, rediss:// or unix:// URL")
        return value

    @cached_property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{self.data_dir / 'credgate.db'}"

    @property
    def tls_dir(self) -> Path:
        return self.data_dir / "tls"


def get_settings() -> Settings:
    return Settings()
