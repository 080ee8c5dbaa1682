"""What the admin API and pages show of each record: never a secret, token or hash."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from credgate.oauth2.scopes import parse_scope
from credgate.storage.models import (
    AccessToken,
    Account,
    AdminApiKey,
    AdminUser,
    AuditEvent,
    Client,
    ClientSecret,
    utcnow,
)


def iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat().replace("+00:00", "Z")


def account_view(account: Account) -> dict[str, Any]:
    return {
        "id": account.id,
        "name": account.name,
        "status": account.status,
        "created_at": iso(account.created_at),
    }


def client_view(client: Client) -> dict[str, Any]:
    return {
        "client_id": client.client_id,
        "account_id": client.account_id,
        "name": client.name,
        "scope": client.scope,
        "scopes": sorted(parse_scope(client.scope)),
        "token_ttl": client.token_ttl,
        "status": client.status,
        "created_at": iso(client.created_at),
        "updated_at": iso(client.updated_at),
        "last_used_at": iso(client.last_used_at),
    }


def secret_state(secret: ClientSecret, now: datetime | None = None) -> str:
    now = now or utcnow()
    if secret.revoked_at is not None:
        return "revoked"
    if secret.expires_at is not None and secret.expires_at <= now:
        return "expired"
    if secret.expires_at is not None:
        return "expiring"
    return "active"


def secret_view(secret: ClientSecret) -> dict[str, Any]:
    return {
        "id": secret.id,
        "client_id": secret.client_id,
        "hint": secret.hint,
        "status": secret_state(secret),
        "created_at": iso(secret.created_at),
        "expires_at": iso(secret.expires_at),
        "revoked_at": iso(secret.revoked_at),
        "last_used_at": iso(secret.last_used_at),
    }


def token_view(token: AccessToken) -> dict[str, Any]:
    return {
        "token_id": token.token_id,
        "client_id": token.client_id,
        "scope": token.scope,
        "issued_at": iso(token.issued_at),
        "expires_at": iso(token.expires_at),
        "secret_id": token.secret_id,
        "renewed_from": token.renewed_from,
    }


def event_view(event: AuditEvent) -> dict[str, Any]:
    return {
        "id": event.id,
        "occurred_at": iso(event.occurred_at),
        "actor": event.actor,
        "action": event.action,
        "account_id": event.account_id,
        "client_id": event.client_id,
        "target": event.target,
        "source_address": event.source_address,
        "details": event.details,
    }


def admin_view(admin: AdminUser) -> dict[str, Any]:
    return {
        "id": admin.id,
        "email": admin.email,
        "role": admin.role,
        "account_id": admin.account_id,
        "status": admin.status,
        "totp_enabled": admin.totp_enabled,
        "last_signin_at": iso(admin.last_signin_at),
        "created_at": iso(admin.created_at),
    }


def api_key_view(key: AdminApiKey) -> dict[str, Any]:
    return {
        "id": key.id,
        "admin_id": key.admin_id,
        "name": key.name,
        "hint": key.hint,
        "status": "revoked" if key.revoked_at else "active",
        "created_at": iso(key.created_at),
        "revoked_at": iso(key.revoked_at),
        "last_used_at": iso(key.last_used_at),
    }
