"""The admin REST API under /admin/api: the portal's actions as JSON.

Callers authenticate with an admin API key (``Authorization: Bearer cgk_...``) or with the
portal's session cookie plus the ``X-CSRF-Token`` header on mutating calls. Operators reach
every account; an account admin only their own, and anything else answers 404 and is audited.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field
from starlette.responses import JSONResponse, Response

from credgate import management
from credgate.admin import access, api_keys, auth
from credgate.admin.access import require_principal
from credgate.admin.audit import AuditFilter, search_events
from credgate.admin.auth import Principal
from credgate.admin.csrf import csrf_token_for
from credgate.admin.errors import SignInRequired
from credgate.admin.views import (
    account_view,
    admin_view,
    api_key_view,
    client_view,
    event_view,
    secret_view,
    token_view,
)
from credgate.oauth2.endpoints import NO_STORE, client_address, no_store_json, runtime_of
from credgate.oauth2.errors import InvalidRequest
from credgate.samples import integration_samples
from credgate.storage import clients as client_store
from credgate.storage.models import utcnow
from credgate.usage import usage_series

PREFIX = "/admin/api"

SECURITY: list[dict[str, list[str]]] = [{"adminApiKey": []}, {"adminSession": []}]
SECURITY_SCHEMES = {
    "adminApiKey": {
        "type": "http",
        "scheme": "bearer",
        "description": "An admin API key (`cgk_...`), created in the portal.",
    },
    "adminSession": {
        "type": "apiKey",
        "in": "cookie",
        "name": access.SESSION_COOKIE,
        "description": "The portal's session; mutating calls also need `X-CSRF-Token`.",
    },
}

_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "Invalid input (`invalid_request`), with the reason."},
    401: {"description": "No session or API key, or one that ended (`unauthenticated`)."},
    403: {"description": "CSRF token missing (`csrf_failed`) or operators only (`forbidden`)."},
    404: {"description": "No such thing, or it belongs to another account (`not_found`)."},
}

router = APIRouter(
    prefix=PREFIX,
    tags=["Admin"],
    responses=_ERRORS,
    dependencies=[Depends(require_principal)],
)
session_router = APIRouter(prefix=PREFIX, tags=["Admin"], responses=_ERRORS)

PrincipalDep = Annotated[Principal, Depends(require_principal)]


def _json(body: Any, status_code: int = 200) -> JSONResponse:
    return no_store_json(body, status_code)


def _source(request: Request) -> str | None:
    return client_address(request)


# --- Session ------------------------------------------------------------------------------


class SignInBody(BaseModel):
    email: str = Field(max_length=320)
    password: str = Field(max_length=1024)
    totp_code: str | None = Field(default=None, max_length=10)


@session_router.post("/session", summary="Sign in", status_code=201)
async def create_session(request: Request, body: SignInBody) -> JSONResponse:
    """Open a portal session: sets the session cookie and returns the CSRF token."""
    runtime = runtime_of(request)
    try:
        signed_in = await auth.sign_in(
            runtime, body.email, body.password, body.totp_code, _source(request)
        )
    except auth.SignInFailed as exc:
        raise SignInRequired(str(exc)) from None
    csrf = csrf_token_for(runtime.hasher, signed_in.cookie_value)
    response = _json({"admin": admin_view(signed_in.admin), "csrf_token": csrf}, 201)
    set_session_cookie(response, signed_in.cookie_value)
    return response


def set_session_cookie(response: Response, value: str) -> None:
    # No max_age: a browser session cookie; the server ends it after inactivity anyway.
    response.set_cookie(
        access.SESSION_COOKIE, value, secure=True, httponly=True, samesite="strict", path="/admin"
    )


@router.delete("/session", summary="Sign out", status_code=204)
async def delete_session(request: Request, principal: PrincipalDep) -> Response:
    cookie = request.cookies.get(access.SESSION_COOKIE)
    if principal.via == "session" and cookie:
        await auth.sign_out(runtime_of(request), cookie, principal)
    response = Response(status_code=204, headers=NO_STORE)
    response.delete_cookie(access.SESSION_COOKIE, path="/admin", secure=True, httponly=True)
    return response


@router.get("/me", summary="The signed-in admin")
async def me(principal: PrincipalDep) -> JSONResponse:
    return _json(
        {
            "admin_id": principal.admin_id,
            "email": principal.email,
            "role": principal.role,
            "account_id": principal.account_id,
            "via": principal.via,
        }
    )


class TotpCode(BaseModel):
    code: str = Field(min_length=6, max_length=10)


@router.post("/me/totp", summary="Start two-factor enrolment", status_code=201)
async def start_totp(request: Request, principal: PrincipalDep) -> JSONResponse:
    """A new TOTP seed for the authenticator app; sign-in asks for codes once confirmed."""
    seed = await auth.start_totp_enrolment(runtime_of(request), principal)
    uri = auth.totp_provisioning_uri(seed, principal.email)
    return _json({"secret": seed, "provisioning_uri": uri}, 201)


@router.post("/me/totp/confirm", summary="Confirm two-factor enrolment with a code")
async def confirm_totp(request: Request, principal: PrincipalDep, body: TotpCode) -> JSONResponse:
    await auth.confirm_totp_enrolment(runtime_of(request), principal, body.code, _source(request))
    return _json({"totp_enabled": True})


class PasswordChange(BaseModel):
    current_password: str = Field(max_length=1024)
    new_password: str = Field(min_length=auth.MIN_PASSWORD_LENGTH, max_length=1024)


@router.post("/me/password", summary="Change one's own password", status_code=204)
async def change_password(
    request: Request, principal: PrincipalDep, body: PasswordChange
) -> Response:
    """Every other session of this admin ends; the calling session stays signed in."""
    await auth.change_password(
        runtime_of(request),
        principal,
        body.current_password,
        body.new_password,
        keep_session=request.cookies.get(access.SESSION_COOKIE),
        source_address=_source(request),
    )
    return Response(status_code=204, headers=NO_STORE)


# --- Accounts -----------------------------------------------------------------------------


class AccountBody(BaseModel):
    name: str = Field(min_length=1, max_length=200)


@router.get("/accounts", summary="List accounts")
async def list_accounts(request: Request, principal: PrincipalDep) -> JSONResponse:
    accounts = await management.list_accounts(runtime_of(request))
    return _json([account_view(a) for a in accounts if principal.reaches(a.id)])


@router.post("/accounts", summary="Create an account", status_code=201)
async def create_account(
    request: Request, principal: PrincipalDep, body: AccountBody
) -> JSONResponse:
    access.require_operator(principal)
    account = await management.create_account(
        runtime_of(request), body.name, actor=principal.actor, source_address=_source(request)
    )
    return _json(account_view(account), 201)


@router.get("/accounts/{account_id}", summary="Describe an account")
async def get_account(request: Request, principal: PrincipalDep, account_id: str) -> JSONResponse:
    account = await access.account_in_reach(request, principal, account_id)
    return _json(account_view(account))


@router.post(
    "/accounts/{account_id}/disable",
    summary="Disable an account",
)
async def disable_account(
    request: Request, principal: PrincipalDep, account_id: str
) -> JSONResponse:
    return await _set_account_enabled(request, principal, account_id, False)


@router.post("/accounts/{account_id}/enable", summary="Enable an account")
async def enable_account(
    request: Request, principal: PrincipalDep, account_id: str
) -> JSONResponse:
    return await _set_account_enabled(request, principal, account_id, True)


async def _set_account_enabled(
    request: Request, principal: Principal, account_id: str, enabled: bool
) -> JSONResponse:
    await access.account_in_reach(request, principal, account_id)
    access.require_operator(principal)
    account = await management.set_account_enabled(
        runtime_of(request),
        account_id,
        enabled,
        actor=principal.actor,
        source_address=_source(request),
    )
    return _json(account_view(account))


# --- Clients ------------------------------------------------------------------------------


class NewClientBody(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    scope: str = Field(default="", max_length=2000)
    token_ttl: int | None = Field(default=None, ge=1, le=management.MAX_TOKEN_TTL)
    account_id: str | None = Field(
        default=None, description="Operators name the account; account admins may leave it out."
    )


class ClientChanges(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    scope: str | None = Field(default=None, max_length=2000)
    token_ttl: int | None = Field(default=None, ge=1, le=management.MAX_TOKEN_TTL)


@router.get("/clients", summary="List clients")
async def list_clients(
    request: Request, principal: PrincipalDep, account_id: str | None = None
) -> JSONResponse:
    runtime = runtime_of(request)
    scoped = await access.scoped_account_id(request, principal, account_id)
    async with runtime.sessions() as session:
        if scoped is not None:
            clients = list(await client_store.list_clients(session, scoped))
        else:
            clients = list(await client_store.list_all_clients(session))
    return _json([client_view(c) for c in clients])


@router.post(
    "/clients",
    summary="Create a client",
    status_code=201,
    description="The answer holds `client_secret`: it is shown this once and never again.",
)
async def create_client(
    request: Request, principal: PrincipalDep, body: NewClientBody
) -> JSONResponse:
    account_id = body.account_id or principal.account_id
    if account_id is None:
        raise InvalidRequest("account_id is required")
    account = await access.account_in_reach(request, principal, account_id)
    new = await management.create_client(
        runtime_of(request),
        account_name=account.name,
        name=body.name,
        scope=body.scope,
        token_ttl=body.token_ttl,
        actor=principal.actor,
        source_address=_source(request),
    )
    return _json({**client_view(new.client), "client_secret": new.client_secret}, 201)


@router.get("/clients/{client_id}", summary="Describe a client")
async def get_client(request: Request, principal: PrincipalDep, client_id: str) -> JSONResponse:
    client = await access.client_in_reach(request, principal, client_id)
    return _json(client_view(client))


@router.patch(
    "/clients/{client_id}",
    summary="Change a client's name, scopes or token lifetime",
)
async def update_client(
    request: Request, principal: PrincipalDep, client_id: str, body: ClientChanges
) -> JSONResponse:
    await access.client_in_reach(request, principal, client_id)
    client = await management.update_client(
        runtime_of(request),
        client_id,
        name=body.name,
        scope=body.scope,
        token_ttl=body.token_ttl,
        actor=principal.actor,
        source_address=_source(request),
    )
    return _json(client_view(client))


@router.post(
    "/clients/{client_id}/disable",
    summary="Disable a client; its live tokens end",
)
async def disable_client(
    request: Request, principal: PrincipalDep, client_id: str
) -> JSONResponse:
    return await _set_client_enabled(request, principal, client_id, False)


@router.post("/clients/{client_id}/enable", summary="Enable a client")
async def enable_client(request: Request, principal: PrincipalDep, client_id: str) -> JSONResponse:
    return await _set_client_enabled(request, principal, client_id, True)


async def _set_client_enabled(
    request: Request, principal: Principal, client_id: str, enabled: bool
) -> JSONResponse:
    await access.client_in_reach(request, principal, client_id)
    client = await management.set_client_enabled(
        runtime_of(request),
        client_id,
        enabled,
        actor=principal.actor,
        source_address=_source(request),
    )
    return _json(client_view(client))


@router.delete(
    "/clients/{client_id}",
    summary="Delete a client with its secrets and tokens",
    status_code=204,
)
async def delete_client(request: Request, principal: PrincipalDep, client_id: str) -> Response:
    await access.client_in_reach(request, principal, client_id)
    await management.delete_client(
        runtime_of(request), client_id, actor=principal.actor, source_address=_source(request)
    )
    return Response(status_code=204, headers=NO_STORE)


@router.get(
    "/clients/{client_id}/samples",
    summary="Integration samples for a client",
)
async def client_samples(
    request: Request, principal: PrincipalDep, client_id: str
) -> JSONResponse:
    client = await access.client_in_reach(request, principal, client_id)
    base_url = str(request.base_url).rstrip("/")
    samples = integration_samples(base_url, client.client_id)
    return _json(
        [{"key": s.key, "title": s.title, "language": s.language, "code": s.code} for s in samples]
    )


# --- Secrets ------------------------------------------------------------------------------


class RotationBody(BaseModel):
    grace_seconds: int = Field(
        default=0, ge=0, le=30 * 86400, description="How long the old secrets keep working."
    )
    expires_at: datetime | None = Field(
        default=None, description="When the new secret ends (ISO 8601 with a time zone)."
    )


@router.get(
    "/clients/{client_id}/secrets",
    summary="List a client's secrets (hints only)",
)
async def list_secrets(request: Request, principal: PrincipalDep, client_id: str) -> JSONResponse:
    await access.client_in_reach(request, principal, client_id)
    secrets = await management.list_secrets(runtime_of(request), client_id)
    return _json([secret_view(s) for s in secrets])


@router.post(
    "/clients/{client_id}/secrets",
    summary="Rotate: a new secret, the old ones ending after the overlap",
    status_code=201,
    description="The answer holds `client_secret`: it is shown this once and never again.",
)
async def rotate_secret(
    request: Request, principal: PrincipalDep, client_id: str, body: RotationBody
) -> JSONResponse:
    await access.client_in_reach(request, principal, client_id)
    if body.expires_at is not None and body.expires_at.tzinfo is None:
        raise InvalidRequest("expires_at needs a time zone, e.g. 2030-01-01T00:00:00Z")
    new = await management.rotate_secret(
        runtime_of(request),
        client_id,
        grace=body.grace_seconds,
        expires_at=body.expires_at,
        actor=principal.actor,
        source_address=_source(request),
    )
    return _json({"client_id": client_id, "client_secret": new.client_secret}, 201)


@router.delete(
    "/clients/{client_id}/secrets/{secret_id}",
    summary="Revoke one secret (and, unless told otherwise, the tokens issued with it)",
)
async def revoke_secret(
    request: Request,
    principal: PrincipalDep,
    client_id: str,
    secret_id: str,
    end_tokens: bool = Query(True, description="Also end the live tokens issued with it."),
) -> JSONResponse:
    client = await access.client_in_reach(request, principal, client_id)
    await access.secret_in_reach(request, principal, client, secret_id)
    ended = await management.revoke_secret(
        runtime_of(request),
        client_id,
        secret_id,
        end_tokens=end_tokens,
        actor=principal.actor,
        source_address=_source(request),
    )
    return _json({"secret_id": secret_id, "tokens_revoked": ended})


# --- Tokens -------------------------------------------------------------------------------


@router.get(
    "/clients/{client_id}/tokens",
    summary="List a client's live tokens",
)
async def list_tokens(request: Request, principal: PrincipalDep, client_id: str) -> JSONResponse:
    await access.client_in_reach(request, principal, client_id)
    tokens = await management.list_live_tokens(runtime_of(request), client_id)
    return _json([token_view(t) for t in tokens])


@router.delete(
    "/clients/{client_id}/tokens",
    summary="Revoke every live token of a client",
)
async def revoke_all_tokens(
    request: Request, principal: PrincipalDep, client_id: str
) -> JSONResponse:
    await access.client_in_reach(request, principal, client_id)
    ended = await management.revoke_client_tokens(
        runtime_of(request), client_id, actor=principal.actor, source_address=_source(request)
    )
    return _json({"tokens_revoked": ended})


@router.delete(
    "/clients/{client_id}/tokens/{token_id}",
    summary="Revoke one token",
    status_code=204,
)
async def revoke_token(
    request: Request, principal: PrincipalDep, client_id: str, token_id: str
) -> Response:
    client = await access.client_in_reach(request, principal, client_id)
    await access.token_in_reach(request, principal, client, token_id)
    await management.revoke_token(
        runtime_of(request), token_id, actor=principal.actor, source_address=_source(request)
    )
    return Response(status_code=204, headers=NO_STORE)


# --- Usage and audit ----------------------------------------------------------------------

Period = Literal["24h", "30d"]


@router.get(
    "/usage",
    summary="Tokens issued and failed authentications over time",
    description="Hourly for `24h`, daily for `30d`; per client, per account or for all.",
)
async def usage(
    request: Request,
    principal: PrincipalDep,
    period: Period = "24h",
    account_id: str | None = None,
    client_id: str | None = None,
) -> JSONResponse:
    if client_id is not None:
        await access.client_in_reach(request, principal, client_id)
    scoped = await access.scoped_account_id(request, principal, account_id)
    series = await usage_series(
        runtime_of(request), period, utcnow(), account_id=scoped, client_id=client_id
    )
    return _json(series.as_dict())


@router.get("/audit", summary="Search the audit log")
async def audit(
    request: Request,
    principal: PrincipalDep,
    account_id: str | None = None,
    client_id: str | None = None,
    actor: str | None = Query(None, max_length=200),
    action: str | None = Query(None, max_length=64),
    limit: int = Query(100, ge=1, le=500),
) -> JSONResponse:
    # The account scope alone keeps other accounts' events out, even for a deleted client.
    scoped = await access.scoped_account_id(request, principal, account_id)
    criteria = AuditFilter(scoped, client_id, actor, action, limit)
    events = await search_events(runtime_of(request), criteria)
    return _json([event_view(e) for e in events])


# --- Admin users and API keys -------------------------------------------------------------


class NewAdminBody(BaseModel):
    email: str = Field(max_length=320)
    password: str = Field(min_length=auth.MIN_PASSWORD_LENGTH, max_length=1024)
    role: Literal["operator", "account_admin"] = "account_admin"
    account_id: str | None = None


class NewKeyBody(BaseModel):
    name: str = Field(min_length=1, max_length=200)


@router.get("/admins", summary="List admin users")
async def list_admins(request: Request, principal: PrincipalDep) -> JSONResponse:
    account_id = None if principal.is_operator else principal.account_id
    admins = await auth.list_admins(runtime_of(request), account_id)
    return _json([admin_view(a) for a in admins])


@router.post("/admins", summary="Create an admin user", status_code=201)
async def create_admin(
    request: Request, principal: PrincipalDep, body: NewAdminBody
) -> JSONResponse:
    account_id = body.account_id
    if body.role == auth.OPERATOR:
        access.require_operator(principal)
        account_id = None
    else:
        account_id = account_id or principal.account_id
        if account_id is None:
            raise InvalidRequest("account_id is required")
        await access.account_in_reach(request, principal, account_id)
    admin = await auth.create_admin(
        runtime_of(request),
        email=body.email,
        password=body.password,
        role=body.role,
        account_id=account_id,
        actor=principal.actor,
        source_address=_source(request),
    )
    return _json(admin_view(admin), 201)


@router.delete(
    "/admins/{admin_id}",
    summary="Delete an admin user",
    status_code=204,
)
async def delete_admin(request: Request, principal: PrincipalDep, admin_id: str) -> Response:
    admin = await access.admin_in_reach(request, principal, admin_id)
    if admin.id == principal.admin_id:
        raise InvalidRequest("you cannot delete yourself")
    await auth.delete_admin(
        runtime_of(request), admin, actor=principal.actor, source_address=_source(request)
    )
    return Response(status_code=204, headers=NO_STORE)


@router.get("/keys", summary="List admin API keys")
async def list_keys(request: Request, principal: PrincipalDep) -> JSONResponse:
    keys = await api_keys.list_api_keys(runtime_of(request), principal)
    return _json([api_key_view(k) for k in keys])


@router.post(
    "/keys",
    summary="Create an admin API key",
    status_code=201,
    description="The answer holds `key`: it is shown this once and never again.",
)
async def create_key(request: Request, principal: PrincipalDep, body: NewKeyBody) -> JSONResponse:
    new = await api_keys.create_api_key(
        runtime_of(request), principal, body.name, source_address=_source(request)
    )
    return _json({**api_key_view(new.key), "key": new.value}, 201)


@router.delete(
    "/keys/{key_id}",
    summary="Revoke an admin API key",
    status_code=204,
)
async def revoke_key(request: Request, principal: PrincipalDep, key_id: str) -> Response:
    revoked = await api_keys.revoke_api_key(
        runtime_of(request), principal, key_id, source_address=_source(request)
    )
    if not revoked:
        raise await access.deny(request, principal, "key", key_id, None)
    return Response(status_code=204, headers=NO_STORE)
