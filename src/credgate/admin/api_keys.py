"""Admin API keys: ``cgk_`` values for scripts, acting with the rights of the admin who made them.

Keys are shaped like secrets (256 random bits, a prefix, a checksum), stored only as keyed
hashes with the server's credential hasher, shown once, and revocable.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from sqlalchemy import select, update

from credgate.admin.auth import Principal, is_usable_admin
from credgate.credentials import (
    generate_admin_api_key,
    is_well_formed_admin_api_key,
    secret_hint,
)
from credgate.management import ManagementError
from credgate.runtime import Runtime
from credgate.storage.audit import record_event
from credgate.storage.models import AdminApiKey, AdminUser, utcnow

logger = logging.getLogger("credgate.admin")


@dataclass(frozen=True)
class NewApiKey:
    key: AdminApiKey
    value: str = field(repr=False)


async def create_api_key(
    runtime: Runtime, principal: Principal, name: str, *, source_address: str | None
) -> NewApiKey:
    name = name.strip()
    if not name or len(name) > 200:
        raise ManagementError("a key name needs 1 to 200 characters")
    value = generate_admin_api_key()
    async with runtime.sessions.begin() as session:
        row = AdminApiKey(
            admin_id=principal.admin_id,
            name=name,
            key_hash=runtime.hasher.hash(value),
            hint=secret_hint(value),
        )
        session.add(row)
        await session.flush()
        await record_event(
            session,
            actor=principal.actor,
            action="api_key.created",
            account_id=principal.account_id,
            target=row.id,
            source_address=source_address,
            details={"name": name},
        )
    logger.info("api_key.created", extra={"key_id": row.id, "admin_id": principal.admin_id})
    return NewApiKey(row, value)


async def list_api_keys(runtime: Runtime, principal: Principal) -> list[AdminApiKey]:
    """The keys of this admin (an operator sees every admin's keys)."""
    query = select(AdminApiKey).order_by(AdminApiKey.created_at)
    if not principal.is_operator:
        query = query.where(AdminApiKey.admin_id == principal.admin_id)
    async with runtime.sessions() as session:
        return list((await session.scalars(query)).all())


async def revoke_api_key(
    runtime: Runtime, principal: Principal, key_id: str, *, source_address: str | None
) -> bool:
    """Revoke a key the principal may manage; False when there is none such to revoke."""
    async with runtime.sessions.begin() as session:
        row = await session.get(AdminApiKey, key_id)
        if row is None or not (principal.is_operator or row.admin_id == principal.admin_id):
            return False
        if row.revoked_at is not None:
            raise ManagementError("the key was already revoked")
        row.revoked_at = utcnow()
        await record_event(
            session,
            actor=principal.actor,
            action="api_key.revoked",
            account_id=principal.account_id,
            target=key_id,
            source_address=source_address,
        )
    logger.info("api_key.revoked", extra={"key_id": key_id})
    return True


async def authenticate_api_key(runtime: Runtime, value: str) -> Principal | None:
    """The principal a live key speaks for, or None; a malformed key costs no database read."""
    if not is_well_formed_admin_api_key(value):
        return None
    async with runtime.sessions.begin() as session:
        query = (
            select(AdminApiKey, AdminUser)
            .join(AdminUser, AdminUser.id == AdminApiKey.admin_id)
            .where(AdminApiKey.key_hash == runtime.hasher.hash(value))
        )
        found = (await session.execute(query)).first()
        if found is None:
            return None
        key, admin = found
        if key.revoked_at is not None or not await is_usable_admin(session, admin):
            return None
        # Admin API calls are rare next to token requests: recording the use inline is fine.
        await session.execute(
            update(AdminApiKey).where(AdminApiKey.id == key.id).values(last_used_at=utcnow())
        )
    return Principal(admin.id, admin.email, admin.role, admin.account_id, via="api_key")
