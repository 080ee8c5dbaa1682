"""``credgate quickstart``: everything a first-time user needs to make a bearer call."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from credgate import management
from credgate.admin import auth
from credgate.runtime import Runtime
from credgate.storage import accounts as account_store
from credgate.storage import users as user_store

ACCOUNT = "demo"
USER_EMAIL = "ada@example.com"
ADMIN_EMAIL = "admin@example.com"


@dataclass(frozen=True)
class QuickstartSetup:
    client_id: str
    client_secret: str = field(repr=False)
    user_id: str
    # None when the operator existed already: its password was printed on the first run.
    admin_password: str | None = field(default=None, repr=False)


async def create_quickstart_client(runtime: Runtime) -> QuickstartSetup:
    """Make sure the demo account and its sample user exist; give it a brand-new client."""
    async with runtime.sessions() as session:
        account = await account_store.find_account_by_name(session, ACCOUNT)
    if account is None:
        account = await management.create_account(runtime, ACCOUNT, actor="quickstart")
    async with runtime.sessions() as session:
        user = await user_store.find_user_by_email(session, account.id, USER_EMAIL)
    if user is None:
        user = await management.create_user(runtime, ACCOUNT, USER_EMAIL, "Ada Lovelace")
    new = await management.create_client(
        runtime,
        account_name=ACCOUNT,
        name="quickstart",
        scope="users:read users:write",
        actor="quickstart",
    )
    admin_password = await _create_quickstart_admin(runtime)
    return QuickstartSetup(new.client.client_id, new.client_secret, user.id, admin_password)


async def _create_quickstart_admin(runtime: Runtime) -> str | None:
    """An operator to sign in to the Admin Portal with, made on the first run only."""
    async with runtime.sessions() as session:
        if await auth.find_admin_by_email(session, ADMIN_EMAIL) is not None:
            return None
    password = secrets.token_urlsafe(12)
    await auth.create_admin(
        runtime, email=ADMIN_EMAIL, password=password, role=auth.OPERATOR, actor="quickstart"
    )
    return password


def _portal_lines(setup: QuickstartSetup, base_url: str) -> str:
    shown = f"{setup.admin_password}   (shown only this once)"
    if setup.admin_password is None:
        shown = "as printed on the first run (or make one: credgate admins create)"
    return f"""
Admin Portal: open {base_url}/admin/ and sign in (trust the CA above in your browser, or
accept its warning for this development certificate):
  email     {ADMIN_EMAIL}
  password  {shown}
"""


def quickstart_banner(setup: QuickstartSetup, base_url: str, ca_file: Path) -> str:
    return f"""
A client was created in account '{ACCOUNT}'. The secret is shown only this once.
Paste these lines into another shell to follow the README walk-through:

export CREDGATE_URL={base_url}
export CREDGATE_CA={ca_file.resolve()}
export CLIENT_ID={setup.client_id}
export CLIENT_SECRET={setup.client_secret}
export USER_ID={setup.user_id}
{_portal_lines(setup, base_url)}"""


def quickstart_json(setup: QuickstartSetup, base_url: str, ca_file: Path) -> str:
    """The banner's facts as one line, flushed before the server starts, for scripts."""
    document = {
        "account": ACCOUNT,
        "url": base_url,
        "ca_file": str(ca_file.resolve()),
        "client_id": setup.client_id,
        "client_secret": setup.client_secret,
        "user_id": setup.user_id,
    }
    return json.dumps(document)
