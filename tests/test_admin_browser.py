"""The Admin Portal in a real browser (Debian's Chromium, driven by Playwright).

An account admin signs in, creates a client, uses its secret, rotates it with an overlap,
revokes a token and finds every step in the audit log and the usage chart. Screenshots of the
main pages land in test-artifacts/ for a person to look at.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from admin_support import Admin, account_admin, make_admin, token_for
from conftest import LiveServer

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"

pytestmark = [
    pytest.mark.database_independent,
    pytest.mark.skipif(
        not CHROMIUM.exists() and not os.environ.get("CI"),
        reason="needs Debian's chromium (.ci/run installs it)",
    ),
]

playwright_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=["--no-sandbox", "--disable-background-networking"],
        )
        yield browser
        browser.close()


@pytest.fixture()
def page(browser, server: LiveServer):  # type: ignore[no-untyped-def]
    context = browser.new_context(
        base_url=server.base_url,
        ignore_https_errors=True,
        viewport={"width": 1360, "height": 900},
    )
    page = context.new_page()
    page.problems = []  # console errors (CSP violations among them) and dialogs
    page.on("console", lambda m: m.type == "error" and page.problems.append(m.text))
    page.on("pageerror", lambda e: page.problems.append(str(e)))
    yield page
    context.close()


def _seeded(function, *args):  # type: ignore[no-untyped-def]
    """Run a seeding helper in a thread: Playwright's own event loop holds this one."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(function, *args).result()


def _shot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"portal-{name}.png"), full_page=True)


def _sign_in(page, admin: Admin) -> None:  # type: ignore[no-untyped-def]
    page.goto("/admin/")
    assert page.url.endswith("/admin/signin")
    _shot(page, "signin")
    page.fill("input[name=email]", admin.email)
    page.fill("input[name=password]", admin.password)
    page.click("button[type=submit]")
    page.wait_for_url("**/admin/clients")


def _api_users(server: LiveServer, token: str, user_id: str) -> int:
    with server.http() as http:
        return http.get(
            f"/api/users/{user_id}", headers={"Authorization": f"Bearer {token}"}
        ).status_code


def _token(server: LiveServer, client_id: str, secret: str) -> httpx.Response:
    return token_for(server, client_id, secret)


def test_account_admin_runs_the_whole_credential_lifecycle(page, server: LiveServer) -> None:  # type: ignore[no-untyped-def]
    admin = _seeded(account_admin, server)
    user_id = _seeded(server.user, admin.account or "")
    page.on("dialog", lambda dialog: dialog.accept())
    _sign_in(page, admin)

    # Create a client; the secret is on the page once, with a warning.
    page.fill("#new-client-form input[name=name]", "Billing sync")
    page.fill("#new-client-form input[name=token_ttl]", "900")
    page.click("#new-client-form button[type=submit]")
    page.wait_for_selector("#client-secret")
    assert "shown only this once" in page.inner_text(".alert-warn")
    client_id = page.inner_text("#client-id")
    secret = server.remember_secret(page.inner_text("#client-secret"))
    _shot(page, "client-created")

    first = _token(server, client_id, secret)
    assert first.status_code == 200
    assert _api_users(server, first.json()["access_token"], user_id) == 200

    # Rotate with a short overlap: both secrets work, then only the new one.
    page.click("text=I have copied it")
    page.wait_for_selector("#rotate-form")
    page.fill("#rotate-form input[name=grace_custom]", "3")
    page.click("#rotate-form button[type=submit]")
    page.wait_for_selector("#client-secret")
    rotated_at = time.monotonic()
    new_secret = server.remember_secret(page.inner_text("#client-secret"))
    assert new_secret != secret
    assert "keep working for 3 seconds" in page.inner_text("main")
    assert _token(server, client_id, secret).status_code == 200
    second = _token(server, client_id, new_secret)
    assert second.status_code == 200
    time.sleep(max(0.0, 3.3 - (time.monotonic() - rotated_at)))
    assert _token(server, client_id, secret).status_code == 401
    assert _token(server, client_id, new_secret).status_code == 200

    # Revoke the token from the page; the API refuses it at once.
    token_id = second.json()["token_id"]
    page.goto(f"/admin/clients/{client_id}")
    page.click(f"tr[data-token-id='{token_id}'] button")
    page.wait_for_selector("text=The token is revoked")
    assert page.locator(f"tr[data-token-id='{token_id}']").count() == 0
    assert _api_users(server, second.json()["access_token"], user_id) == 401

    # The usage chart is drawn once the counts are flushed (every 2 seconds).
    time.sleep(2.5)
    page.reload()
    page.wait_for_selector(".chart canvas")
    chart = page.locator(".chart")
    assert chart.get_attribute("data-drawn") == "24h"
    assert chart.get_attribute("data-points") == "24"
    assert int(page.inner_text("[data-total=issued]")) >= 4
    assert page.locator("#secrets-table tbody tr").count() == 2
    _shot(page, "client")
    page.click(".seg[data-period='30d']")
    assert chart.get_attribute("data-drawn") == "30d"
    assert chart.get_attribute("data-points") == "30"

    # Every step is in the audit log.
    page.goto(f"/admin/audit?client_id={client_id}")
    log = page.inner_text("#audit-table")
    for action in ("client.created", "secret.rotated", "token.revoked"):
        assert action in log
    assert f"admin:{admin.email}" in log
    _shot(page, "audit")
    page.goto("/admin/audit?action=admin.signed_in")
    assert admin.email in page.inner_text("#audit-table")

    page.goto("/admin/usage")
    page.wait_for_selector(".chart canvas")
    _shot(page, "usage")
    for name in ("clients", "accounts", "keys"):
        page.goto(f"/admin/{name}")
        _shot(page, name)
    assert page.problems == []


def test_markup_in_a_client_name_is_shown_as_text(page, server: LiveServer) -> None:  # type: ignore[no-untyped-def]
    admin = _seeded(account_admin, server)
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    _sign_in(page, admin)

    page.fill("#new-client-form input[name=name]", "<script>alert(1)</script>")
    page.click("#new-client-form button[type=submit]")
    page.wait_for_selector("#client-secret")
    server.remember_secret(page.inner_text("#client-secret"))
    page.goto("/admin/clients")

    assert page.inner_text("#clients-table a.strong") == "<script>alert(1)</script>"
    assert dialogs == []
    assert page.problems == []


def test_copy_button_puts_the_secret_on_the_clipboard(page, server: LiveServer) -> None:  # type: ignore[no-untyped-def]
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    _sign_in(page, _seeded(account_admin, server))
    page.fill("#new-client-form input[name=name]", "Clipboard")
    page.click("#new-client-form button[type=submit]")
    secret = server.remember_secret(page.inner_text("#client-secret"))

    page.click("button[data-copy='#client-secret']")

    assert page.evaluate("navigator.clipboard.readText()") == secret
    assert page.inner_text("button[data-copy='#client-secret']") == "Copied"


def test_operator_sees_every_account_and_filters_by_one(page, server: LiveServer) -> None:  # type: ignore[no-untyped-def]
    seeded = [_seeded(server.client) for _ in range(2)]
    names = {s.account for s in seeded}
    _sign_in(page, _seeded(make_admin, server))

    listed = page.inner_text("#clients-table")
    assert all(s.client_id in listed for s in seeded)
    _shot(page, "clients-operator")
    page.select_option("select[data-autosubmit]", label=seeded[0].account)
    page.wait_for_url("**/admin/clients?account_id=*")
    filtered = page.inner_text("#clients-table")
    assert seeded[0].client_id in filtered
    assert seeded[1].client_id not in filtered

    page.goto("/admin/accounts")
    assert names <= set(page.inner_text("#accounts-table").split())
    _shot(page, "accounts-operator")
    assert page.problems == []
