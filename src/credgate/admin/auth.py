"""Admin users: argon2id passwords, optional TOTP, server-side sessions, sign-in throttling.

A session is a random cookie value; the database keeps only its keyed hash, so a copy of the
database cannot sign anyone in. A session ends after ``CREDGATE_ADMIN_SESSION_IDLE`` seconds
without a request, and sign-out deletes it. Failed sign-ins are answered more slowly each time
and, after ``CREDGATE_ADMIN_SIGNIN_LOCK_AFTER`` in a row, lock the admin out for a while.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import secrets
from dataclasses import dataclass, field
from datetime import timedelta

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select, update

from credgate.management import ManagementError
from credgate.runtime import Runtime
from credgate.storage import accounts as account_store
from credgate.storage.audit import record_event
from credgate.storage.database import AsyncSession
from credgate.storage.models import AdminSession, AdminUser, utcnow

logger = logging.getLogger("credgate.admin")

OPERATOR = "operator"
ACCOUNT_ADMIN = "account_admin"
MIN_PASSWORD_LENGTH = 12
SLOWDOWN_PER_FAILURE = 0.25  # seconds added to each answer per failure in a row

# argon2-cffi's defaults are RFC 9106's second recommended argon2id profile.
_PASSWORDS = PasswordHasher()


class SignInFailed(Exception):
    """A refused sign-in, with the reason shown to the person signing in."""


@dataclass(frozen=True)
class Principal:
    """Who makes an admin request, and how: by session (with its CSRF token) or API key."""

    admin_id: str
    email: str
    role: str
    account_id: str | None
    via: str
    csrf_token: str | None = field(default=None, repr=False)

    @property
    def actor(self) -> str:
        return f"admin:{self.email}"

    @property
    def is_operator(self) -> bool:
        return self.role == OPERATOR

    def reaches(self, account_id: str | None) -> bool:
        """Operators reach every account; an account admin only their own."""
        return self.is_operator or (account_id is not None and account_id == self.account_id)


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ManagementError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    return _PASSWORDS.hash(password)


@functools.cache
def _dummy_password_hash() -> str:
    """Verified against when the email is unknown, so both refusals cost the same work.

    Made at the first such sign-in, not at import: hashing fills 64 MiB, which would raise
    the peak resident memory of every server worker, admin pages served or not.
    """
    return _PASSWORDS.hash(secrets.token_hex(16))


def _password_matches(stored: str, password: str) -> bool:
    try:
        return _PASSWORDS.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def _validate_email(email: str) -> str:
    email = email.strip().lower()
    local, _, domain = email.partition("@")
    if not local or "." not in domain or len(email) > 320 or not email.isprintable():
        raise ManagementError("an email address like name@example.com is needed")
    return email


async def create_admin(
    runtime: Runtime,
    *,
    email: str,
    password: str,
    role: str,
    account_id: str | None = None,
    account_name: str | None = None,
    actor: str,
    source_address: str | None = None,
) -> AdminUser:
    """Create an operator (no account) or the admin of one account (by id or name)."""
    email = _validate_email(email)
    password_hash = hash_password(password)
    if role not in (OPERATOR, ACCOUNT_ADMIN):
        raise ManagementError("the role is operator or account_admin")
    async with runtime.sessions.begin() as session:
        account_id = await _account_for_role(session, role, account_id, account_name)
        if await find_admin_by_email(session, email):
            raise ManagementError(f"an admin with email {email!r} exists already")
        admin = AdminUser(
            email=email, password_hash=password_hash, role=role, account_id=account_id
        )
        session.add(admin)
        await session.flush()
        await record_event(
            session,
            actor=actor,
            action="admin.created",
            account_id=account_id,
            target=email,
            source_address=source_address,
            details={"role": role, "admin_id": admin.id},
        )
    logger.info("admin.created", extra={"admin_id": admin.id, "role": role, "actor": actor})
    return admin


async def _account_for_role(
    session: AsyncSession, role: str, account_id: str | None, account_name: str | None
) -> str | None:
    if role == OPERATOR:
        return None
    account = None
    if account_id is not None:
        account = await account_store.find_account(session, account_id)
    elif account_name is not None:
        account = await account_store.find_account_by_name(session, account_name)
    if account is None:
        raise ManagementError("an account admin needs an existing account")
    return account.id


async def find_admin_by_email(session: AsyncSession, email: str) -> AdminUser | None:
    return await session.scalar(select(AdminUser).where(AdminUser.email == email.lower()))


async def list_admins(runtime: Runtime, account_id: str | None) -> list[AdminUser]:
    """Every admin (``account_id`` None, for operators) or the admins of one account."""
    query = select(AdminUser).order_by(AdminUser.email)
    if account_id is not None:
        query = query.where(AdminUser.account_id == account_id)
    async with runtime.sessions() as session:
        return list((await session.scalars(query)).all())


async def delete_admin(
    runtime: Runtime, admin: AdminUser, *, actor: str, source_address: str | None
) -> None:
    async with runtime.sessions.begin() as session:
        await session.execute(delete(AdminSession).where(AdminSession.admin_id == admin.id))
        await session.execute(delete(AdminUser).where(AdminUser.id == admin.id))
        await record_event(
            session,
            actor=actor,
            action="admin.deleted",
            account_id=admin.account_id,
            target=admin.email,
            source_address=source_address,
        )


@dataclass(frozen=True)
class SignedIn:
    admin: AdminUser
    cookie_value: str = field(repr=False)


async def sign_in(
    runtime: Runtime,
    email: str,
    password: str,
    totp_code: str | None,
    source_address: str | None,
) -> SignedIn:
    """Check the password (and TOTP code when enrolled) and open a session, or refuse."""
    email = email.strip().lower()
    now = utcnow()
    async with runtime.sessions() as session:
        admin = await find_admin_by_email(session, email)
    if admin is not None and admin.locked_until is not None and admin.locked_until > now:
        await _record_failure(runtime, admin, email, source_address, "locked")
        raise SignInFailed("too many failed sign-ins: try again later")
    if admin is not None and admin.failed_signins:
        # Slowed: each failure in a row adds to the wait before the next answer.
        await asyncio.sleep(SLOWDOWN_PER_FAILURE * admin.failed_signins)

    reason = await _refusal(runtime, admin, password, totp_code)
    if reason is not None or admin is None:
        reason = reason or "unknown_email"
        await _record_failure(runtime, admin, email, source_address, reason)
        raise SignInFailed(_refusal_text(reason))
    return await _open_session(runtime, admin, source_address)


async def _refusal(
    runtime: Runtime, admin: AdminUser | None, password: str, totp_code: str | None
) -> str | None:
    # argon2 is slow by design: keep it off the event loop.
    if admin is not None:
        matched = await asyncio.to_thread(_password_matches, admin.password_hash, password)
    else:
        matched = await asyncio.to_thread(_unknown_email_password_matches, password)
    if admin is None:
        return "unknown_email"
    if not matched:
        return "wrong_password"
    if admin.status != "active" or not await _account_is_active(runtime, admin):
        return "disabled"
    if admin.totp_enabled and not _totp_matches(admin, totp_code):
        return "totp_required" if not totp_code else "wrong_totp"
    return None


def _unknown_email_password_matches(password: str) -> bool:
    return _password_matches(_dummy_password_hash(), password)


def _refusal_text(reason: str) -> str:
    if reason == "totp_required":
        return "enter the 6-digit code from your authenticator app"
    return "wrong email, password or code"


async def _account_is_active(runtime: Runtime, admin: AdminUser) -> bool:
    async with runtime.sessions() as session:
        return await is_usable_admin(session, admin)


async def is_usable_admin(session: AsyncSession, admin: AdminUser | None) -> bool:
    """An admin may act while active, and, for an account admin, while the account is."""
    if admin is None or admin.status != "active":
        return False
    if admin.account_id is None:
        return True
    account = await account_store.find_account(session, admin.account_id)
    return account is not None and account.status == "active"


def _totp_matches(admin: AdminUser, code: str | None) -> bool:
    if not code or admin.totp_secret is None:
        return False
    # One step either way absorbs clock drift between the phone and the server.
    return pyotp.TOTP(admin.totp_secret).verify(code.strip(), valid_window=1)


async def _record_failure(
    runtime: Runtime,
    admin: AdminUser | None,
    email: str,
    source_address: str | None,
    reason: str,
) -> None:
    settings = runtime.settings
    now = utcnow()
    async with runtime.sessions.begin() as session:
        if admin is not None and reason not in ("locked", "totp_required"):
            # One UPDATE, so failures racing in parallel each count.
            failures = await session.scalar(
                update(AdminUser)
                .where(AdminUser.id == admin.id)
                .values(failed_signins=AdminUser.failed_signins + 1)
                .returning(AdminUser.failed_signins)
            )
            if failures is not None and failures >= settings.admin_signin_lock_after:
                await session.execute(
                    update(AdminUser)
                    .where(AdminUser.id == admin.id)
                    .values(
                        failed_signins=0,
                        locked_until=now + timedelta(seconds=settings.admin_signin_lock_seconds),
                    )
                )
                reason = "wrong_password_locked"
        await record_event(
            session,
            actor=f"admin:{email[:180]}",
            action="admin.signin_failed",
            account_id=admin.account_id if admin else None,
            target=email[:200],
            source_address=source_address,
            details={"reason": reason},
        )
    logger.warning("admin.signin_failed", extra={"reason": reason})


async def _open_session(
    runtime: Runtime, admin: AdminUser, source_address: str | None
) -> SignedIn:
    cookie_value = secrets.token_urlsafe(32)
    now = utcnow()
    async with runtime.sessions.begin() as session:
        session.add(
            AdminSession(
                session_hash=runtime.hasher.hash(cookie_value),
                admin_id=admin.id,
                created_at=now,
                last_seen_at=now,
                source_address=source_address,
            )
        )
        row = await session.get(AdminUser, admin.id)
        if row is not None:
            row.failed_signins = 0
            row.locked_until = None
            row.last_signin_at = now
        await record_event(
            session,
            actor=f"admin:{admin.email}",
            action="admin.signed_in",
            account_id=admin.account_id,
            target=admin.email,
            source_address=source_address,
        )
    logger.info("admin.signed_in", extra={"admin_id": admin.id})
    return SignedIn(admin, cookie_value)


async def find_session_admin(runtime: Runtime, cookie_value: str) -> AdminUser | None:
    """The admin of a live session, touching its last-seen time; None when it ended."""
    now = utcnow()
    idle = timedelta(seconds=runtime.settings.admin_session_idle)
    session_hash = runtime.hasher.hash(cookie_value)
    async with runtime.sessions.begin() as session:
        row = await session.get(AdminSession, session_hash)
        if row is None:
            return None
        if row.last_seen_at + idle <= now:
            await session.delete(row)
            return None
        admin = await session.get(AdminUser, row.admin_id)
        if admin is None or not await is_usable_admin(session, admin):
            return None
        row.last_seen_at = now
        return admin


async def sign_out(runtime: Runtime, cookie_value: str, principal: Principal) -> None:
    async with runtime.sessions.begin() as session:
        await session.execute(
            delete(AdminSession).where(
                AdminSession.session_hash == runtime.hasher.hash(cookie_value)
            )
        )
        await record_event(
            session,
            actor=principal.actor,
            action="admin.signed_out",
            account_id=principal.account_id,
            target=principal.email,
        )


def totp_provisioning_uri(secret: str, email: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name="credgate")


async def start_totp_enrolment(runtime: Runtime, principal: Principal) -> str:
    """A fresh TOTP seed kept pending until the admin proves their app with a code."""
    seed = pyotp.random_base32()
    async with runtime.sessions.begin() as session:
        admin = await session.get(AdminUser, principal.admin_id)
        if admin is None:
            raise ManagementError("no such admin")
        if admin.totp_enabled:
            raise ManagementError("two-factor sign-in is already on")
        admin.totp_secret = seed
    return seed


async def confirm_totp_enrolment(
    runtime: Runtime, principal: Principal, code: str, source_address: str | None
) -> None:
    async with runtime.sessions.begin() as session:
        admin = await session.get(AdminUser, principal.admin_id)
        if admin is None or admin.totp_secret is None:
            raise ManagementError("start the enrolment first")
        if not _totp_matches(admin, code):
            raise ManagementError("that code does not match: check the app's clock and retry")
        admin.totp_enabled = True
        await record_event(
            session,
            actor=principal.actor,
            action="admin.totp_enabled",
            account_id=admin.account_id,
            target=admin.email,
            source_address=source_address,
        )


async def find_admin(runtime: Runtime, admin_id: str) -> AdminUser | None:
    async with runtime.sessions() as session:
        return await session.get(AdminUser, admin_id)


async def change_password(
    runtime: Runtime,
    principal: Principal,
    current: str,
    new: str,
    *,
    keep_session: str | None,
    source_address: str | None,
) -> None:
    """Change one's own password; every other session of this admin ends."""
    new_hash = hash_password(new)
    async with runtime.sessions.begin() as session:
        admin = await session.get(AdminUser, principal.admin_id)
        if admin is None:
            raise ManagementError("no such admin")
        matched = await asyncio.to_thread(_password_matches, admin.password_hash, current)
        if not matched:
            raise ManagementError("the current password is not right")
        admin.password_hash = new_hash
        others = delete(AdminSession).where(AdminSession.admin_id == admin.id)
        if keep_session is not None:
            others = others.where(AdminSession.session_hash != runtime.hasher.hash(keep_session))
        await session.execute(others)
        await record_event(
            session,
            actor=principal.actor,
            action="admin.password_changed",
            account_id=admin.account_id,
            target=admin.email,
            source_address=source_address,
        )
    logger.info("admin.password_changed", extra={"admin_id": principal.admin_id})
