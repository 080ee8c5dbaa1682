"""The portal's HTML pages over HTTP: sign-in, CSRF on forms, escaping, isolation, headers."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest

from admin_support import Admin, account_admin, create_client, sign_in
from conftest import LiveServer

XSS = "<script>alert(1)</script>"
PAGES = [
    "/admin/clients",
    "/admin/usage",
    "/admin/audit",
    "/admin/accounts",
    "/admin/keys",
    "/admin/profile",
]


def _csrf(page: httpx.Response) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert match, page.text[:500]
    return match.group(1)


@pytest.fixture()
def owner(server: LiveServer) -> Admin:
    return account_admin(server)


@pytest.fixture()
def browser(server: LiveServer, owner: Admin) -> Iterator[httpx.Client]:
    """A signed-in session, as a browser holds it: the cookie, no CSRF header."""
    with sign_in(server, owner) as http:
        del http.headers["X-CSRF-Token"]
        yield http


@pytest.mark.parametrize("path", [*PAGES, "/admin/", "/admin/clients/cgc_x"])
def test_pages_send_anonymous_visitors_to_sign_in(http: httpx.Client, path: str) -> None:
    response = http.get(path)

    assert response.status_code == 303
    assert response.headers["location"] == "/admin/signin"


def test_sign_in_form_signs_in_and_sets_the_session_cookie(
    http: httpx.Client, owner: Admin
) -> None:
    form = http.get("/admin/signin")
    body = {"csrf_token": _csrf(form), "email": owner.email, "password": owner.password}

    response = http.post("/admin/signin", data=body)

    assert response.status_code == 303
    assert response.headers["location"] == "/admin/clients"
    assert "httponly" in response.headers["set-cookie"].lower()
    assert http.get("/admin/clients").status_code == 200


def test_sign_in_form_refuses_a_post_without_its_token(http: httpx.Client, owner: Admin) -> None:
    response = http.post("/admin/signin", data={"email": owner.email, "password": owner.password})

    assert response.status_code == 403
    assert "The form expired" in response.text
    assert "credgate_admin=" not in response.headers.get("set-cookie", "")


def test_wrong_password_shows_the_form_again_with_a_plain_message(
    http: httpx.Client, owner: Admin
) -> None:
    form = http.get("/admin/signin")
    body = {"csrf_token": _csrf(form), "email": owner.email, "password": "nope nope nope"}

    response = http.post("/admin/signin", data=body)

    assert response.status_code == 401
    assert "Wrong email, password or code." in response.text
    assert f'value="{owner.email}"' in response.text
    assert "nope nope nope" not in response.text


@pytest.mark.parametrize("path", PAGES)
def test_every_page_renders_with_the_security_headers_and_no_inline_script(
    browser: httpx.Client, path: str
) -> None:
    response = browser.get(path)

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    policy = response.headers["content-security-policy"]
    assert "script-src 'self';" in policy
    assert "frame-ancestors 'none'" in policy
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", response.text)
    assert not re.search(r"\son[a-z]+=", response.text)  # no inline event handlers
    assert "http://" not in response.text and "https://cdn" not in response.text


def test_form_post_without_the_csrf_token_is_refused_and_changes_nothing(
    browser: httpx.Client,
) -> None:
    response = browser.post("/admin/clients", data={"name": "sneaky", "scope": "users:read"})

    assert response.status_code == 403
    assert "reload and retry" in response.text
    assert "sneaky" not in browser.get("/admin/clients").text


def test_new_client_page_shows_the_secret_once_and_the_list_escapes_names(
    server: LiveServer, browser: httpx.Client
) -> None:
    token = _csrf(browser.get("/admin/clients"))

    created = browser.post(
        "/admin/clients", data={"csrf_token": token, "name": XSS, "scope": "users:read"}
    )
    secret = server.remember_secret(
        re.search(r'id="client-secret" class="secret">([^<]+)<', created.text).group(1)  # type: ignore[union-attr]
    )
    client_id = re.search(r'id="client-id">([^<]+)<', created.text).group(1)  # type: ignore[union-attr]

    assert created.status_code == 200
    assert "shown only this once" in created.text
    assert created.headers["cache-control"] == "no-store"
    for page in (
        created,
        browser.get("/admin/clients"),
        browser.get(f"/admin/clients/{client_id}"),
    ):
        assert XSS not in page.text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    detail = browser.get(f"/admin/clients/{client_id}").text
    assert secret not in detail
    assert secret[-4:] in detail  # the hint


def test_client_page_shows_samples_for_the_client(
    server: LiveServer, browser: httpx.Client, owner: Admin
) -> None:
    with sign_in(server, owner) as api:
        created = create_client(api, server)

    page = browser.get(f"/admin/clients/{created['client_id']}").text

    for title in (
        "curl",
        "Python (requests)",
        "Node.js",
        "Java",
        "C#",
        "PHP",
        "Ruby",
        "Go",
        "Rust",
    ):
        assert title in page
    assert page.count(created["client_id"]) > 10
    assert created["client_secret"] not in page


def test_another_accounts_client_page_is_not_found_and_audited(
    server: LiveServer, browser: httpx.Client, owner: Admin
) -> None:
    other = account_admin(server)
    with sign_in(server, other) as api:
        theirs = create_client(api, server)
    token = _csrf(browser.get("/admin/clients"))

    page = browser.get(f"/admin/clients/{theirs['client_id']}")
    action = browser.post(
        f"/admin/clients/{theirs['client_id']}/status",
        data={"csrf_token": token, "enabled": "false"},
    )

    assert page.status_code == action.status_code == 404
    assert "not yours to see" in page.text
    assert theirs["name"] not in page.text
    with sign_in(server, owner) as api:
        denied = api.get("/admin/api/audit", params={"action": "admin.access_denied"}).json()
    assert [e["target"] for e in denied[:2]] == [theirs["client_id"]] * 2


def test_form_actions_change_the_client_and_say_so(
    server: LiveServer, browser: httpx.Client, owner: Admin
) -> None:
    with sign_in(server, owner) as api:
        created = create_client(api, server)
    path = f"/admin/clients/{created['client_id']}"
    token = _csrf(browser.get(path))

    edited = browser.post(
        f"{path}/edit",
        data={
            "csrf_token": token,
            "name": "Renamed",
            "scope": ["users:read", "users:write"],
            "token_ttl": "120",
        },
    )
    disabled = browser.post(f"{path}/status", data={"csrf_token": token, "enabled": "false"})
    invalid = browser.post(
        f"{path}/edit", data={"csrf_token": token, "name": "x", "token_ttl": "forever"}
    )

    assert edited.status_code == disabled.status_code == 303
    assert disabled.headers["location"] == f"{path}?done=disabled"
    page = browser.get(disabled.headers["location"]).text
    assert "The client is disabled" in page
    assert "Renamed" in page
    assert invalid.status_code == 400
    assert "the token lifetime must be a whole number" in invalid.text
    deleted = browser.post(f"{path}/delete", data={"csrf_token": token})
    assert deleted.headers["location"] == "/admin/clients"
    assert browser.get(path).status_code == 404


def test_sign_out_ends_the_session(browser: httpx.Client) -> None:
    token = _csrf(browser.get("/admin/clients"))

    response = browser.post("/admin/signout", data={"csrf_token": token})

    assert response.status_code == 303
    assert browser.get("/admin/clients").status_code == 303


def test_account_admin_cannot_use_operator_forms(browser: httpx.Client) -> None:
    token = _csrf(browser.get("/admin/accounts"))

    response = browser.post("/admin/accounts", data={"csrf_token": token, "name": "mine now"})

    assert response.status_code == 403
    assert "Only operators" in response.text


def test_vendored_chart_library_is_served_with_its_licence(http: httpx.Client) -> None:
    script = http.get("/admin/static/uPlot.iife.min.js")
    licence = http.get("/admin/static/uPlot.LICENSE")
    version = http.get("/admin/static/VENDORED")

    assert script.status_code == 200
    assert script.headers["content-type"].startswith("text/javascript")
    assert "uPlot" in script.text
    assert "MIT License" in licence.text
    assert "uplot@1.6.32" in version.text


def test_password_form_checks_the_repeat_and_changes_the_password(
    server: LiveServer, browser: httpx.Client, owner: Admin
) -> None:
    token = _csrf(browser.get("/admin/profile"))
    new = "another long password"

    differ = browser.post(
        "/admin/profile/password",
        data={
            "csrf_token": token,
            "current_password": owner.password,
            "new_password": new,
            "repeat_password": new + "!",
        },
    )
    changed = browser.post(
        "/admin/profile/password",
        data={
            "csrf_token": token,
            "current_password": owner.password,
            "new_password": new,
            "repeat_password": new,
        },
    )

    assert differ.status_code == 400
    assert "the two new passwords differ" in differ.text
    assert changed.headers["location"] == "/admin/profile?done=password_changed"
    assert "Your password is changed" in browser.get(changed.headers["location"]).text


def test_key_made_on_the_keys_page_is_shown_once_and_revoked_there(
    server: LiveServer, browser: httpx.Client
) -> None:
    token = _csrf(browser.get("/admin/keys"))

    made = browser.post("/admin/keys", data={"csrf_token": token, "name": "ci <deploy>"})
    key = server.remember_secret(
        re.search(r'id="new-key" class="secret">([^<]+)<', made.text).group(1)
    )  # type: ignore[union-attr]
    listed = browser.get("/admin/keys").text
    key_id = re.search(r'action="/admin/keys/([^/]+)/revoke"', listed).group(1)  # type: ignore[union-attr]
    with server.http() as api:
        api.headers["Authorization"] = f"Bearer {key}"
        before = api.get("/admin/api/me").status_code
        revoked = browser.post(f"/admin/keys/{key_id}/revoke", data={"csrf_token": token})
        after = api.get("/admin/api/me").status_code

    assert "shown only this once" in made.text
    assert key not in listed
    assert "ci &lt;deploy&gt;" in listed
    assert (before, revoked.status_code, after) == (200, 303, 401)


def test_admins_are_added_and_removed_on_the_accounts_page(
    server: LiveServer, browser: httpx.Client, owner: Admin
) -> None:
    token = _csrf(browser.get("/admin/accounts"))
    colleague = Admin(
        f"colleague-{owner.admin_id[:6]}@example.com",
        "colleague password",
        "account_admin",
        owner.account,
        owner.account_id,
        "",
    )

    added = browser.post(
        "/admin/admins",
        data={"csrf_token": token, "email": colleague.email, "password": colleague.password},
    )
    page = browser.get("/admin/accounts").text
    colleague_id = re.search(r'action="/admin/admins/([^/]+)/delete"', page).group(1)  # type: ignore[union-attr]
    with sign_in(server, colleague) as theirs:
        removed = browser.post(f"/admin/admins/{colleague_id}/delete", data={"csrf_token": token})
        assert theirs.get("/admin/api/me").status_code == 401

    assert added.headers["location"] == "/admin/accounts?done=admin_created"
    assert colleague.email in page
    assert removed.headers["location"] == "/admin/accounts?done=admin_deleted"
    assert colleague.email not in browser.get("/admin/accounts").text
