"""Helpers of the Admin Portal tests: admins seeded in the live server's database, signed in."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import httpx

from conftest import LiveServer
from credgate.admin import auth
from credgate.storage import accounts as account_store

PASSWORD = "correct horse battery staple"


@dataclass
class Admin:
    email: str
    password: str = field(repr=False)
    role: str
    account: str | None
    account_id: str | None
    admin_id: str


def account_id_of(server: LiveServer, name: str) -> str:
    async def find(runtime):  # type: ignore[no-untyped-def]
        async with runtime.sessions() as session:
            account = await account_store.find_account_by_name(session, name)
        return account.id

    return str(server.run(find))


def make_admin(server: LiveServer, account: str | None = None) -> Admin:
    """An operator when ``account`` is None, else an admin of that (new or named) account."""
    email = f"admin-{uuid.uuid4().hex[:8]}@example.com"
    role = auth.OPERATOR if account is None else auth.ACCOUNT_ADMIN
    created = server.run(
        lambda rt: auth.create_admin(
            rt, email=email, password=PASSWORD, role=role, account_name=account, actor="test"
        )
    )
    return Admin(email, PASSWORD, role, account, created.account_id, created.id)


def account_admin(server: LiveServer) -> Admin:
    return make_admin(server, server.account())


@contextmanager
def sign_in(server: LiveServer, admin: Admin) -> Iterator[httpx.Client]:
    """An HTTP client holding the admin's session cookie and sending its CSRF token."""
    with server.http() as http:
        response = http.post(
            "/admin/api/session", json={"email": admin.email, "password": admin.password}
        )
        assert response.status_code == 201, response.text
        http.headers["X-CSRF-Token"] = response.json()["csrf_token"]
        yield http


@contextmanager
def with_key(server: LiveServer, admin: Admin) -> Iterator[httpx.Client]:
    """An HTTP client that authenticates with a new admin API key of this admin."""
    with sign_in(server, admin) as http:
        response = http.post("/admin/api/keys", json={"name": "script"})
    assert response.status_code == 201, response.text
    key = server.remember_secret(response.json()["key"])
    with server.http() as client:
        client.headers["Authorization"] = f"Bearer {key}"
        yield client


def create_client(http: httpx.Client, server: LiveServer, **body: object) -> dict:  # type: ignore[type-arg]
    response = http.post(
        "/admin/api/clients", json={"name": "billing", "scope": "users:read", **body}
    )
    assert response.status_code == 201, response.text
    server.remember_secret(response.json()["client_secret"])
    return response.json()  # type: ignore[no-any-return]


def token_for(server: LiveServer, client_id: str, secret: str) -> httpx.Response:
    with server.http() as http:
        response = http.post(
            "/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(client_id, secret),
        )
    if response.status_code == 200:
        server.remember_token(response.json()["access_token"])
    return response


def seed_user(server: LiveServer, account: str) -> str:
    return server.user(account)
