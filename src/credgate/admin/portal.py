"""The Admin Portal's HTML pages under /admin: plain forms, Jinja2 templates, no inline script.

Every page is rendered on the server with autoescaping, so any text an admin typed shows as
text. Every form carries the session's CSRF token. Actions call the same ``management``
functions as the CLI and the admin API, through the same tenant checks (``access``).
"""

from __future__ import annotations

import functools
import hmac
import secrets
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import FormData
from starlette.responses import HTMLResponse, RedirectResponse, Response

from credgate import management
from credgate.admin import access, api_keys, auth
from credgate.admin.api import set_session_cookie
from credgate.admin.audit import AuditFilter, search_events
from credgate.admin.auth import Principal
from credgate.admin.csrf import FORM_FIELD, validate_csrf
from credgate.admin.errors import CsrfRejected, Forbidden
from credgate.admin.views import iso, secret_state
from credgate.management import ManagementError
from credgate.oauth2.endpoints import client_address, runtime_of
from credgate.oauth2.errors import NotFound
from credgate.samples import integration_samples
from credgate.storage import clients as client_store
from credgate.storage.models import Account, Client, utcnow
from credgate.usage import usage_series

if TYPE_CHECKING:
    from jinja2 import Environment

HERE = Path(__file__).resolve().parent
SIGNIN_COOKIE = "credgate_signin"

router = APIRouter(prefix="/admin", include_in_schema=False)


class SignInRedirect(Exception):
    """No live session: the browser is sent to the sign-in page."""


class PageNotFound(Exception):
    """Shown as the portal's own 404 page rather than the API's JSON."""


class PageForbidden(Exception):
    """Shown as the portal's own 403 page, with the reason."""


def _when(moment: datetime | None) -> str:
    return "—" if moment is None else moment.strftime("%Y-%m-%d %H:%M UTC")


def _ago(moment: datetime | None) -> str:
    if moment is None:
        return "never"
    seconds = int((utcnow() - moment).total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if abs(seconds) >= size:
            return f"{seconds // size} {unit} ago"
    return "just now"


def _duration(seconds: int) -> str:
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds % size == 0 and seconds >= size:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{seconds} seconds"


@functools.cache
def _templates() -> Environment:
    # Made at the first page rendered: a server that never shows the portal, as most of its
    # workers never do, does not hold Jinja2 in memory.
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    templates = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(["html"], default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    templates.filters["when"] = _when
    templates.filters["ago"] = _ago
    templates.filters["duration"] = _duration
    templates.filters["iso"] = iso
    return templates


def render(
    request: Request,
    name: str,
    principal: Principal | None = None,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    template = _templates().get_template(name)
    page = template.render(
        request=request,
        me=principal,
        csrf_token=principal.csrf_token if principal else None,
        path=request.url.path,
        **context,
    )
    return HTMLResponse(page, status_code=status_code)


# --- Who is signed in ---------------------------------------------------------------------


async def _principal(request: Request) -> Principal:
    principal = await access.find_principal(request)
    if principal is None or principal.via != "session":
        raise SignInRedirect()
    return principal


async def _form(request: Request) -> tuple[Principal, FormData]:
    """The principal of a form post, after its CSRF token was checked."""
    principal = await _principal(request)
    form = await request.form()
    presented = form.get(FORM_FIELD)
    try:
        validate_csrf(principal.csrf_token, presented if isinstance(presented, str) else None)
    except CsrfRejected:
        raise PageForbidden("The form expired or came from elsewhere: reload and retry.") from None
    return principal, form


def _text(form: FormData, name: str, default: str = "") -> str:
    value = form.get(name, default)
    return value.strip() if isinstance(value, str) else default


def _number(form: FormData, name: str, default: int | None = None) -> int | None:
    value = _text(form, name)
    if not value:
        return default
    try:
        return int(value)
    except ValueError:
        label = _FIELD_LABELS.get(name, name)
        raise ManagementError(f"{label} must be a whole number") from None


_FIELD_LABELS = {
    "token_ttl": "the token lifetime",
    "grace_seconds": "the overlap",
    "grace_custom": "the overlap",
    "expires_days": "the expiry",
}


async def _found(lookup: Awaitable[Any]) -> Any:
    try:
        return await lookup
    except NotFound:
        raise PageNotFound() from None


def _back(url: str, notice: str | None = None) -> RedirectResponse:
    # Only fixed notice keys travel in the URL; the page maps them to its own sentences.
    target = url if notice is None else f"{url}?done={notice}"
    return RedirectResponse(target, status_code=303)


NOTICES = {
    "updated": "Changes saved.",
    "disabled": "The client is disabled: it cannot get tokens, and its live tokens ended.",
    "enabled": "The client is enabled again.",
    "secret_revoked": "The secret is revoked.",
    "token_revoked": "The token is revoked: calls with it are refused from now on.",
    "tokens_revoked": "Every live token of this client is revoked.",
    "deleted": "The client is deleted.",
    "account_created": "The account is created.",
    "account_disabled": "The account is disabled, with all its clients.",
    "account_enabled": "The account is enabled; enable its clients one by one.",
    "key_revoked": "The key is revoked.",
    "admin_created": "The admin can now sign in.",
    "admin_deleted": "The admin is removed and signed out.",
    "totp_enabled": "Two-factor sign-in is on.",
    "password_changed": "Your password is changed; your other sessions are signed out.",
}


# --- Sign in and out ----------------------------------------------------------------------


def _signin_token(request: Request, value: str) -> str:
    return runtime_of(request).hasher.hash("signin:" + value)


@router.get("/signin")
async def signin_page(request: Request) -> Response:
    return _signin_form(request)


def _signin_form(
    request: Request, error: str | None = None, email: str = "", status_code: int = 200
) -> Response:
    # Login CSRF: a double-submit token tied to a cookie set with this very form.
    value = secrets.token_urlsafe(24)
    response = render(
        request,
        "signin.html",
        status_code=status_code,
        signin_token=_signin_token(request, value),
        error=error,
        email=email,
    )
    response.set_cookie(
        SIGNIN_COOKIE, value, secure=True, httponly=True, samesite="strict", path="/admin"
    )
    return response


@router.post("/signin")
async def signin(request: Request) -> Response:
    form = await request.form()
    cookie = request.cookies.get(SIGNIN_COOKIE, "")
    presented = _text(form, FORM_FIELD)
    email = _text(form, "email")
    if not cookie or not hmac.compare_digest(presented, _signin_token(request, cookie)):
        return _signin_form(request, "The form expired: please sign in again.", email, 403)
    try:
        signed_in = await auth.sign_in(
            runtime_of(request),
            email,
            str(form.get("password", "")),
            _text(form, "totp_code") or None,
            client_address(request),
        )
    except auth.SignInFailed as exc:
        return _signin_form(request, str(exc).capitalize() + ".", email, 401)
    response = _back("/admin/clients")
    set_session_cookie(response, signed_in.cookie_value)
    response.delete_cookie(SIGNIN_COOKIE, path="/admin")
    return response


@router.post("/signout")
async def signout(request: Request) -> Response:
    principal, _ = await _form(request)
    cookie = request.cookies.get(access.SESSION_COOKIE, "")
    await auth.sign_out(runtime_of(request), cookie, principal)
    response = _back("/admin/signin")
    response.delete_cookie(access.SESSION_COOKIE, path="/admin", secure=True, httponly=True)
    return response


@router.get("/")
async def home(request: Request) -> Response:
    await _principal(request)
    return _back("/admin/clients")


# --- Clients ------------------------------------------------------------------------------


async def _accounts_in_reach(request: Request, principal: Principal) -> list[Account]:
    accounts = await management.list_accounts(runtime_of(request))
    return [a for a in accounts if principal.reaches(a.id)]


@router.get("/clients")
async def clients_page(request: Request, account_id: str | None = None) -> Response:
    principal = await _principal(request)
    return await _clients_page(request, principal, account_id)


async def _clients_page(
    request: Request,
    principal: Principal,
    account_id: str | None,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    runtime = runtime_of(request)
    scoped = await _found(access.scoped_account_id(request, principal, account_id or None))
    async with runtime.sessions() as session:
        if scoped is None:
            clients = list(await client_store.list_all_clients(session))
        else:
            clients = list(await client_store.list_clients(session, scoped))
    accounts = await _accounts_in_reach(request, principal)
    return render(
        request,
        "clients.html",
        principal,
        status_code=status_code,
        clients=clients,
        accounts=accounts,
        account_names={a.id: a.name for a in accounts},
        selected_account=scoped,
        scopes=runtime.settings.scopes,
        default_ttl=runtime.settings.default_token_ttl,
        error=error,
    )


@router.post("/clients")
async def create_client(request: Request) -> Response:
    principal, form = await _form(request)
    account_id = _text(form, "account_id") or principal.account_id or ""
    try:
        account = await _found(access.account_in_reach(request, principal, account_id))
        new = await management.create_client(
            runtime_of(request),
            account_name=account.name,
            name=_text(form, "name"),
            scope=" ".join(str(s) for s in form.getlist("scope")),
            token_ttl=_number(form, "token_ttl"),
            actor=principal.actor,
            source_address=client_address(request),
        )
    except ManagementError as exc:
        return await _clients_page(request, principal, None, str(exc), 400)
    return render(
        request,
        "secret_once.html",
        principal,
        client=new.client,
        client_secret=new.client_secret,
        created=True,
    )


async def _client_for(request: Request, principal: Principal, client_id: str) -> Client:
    client: Client = await _found(access.client_in_reach(request, principal, client_id))
    return client


@router.get("/clients/{client_id}")
async def client_page(request: Request, client_id: str, done: str | None = None) -> Response:
    principal = await _principal(request)
    client = await _client_for(request, principal, client_id)
    return await _client_page(request, principal, client, notice=NOTICES.get(done or ""))


async def _client_page(
    request: Request,
    principal: Principal,
    client: Client,
    *,
    notice: str | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    runtime = runtime_of(request)
    secrets_ = await management.list_secrets(runtime, client.client_id)
    tokens = await management.list_live_tokens(runtime, client.client_id)
    base_url = str(request.base_url).rstrip("/")
    return render(
        request,
        "client.html",
        principal,
        status_code=status_code,
        client=client,
        secrets=[(s, secret_state(s)) for s in reversed(secrets_)],
        tokens=tokens,
        samples=integration_samples(base_url, client.client_id),
        scopes=runtime.settings.scopes,
        usage=await _usage(request, client_id=client.client_id),
        notice=notice,
        error=error,
    )


async def _client_action(
    request: Request,
    client_id: str,
    action: Callable[[Principal, FormData, Client], Awaitable[str]],
) -> Response:
    """Run a form action on a client: back to its page with a notice, or with the error."""
    principal, form = await _form(request)
    client = await _client_for(request, principal, client_id)
    try:
        notice = await action(principal, form, client)
    except ManagementError as exc:
        return await _client_page(request, principal, client, error=str(exc), status_code=400)
    if notice == "deleted":
        return _back("/admin/clients")
    return _back(f"/admin/clients/{client_id}", notice)


@router.post("/clients/{client_id}/edit")
async def edit_client(request: Request, client_id: str) -> Response:
    async def edit(principal: Principal, form: FormData, client: Client) -> str:
        await management.update_client(
            runtime_of(request),
            client.client_id,
            name=_text(form, "name"),
            scope=" ".join(str(s) for s in form.getlist("scope")),
            token_ttl=_number(form, "token_ttl"),
            actor=principal.actor,
            source_address=client_address(request),
        )
        return "updated"

    return await _client_action(request, client_id, edit)


@router.post("/clients/{client_id}/status")
async def client_status(request: Request, client_id: str) -> Response:
    async def change(principal: Principal, form: FormData, client: Client) -> str:
        enabled = _text(form, "enabled") == "true"
        await management.set_client_enabled(
            runtime_of(request),
            client.client_id,
            enabled,
            actor=principal.actor,
            source_address=client_address(request),
        )
        return "enabled" if enabled else "disabled"

    return await _client_action(request, client_id, change)


@router.post("/clients/{client_id}/delete")
async def delete_client(request: Request, client_id: str) -> Response:
    async def delete(principal: Principal, form: FormData, client: Client) -> str:
        await management.delete_client(
            runtime_of(request),
            client.client_id,
            actor=principal.actor,
            source_address=client_address(request),
        )
        return "deleted"

    return await _client_action(request, client_id, delete)


@router.post("/clients/{client_id}/secrets")
async def rotate_secret(request: Request, client_id: str) -> Response:
    principal, form = await _form(request)
    client = await _client_for(request, principal, client_id)
    try:
        grace = _number(form, "grace_custom")
        grace = _number(form, "grace_seconds", 0) if grace is None else grace
        expires_days = _number(form, "expires_days")
        expires_at = None if not expires_days else utcnow() + timedelta(days=expires_days)
        new = await management.rotate_secret(
            runtime_of(request),
            client.client_id,
            grace=grace or 0,
            expires_at=expires_at,
            actor=principal.actor,
            source_address=client_address(request),
        )
    except ManagementError as exc:
        return await _client_page(request, principal, client, error=str(exc), status_code=400)
    return render(
        request,
        "secret_once.html",
        principal,
        client=client,
        client_secret=new.client_secret,
        created=False,
        grace=grace or 0,
    )


@router.post("/clients/{client_id}/secrets/{secret_id}/revoke")
async def revoke_secret(request: Request, client_id: str, secret_id: str) -> Response:
    async def revoke(principal: Principal, form: FormData, client: Client) -> str:
        await _found(access.secret_in_reach(request, principal, client, secret_id))
        await management.revoke_secret(
            runtime_of(request),
            client.client_id,
            secret_id,
            end_tokens=_text(form, "end_tokens", "true") == "true",
            actor=principal.actor,
            source_address=client_address(request),
        )
        return "secret_revoked"

    return await _client_action(request, client_id, revoke)


@router.post("/clients/{client_id}/tokens/{token_id}/revoke")
async def revoke_token(request: Request, client_id: str, token_id: str) -> Response:
    async def revoke(principal: Principal, form: FormData, client: Client) -> str:
        await _found(access.token_in_reach(request, principal, client, token_id))
        await management.revoke_token(
            runtime_of(request),
            token_id,
            actor=principal.actor,
            source_address=client_address(request),
        )
        return "token_revoked"

    return await _client_action(request, client_id, revoke)


@router.post("/clients/{client_id}/tokens/revoke-all")
async def revoke_all_tokens(request: Request, client_id: str) -> Response:
    async def revoke(principal: Principal, form: FormData, client: Client) -> str:
        await management.revoke_client_tokens(
            runtime_of(request),
            client.client_id,
            actor=principal.actor,
            source_address=client_address(request),
        )
        return "tokens_revoked"

    return await _client_action(request, client_id, revoke)


# --- Usage --------------------------------------------------------------------------------


async def _usage(
    request: Request, *, account_id: str | None = None, client_id: str | None = None
) -> dict[str, Any]:
    runtime = runtime_of(request)
    now = utcnow()
    hourly = await usage_series(runtime, "24h", now, account_id=account_id, client_id=client_id)
    daily = await usage_series(runtime, "30d", now, account_id=account_id, client_id=client_id)
    return {
        "24h": hourly.as_dict(),
        "30d": daily.as_dict(),
        "totals": {
            "issued_24h": sum(hourly.tokens_issued),
            "failures_24h": sum(hourly.auth_failures),
            "issued_30d": sum(daily.tokens_issued),
            "failures_30d": sum(daily.auth_failures),
        },
    }


@router.get("/usage")
async def usage_page(request: Request, account_id: str | None = None) -> Response:
    principal = await _principal(request)
    scoped = await _found(access.scoped_account_id(request, principal, account_id or None))
    accounts = await _accounts_in_reach(request, principal)
    return render(
        request,
        "usage.html",
        principal,
        accounts=accounts,
        selected_account=scoped,
        usage=await _usage(request, account_id=scoped),
    )


# --- Audit --------------------------------------------------------------------------------


@router.get("/audit")
async def audit_page(
    request: Request,
    account_id: str | None = None,
    client_id: str | None = None,
    actor: str | None = None,
    action: str | None = None,
) -> Response:
    principal = await _principal(request)
    scoped = await _found(access.scoped_account_id(request, principal, account_id or None))
    criteria = AuditFilter(scoped, client_id or None, actor or None, action or None, 200)
    events = await search_events(runtime_of(request), criteria)
    accounts = await _accounts_in_reach(request, principal)
    return render(
        request,
        "audit.html",
        principal,
        events=events,
        accounts=accounts,
        account_names={a.id: a.name for a in accounts},
        filters={
            "account_id": scoped or "",
            "client_id": client_id or "",
            "actor": actor or "",
            "action": action or "",
        },
    )


# --- Accounts and admins ------------------------------------------------------------------


@router.get("/accounts")
async def accounts_page(request: Request, done: str | None = None) -> Response:
    principal = await _principal(request)
    return await _accounts_page(request, principal, notice=NOTICES.get(done or ""))


async def _accounts_page(
    request: Request,
    principal: Principal,
    *,
    notice: str | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    account_id = None if principal.is_operator else principal.account_id
    admins = await auth.list_admins(runtime_of(request), account_id)
    accounts = await _accounts_in_reach(request, principal)
    return render(
        request,
        "accounts.html",
        principal,
        status_code=status_code,
        accounts=accounts,
        account_names={a.id: a.name for a in accounts},
        admins=admins,
        notice=notice,
        error=error,
    )


async def _accounts_action(
    request: Request, action: Callable[[Principal, FormData], Awaitable[str]]
) -> Response:
    principal, form = await _form(request)
    try:
        notice = await action(principal, form)
    except ManagementError as exc:
        return await _accounts_page(request, principal, error=str(exc), status_code=400)
    except Forbidden:
        raise PageForbidden("Only operators may do this.") from None
    return _back("/admin/accounts", notice)


@router.post("/accounts")
async def create_account(request: Request) -> Response:
    async def create(principal: Principal, form: FormData) -> str:
        access.require_operator(principal)
        await management.create_account(
            runtime_of(request),
            _text(form, "name"),
            actor=principal.actor,
            source_address=client_address(request),
        )
        return "account_created"

    return await _accounts_action(request, create)


@router.post("/accounts/{account_id}/status")
async def account_status(request: Request, account_id: str) -> Response:
    async def change(principal: Principal, form: FormData) -> str:
        await _found(access.account_in_reach(request, principal, account_id))
        access.require_operator(principal)
        enabled = _text(form, "enabled") == "true"
        await management.set_account_enabled(
            runtime_of(request),
            account_id,
            enabled,
            actor=principal.actor,
            source_address=client_address(request),
        )
        return "account_enabled" if enabled else "account_disabled"

    return await _accounts_action(request, change)


@router.post("/admins")
async def create_admin(request: Request) -> Response:
    async def create(principal: Principal, form: FormData) -> str:
        role = _text(form, "role", auth.ACCOUNT_ADMIN)
        account_id = _text(form, "account_id") or principal.account_id
        if role == auth.OPERATOR:
            access.require_operator(principal)
            account_id = None
        elif account_id is not None:
            await _found(access.account_in_reach(request, principal, account_id))
        await auth.create_admin(
            runtime_of(request),
            email=_text(form, "email"),
            password=str(form.get("password", "")),
            role=role,
            account_id=account_id,
            actor=principal.actor,
            source_address=client_address(request),
        )
        return "admin_created"

    return await _accounts_action(request, create)


@router.post("/admins/{admin_id}/delete")
async def delete_admin(request: Request, admin_id: str) -> Response:
    async def delete(principal: Principal, form: FormData) -> str:
        admin = await _found(access.admin_in_reach(request, principal, admin_id))
        if admin.id == principal.admin_id:
            raise ManagementError("you cannot remove yourself")
        await auth.delete_admin(
            runtime_of(request),
            admin,
            actor=principal.actor,
            source_address=client_address(request),
        )
        return "admin_deleted"

    return await _accounts_action(request, delete)


# --- API keys and profile -----------------------------------------------------------------


@router.get("/keys")
async def keys_page(request: Request, done: str | None = None) -> Response:
    principal = await _principal(request)
    return await _keys_page(request, principal, notice=NOTICES.get(done or ""))


async def _keys_page(
    request: Request,
    principal: Principal,
    *,
    notice: str | None = None,
    error: str | None = None,
    new_key: str | None = None,
    status_code: int = 200,
) -> Response:
    keys = await api_keys.list_api_keys(runtime_of(request), principal)
    return render(
        request,
        "keys.html",
        principal,
        status_code=status_code,
        keys=list(reversed(keys)),
        notice=notice,
        error=error,
        new_key=new_key,
    )


@router.post("/keys")
async def create_key(request: Request) -> Response:
    principal, form = await _form(request)
    try:
        new = await api_keys.create_api_key(
            runtime_of(request),
            principal,
            _text(form, "name"),
            source_address=client_address(request),
        )
    except ManagementError as exc:
        return await _keys_page(request, principal, error=str(exc), status_code=400)
    return await _keys_page(request, principal, new_key=new.value)


@router.post("/keys/{key_id}/revoke")
async def revoke_key(request: Request, key_id: str) -> Response:
    principal, _ = await _form(request)
    try:
        revoked = await api_keys.revoke_api_key(
            runtime_of(request), principal, key_id, source_address=client_address(request)
        )
    except ManagementError as exc:
        return await _keys_page(request, principal, error=str(exc), status_code=400)
    if not revoked:
        await access.deny(request, principal, "key", key_id, None)
        raise PageNotFound()
    return _back("/admin/keys", "key_revoked")


@router.get("/profile")
async def profile_page(request: Request, done: str | None = None) -> Response:
    principal = await _principal(request)
    admin = await auth.find_admin(runtime_of(request), principal.admin_id)
    return render(request, "profile.html", principal, admin=admin, notice=NOTICES.get(done or ""))


@router.post("/profile/totp")
async def start_totp(request: Request) -> Response:
    principal, _ = await _form(request)
    admin = await auth.find_admin(runtime_of(request), principal.admin_id)
    try:
        seed = await auth.start_totp_enrolment(runtime_of(request), principal)
    except ManagementError as exc:
        return render(request, "profile.html", principal, admin=admin, error=str(exc))
    return render(
        request,
        "profile.html",
        principal,
        admin=admin,
        totp_secret=seed,
        totp_uri=auth.totp_provisioning_uri(seed, principal.email),
    )


@router.post("/profile/totp/confirm")
async def confirm_totp(request: Request) -> Response:
    principal, form = await _form(request)
    try:
        await auth.confirm_totp_enrolment(
            runtime_of(request), principal, _text(form, "code"), client_address(request)
        )
    except ManagementError as exc:
        admin = await auth.find_admin(runtime_of(request), principal.admin_id)
        return render(
            request, "profile.html", principal, admin=admin, error=str(exc), status_code=400
        )
    return _back("/admin/profile", "totp_enabled")


@router.post("/profile/password")
async def change_password(request: Request) -> Response:
    principal, form = await _form(request)
    try:
        if str(form.get("new_password", "")) != str(form.get("repeat_password", "")):
            raise ManagementError("the two new passwords differ")
        await auth.change_password(
            runtime_of(request),
            principal,
            str(form.get("current_password", "")),
            str(form.get("new_password", "")),
            keep_session=request.cookies.get(access.SESSION_COOKIE),
            source_address=client_address(request),
        )
    except ManagementError as exc:
        admin = await auth.find_admin(runtime_of(request), principal.admin_id)
        return render(
            request, "profile.html", principal, admin=admin, error=str(exc), status_code=400
        )
    return _back("/admin/profile", "password_changed")


# --- Errors and installation --------------------------------------------------------------


async def _to_signin(request: Request, exc: Exception) -> Response:
    return _back("/admin/signin")


async def _not_found(request: Request, exc: Exception) -> Response:
    principal = await access.find_principal(request)
    return render(request, "not_found.html", principal, status_code=404)


async def _forbidden(request: Request, exc: Exception) -> Response:
    principal = await access.find_principal(request)
    return render(request, "forbidden.html", principal, status_code=403, reason=str(exc))


def install(app: FastAPI) -> None:
    app.include_router(router)
    app.mount("/admin/static", StaticFiles(directory=HERE / "static"), name="admin-static")
    app.add_exception_handler(SignInRedirect, _to_signin)
    app.add_exception_handler(PageNotFound, _not_found)
    app.add_exception_handler(PageForbidden, _forbidden)
