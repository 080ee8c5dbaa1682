"""The schema: accounts, their clients and secrets, access tokens, sample users, audit events.

Secrets and tokens appear here only as keyed hashes. Times are timezone-aware UTC everywhere,
including on SQLite, which has no time zone type of its own.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UtcDateTime(TypeDecorator[datetime]):
    """A DateTime that always comes back aware, in UTC, whatever the database keeps."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_uuid() -> str:
    return str(uuid.uuid4())


NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UtcDateTime}


class Account(Base):
    __tablename__ = "accounts"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="active")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Client(Base):
    __tablename__ = "clients"

    client_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    scope: Mapped[str] = mapped_column(Text, default="")
    token_ttl: Mapped[int] = mapped_column(Integer, default=3600)
    status: Mapped[str] = mapped_column(String(16), default="active")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(default=None)
    # "jwt" or "opaque"; None follows the server's CREDGATE_TOKEN_FORMAT.
    token_format: Mapped[str | None] = mapped_column(String(8), default=None)
    # May call the introspection endpoint (RFC 7662): resource servers, not integrations.
    introspect: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Successful Create Token requests per hour; None takes the server's default quota.
    token_quota_per_hour: Mapped[int | None] = mapped_column(Integer, default=None)
    # CIDR networks the client may ask for tokens from; None allows every network.
    allowed_networks: Mapped[list[str] | None] = mapped_column(JSON, default=None)

    __table_args__ = (Index("ix_clients_account_id", "account_id"),)

    def __repr__(self) -> str:
        return f"Client(client_id={self.client_id!r}, name={self.name!r}, status={self.status!r})"


class ClientSecret(Base):
    __tablename__ = "client_secrets"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.client_id", ondelete="CASCADE"))
    secret_hash: Mapped[str] = mapped_column(String(64))
    hint: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    last_used_at: Mapped[datetime | None] = mapped_column(default=None)

    __table_args__ = (Index("ix_client_secrets_client_id", "client_id"),)

    def __repr__(self) -> str:
        return f"ClientSecret(id={self.id!r}, client_id={self.client_id!r}, hint=***)"


class AccessToken(Base):
    __tablename__ = "access_tokens"

    token_id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.client_id", ondelete="CASCADE"))
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    scope: Mapped[str] = mapped_column(Text, default="")
    issued_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    # Renewal (``POST /oauth/tokens/{id}/renew``): each token of a chain remembers when the
    # chain began with the client's secret, so no chain outlives the renewal maximum age.
    chain_started_at: Mapped[datetime]
    renewed_from: Mapped[str | None] = mapped_column(String(36), default=None)
    replaced_at: Mapped[datetime | None] = mapped_column(default=None)
    # The secret the chain began with, so revoking that secret can end its tokens; renewals
    # inherit it. Not a foreign key: deleting a secret row must not touch token rows.
    secret_id: Mapped[str | None] = mapped_column(String(36), default=None)

    __table_args__ = (
        Index("ix_access_tokens_client_id_expires_at", "client_id", "expires_at"),
        Index("ix_access_tokens_expires_at", "expires_at"),
    )

    def __repr__(self) -> str:
        return f"AccessToken(token_id={self.token_id!r}, client_id={self.client_id!r})"


class CredentialChanges(Base):
    """One row counting committed changes to credentials (tokens, clients, secrets, accounts).

    Every server process reads it a few times a second and drops what its caches hold when
    the count moves, so a change made anywhere (another worker, the CLI, another machine)
    reaches every cache within a second, with or without Redis.
    """

    __tablename__ = "credential_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    generation: Mapped[int] = mapped_column(BigInteger, default=0)


class User(Base):
    """A record of the sample protected API: users that belong to an account."""

    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(320))
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (UniqueConstraint("account_id", "email"),)


class AuditEvent(Base):
    """Who did what to which credential, and when. Never holds a secret or a token."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(64))
    account_id: Mapped[str | None] = mapped_column(String(36), default=None)
    client_id: Mapped[str | None] = mapped_column(String(64), default=None)
    target: Mapped[str | None] = mapped_column(String(200), default=None)
    source_address: Mapped[str | None] = mapped_column(String(64), default=None)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    __table_args__ = (
        Index("ix_audit_events_account_id_occurred_at", "account_id", "occurred_at"),
    )


# --- Admin Portal ------------------------------------------------------------------------------


class AdminUser(Base):
    """Someone who signs in to the Admin Portal: an operator, or the admin of one account."""

    __tablename__ = "admin_users"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    account_id: Mapped[str | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), default=None
    )
    status: Mapped[str] = mapped_column(String(16), default="active")
    # A TOTP seed must be readable to check codes, so unlike secrets it cannot be hashed.
    totp_secret: Mapped[str | None] = mapped_column(String(64), default=None)
    totp_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    failed_signins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(default=None)
    last_signin_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    def __repr__(self) -> str:
        return f"AdminUser(id={self.id!r}, email={self.email!r}, role={self.role!r})"


class AdminSession(Base):
    """A signed-in browser, keyed by the hash of its cookie value (never the value itself)."""

    __tablename__ = "admin_sessions"

    session_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    admin_id: Mapped[str] = mapped_column(ForeignKey("admin_users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    source_address: Mapped[str | None] = mapped_column(String(64), default=None)

    __table_args__ = (Index("ix_admin_sessions_admin_id", "admin_id"),)


class AdminApiKey(Base):
    """A key for the admin REST API; it acts with the rights of the admin who made it."""

    __tablename__ = "admin_api_keys"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    admin_id: Mapped[str] = mapped_column(ForeignKey("admin_users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hint: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    last_used_at: Mapped[datetime | None] = mapped_column(default=None)

    __table_args__ = (Index("ix_admin_api_keys_admin_id", "admin_id"),)

    def __repr__(self) -> str:
        return f"AdminApiKey(id={self.id!r}, name={self.name!r}, hint=***)"


class UsageCounter(Base):
    """Tokens issued and failed authentications of one client in one hour."""

    __tablename__ = "usage_counters"

    bucket: Mapped[datetime] = mapped_column(primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(36))
    tokens_issued: Mapped[int] = mapped_column(Integer, default=0)
    auth_failures: Mapped[int] = mapped_column(Integer, default=0)

    __table_args__ = (Index("ix_usage_counters_account_id_bucket", "account_id", "bucket"),)


class SigningKey(Base):
    """A key that signs JWT access tokens (RFC 9068), its private half encrypted at rest.

    A retired key stays published in the JWKS until ``not_after``, when the last token it
    signed has expired.
    """

    __tablename__ = "signing_keys"

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    algorithm: Mapped[str] = mapped_column(String(16))
    public_jwk: Mapped[dict[str, Any]] = mapped_column(JSON)
    private_key_encrypted: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    retired_at: Mapped[datetime | None] = mapped_column(default=None)
    not_after: Mapped[datetime | None] = mapped_column(default=None)

    def __repr__(self) -> str:
        return f"SigningKey(kid={self.kid!r}, algorithm={self.algorithm!r})"
