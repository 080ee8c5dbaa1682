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
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
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

    __table_args__ = (
        Index("ix_access_tokens_client_id_expires_at", "client_id", "expires_at"),
        Index("ix_access_tokens_expires_at", "expires_at"),
    )

    def __repr__(self) -> str:
        return f"AccessToken(token_id={self.token_id!r}, client_id={self.client_id!r})"


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
