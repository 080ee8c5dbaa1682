"""Signing in to the Admin Portal: passwords, TOTP, sessions, throttling and the CLI."""

from __future__ import annotations

import json
import os
import re
import ssl
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx
import pyotp
import pytest
from sqlalchemy import select

from admin_support import PASSWORD, Admin, account_admin, make_admin, sign_in, with_key
from conftest import ISSUED, LiveServer, free_port
from credgate.storage.models import AdminSession, AdminUser, AuditEvent
from test_cli import cli


def _sign_in(server: LiveServer, email: str, password: str, code: str | None = None) -> int:
    with server.http() as http:
        body = {"email": email, "password": password, "totp_code": code}
        return http.post("/admin/api/session", json=body).status_code


def _events(server: LiveServer, action: str, target: str) -> list[AuditEvent]:
    async def read(runtime):  # type: ignore[no-untyped-def]
        async with runtime.sessions() as session:
            query = select(AuditEvent).where(
                AuditEvent.action == action, AuditEvent.target == target
            )
            return (await session.scalars(query.order_by(AuditEvent.id))).all()

    return list(server.run(read))


def _stored_admin(server: LiveServer, admin_id: str) -> AdminUser:
    async def read(runtime):  # type: ignore[no-untyped-def]
        async with runtime.sessions() as session:
            return await session.get(AdminUser, admin_id)

    return server.run(read)  # type: ignore[no-any-return]


def test_sign_in_sets_a_secure_http_only_same_site_cookie(
    server: LiveServer,
) -> None:
    admin = account_admin(server)
    with server.http() as http:
        response = http.post(
            "/admin/api/session", json={"email": admin.email, "password": admin.password}
        )

    cookie = response.headers["set-cookie"].lower()
    assert response.status_code == 201
    assert "credgate_admin=" in cookie
    assert "secure" in cookie
    assert "httponly" in cookie
    assert "samesite=strict" in cookie
    assert "path=/admin" in cookie
    assert len(response.json()["csrf_token"]) == 64
    event = _events(server, "admin.signed_in", admin.email)[-1]
    assert event.source_address == "127.0.0.1"
    assert event.account_id == admin.account_id


def test_session_is_stored_only_as_a_hash(server: LiveServer) -> None:
    admin = account_admin(server)
    with sign_in(server, admin) as http:
        value = http.cookies.get("credgate_admin")

    async def read(runtime):  # type: ignore[no-untyped-def]
        async with runtime.sessions() as session:
            query = select(AdminSession).where(AdminSession.admin_id == admin.admin_id)
            return (await session.scalars(query)).all()

    rows = server.run(read)
    assert len(rows) == 1
    assert rows[0].session_hash == server.run(lambda rt: _hash(rt, value))
    assert value not in rows[0].session_hash


async def _hash(runtime, value):  # type: ignore[no-untyped-def]
    return runtime.hasher.hash(value)


def test_password_is_stored_as_an_argon2id_hash(server: LiveServer) -> None:
    admin = account_admin(server)

    stored = _stored_admin(server, admin.admin_id)

    assert stored.password_hash.startswith("$argon2id$")
    assert PASSWORD not in stored.password_hash


@pytest.mark.parametrize("known_email", [True, False])
def test_failed_sign_in_is_refused_alike_and_audited_without_the_password(
    server: LiveServer, known_email: bool
) -> None:
    admin = account_admin(server)
    email = admin.email if known_email else f"nobody-{uuid.uuid4().hex[:6]}@example.com"
    wrong = f"Tr0ub4dor&3-{uuid.uuid4().hex[:6]}"

    with server.http() as http:
        response = http.post("/admin/api/session", json={"email": email, "password": wrong})

    assert response.status_code == 401
    assert response.json()["error_description"] == "wrong email, password or code"
    assert "set-cookie" not in response.headers
    event = _events(server, "admin.signin_failed", email)[-1]
    assert event.source_address == "127.0.0.1"
    assert wrong not in json.dumps(event.details)
    assert event.details["reason"] in ("wrong_password", "unknown_email")


def test_repeated_failures_are_slowed_then_locked(server: LiveServer) -> None:
    admin = account_admin(server)
    lock_after = server.settings.admin_signin_lock_after
    timings = []
    for _ in range(lock_after):
        started = time.monotonic()
        assert _sign_in(server, admin.email, "not the password") == 401
        timings.append(time.monotonic() - started)

    # Locked now: even the right password is refused.
    assert _sign_in(server, admin.email, admin.password) == 401

    assert timings[-1] > timings[0] + 0.5
    assert _stored_admin(server, admin.admin_id).locked_until is not None
    reasons = [e.details["reason"] for e in _events(server, "admin.signin_failed", admin.email)]
    assert reasons[-2:] == ["wrong_password_locked", "locked"]


def test_a_successful_sign_in_resets_the_failure_count(server: LiveServer) -> None:
    admin = account_admin(server)
    assert _sign_in(server, admin.email, "not the password") == 401

    assert _sign_in(server, admin.email, admin.password) == 201

    assert _stored_admin(server, admin.admin_id).failed_signins == 0


def test_totp_enrolment_then_sign_in_needs_the_code(server: LiveServer) -> None:
    admin = account_admin(server)
    with sign_in(server, admin) as http:
        started = http.post("/admin/api/me/totp").json()
        totp = pyotp.TOTP(started["secret"])
        wrong = http.post("/admin/api/me/totp/confirm", json={"code": "000000"})
        right = http.post("/admin/api/me/totp/confirm", json={"code": totp.now()})

    assert started["provisioning_uri"].startswith("otpauth://totp/credgate:")
    assert wrong.status_code == 400
    assert right.json() == {"totp_enabled": True}
    assert _sign_in(server, admin.email, admin.password) == 401
    assert _sign_in(server, admin.email, admin.password, "123456") == 401
    assert _sign_in(server, admin.email, admin.password, totp.now()) == 201
    assert _events(server, "admin.totp_enabled", admin.email)


def test_cli_creates_an_operator_from_standard_input(server: LiveServer) -> None:
    email = f"ops-{uuid.uuid4().hex[:6]}@example.com"

    result = cli(
        "admins",
        "create",
        "--email",
        email,
        "--operator",
        "--json",
        env=server.env,
        stdin=PASSWORD + "\n",
    )

    assert result.returncode == 0, result.stderr
    created = json.loads(result.stdout)
    assert (created["email"], created["role"]) == (email, "operator")
    assert _sign_in(server, email, PASSWORD) == 201


def test_cli_creates_an_account_admin_and_refuses_bad_input(server: LiveServer) -> None:
    account = server.account()
    email = f"acct-{uuid.uuid4().hex[:6]}@example.com"

    made = cli(
        "admins",
        "create",
        "--email",
        email,
        "--account",
        account,
        env=server.env,
        stdin=PASSWORD + "\n",
    )
    both = cli(
        "admins",
        "create",
        "--email",
        "x@example.com",
        "--operator",
        "--account",
        account,
        env=server.env,
        stdin=PASSWORD + "\n",
    )
    short = cli(
        "admins",
        "create",
        "--email",
        "y@example.com",
        "--operator",
        env=server.env,
        stdin="short\n",
    )
    missing = cli(
        "admins",
        "create",
        "--email",
        "z@example.com",
        "--account",
        "no-such-account",
        env=server.env,
        stdin=PASSWORD + "\n",
    )

    assert made.returncode == 0, made.stderr
    assert f"admin {email} created" in made.stdout
    assert both.returncode == short.returncode == missing.returncode == 1
    assert "exactly one of --operator and --account" in both.stderr
    assert "at least 12 characters" in short.stderr
    assert "needs an existing account" in missing.stderr
    assert PASSWORD not in made.stdout + made.stderr


def test_operator_sees_every_admin(server: LiveServer) -> None:
    operator: Admin = make_admin(server)
    other = account_admin(server)
    with sign_in(server, operator) as http:
        emails = {a["email"] for a in http.get("/admin/api/admins").json()}

    assert {operator.email, other.email} <= emails


def test_quickstart_prints_a_portal_sign_in_that_works(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CREDGATE_")}
    env["CREDGATE_DATA_DIR"] = str(tmp_path / "data")
    if os.environ.get("CREDGATE_TEST_DATABASE_URL"):
        pytest.skip("quickstart runs on its embedded SQLite database")
    process = subprocess.Popen(
        [sys.executable, "-m", "credgate", "quickstart", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        banner = _read_until(process, "  password  ")
        password = re.search(r"  password  (\S+)", banner).group(1)  # type: ignore[union-attr]
        ISSUED.secrets.append(re.search(r"CLIENT_SECRET=(\S+)", banner).group(1))  # type: ignore[union-attr]
        ca = tmp_path / "data" / "tls" / "ca.pem"
        with httpx.Client(verify=ssl.create_default_context(cafile=ca), timeout=10) as http:
            signed_in = _when_up(
                lambda: http.post(
                    f"https://127.0.0.1:{port}/admin/api/session",
                    json={"email": "admin@example.com", "password": password},
                )
            )
    finally:
        process.terminate()
        process.communicate(timeout=15)

    assert f"open https://127.0.0.1:{port}/admin/ and sign in" in banner
    assert signed_in.status_code == 201
    assert signed_in.json()["admin"]["role"] == "operator"


def _read_until(process: subprocess.Popen[str], marker: str) -> str:
    lines = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = process.stdout.readline()  # type: ignore[union-attr]
        lines.append(line)
        if marker in line or not line:
            break
    return "".join(lines)


def _when_up(call: Callable[[], httpx.Response]) -> httpx.Response:
    deadline = time.monotonic() + 30
    while True:
        try:
            return call()
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_changing_the_password_ends_the_other_sessions(server: LiveServer) -> None:
    admin = account_admin(server)
    new_password = "a much longer new password"
    with sign_in(server, admin) as elsewhere, sign_in(server, admin) as here:
        wrong = here.post(
            "/admin/api/me/password",
            json={"current_password": "not it at all", "new_password": new_password},
        )
        changed = here.post(
            "/admin/api/me/password",
            json={"current_password": admin.password, "new_password": new_password},
        )
        assert here.get("/admin/api/me").status_code == 200
        assert elsewhere.get("/admin/api/me").status_code == 401

    assert wrong.status_code == 400
    assert changed.status_code == 204
    assert _sign_in(server, admin.email, admin.password) == 401
    assert _sign_in(server, admin.email, new_password) == 201
    assert _events(server, "admin.password_changed", admin.email)


def test_disabling_an_account_ends_its_admins_sessions_and_keys(server: LiveServer) -> None:
    admin = account_admin(server)
    operator = make_admin(server)
    with sign_in(server, admin) as session_http, with_key(server, admin) as key_http:
        with sign_in(server, operator) as ops:
            ops.post(f"/admin/api/accounts/{admin.account_id}/disable")
            assert session_http.get("/admin/api/me").status_code == 401
            assert key_http.get("/admin/api/me").status_code == 401
            ops.post(f"/admin/api/accounts/{admin.account_id}/enable")
        assert session_http.get("/admin/api/me").status_code == 200
