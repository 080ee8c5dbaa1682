"""The resource-server kit protects FastAPI, Starlette and Flask apps with credgate tokens.

The apps run in-process; their verifiers talk to a real ``credgate serve`` over HTTPS (JWKS,
metadata, introspection), and every token comes from its token endpoint.
"""

from __future__ import annotations

import asyncio
import re
import ssl
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import Depends, FastAPI
from flask import Flask
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from conftest import LiveServer, Seeded, start_server, stop_server
from credgate import management
from credgate.oauth2.errors import InvalidToken, TemporarilyUnavailable
from credgate.resource import (
    BearerTokenMiddleware,
    BearerTokenWSGIMiddleware,
    IntrospectionVerifier,
    JwtVerifier,
    VerifiedToken,
    install_error_handler,
    require_token,
    token_of,
)
from jwt_checks import (
    flip_signature,
    hs256_with_public_key,
    jwt_client,
    parts,
    resign,
    sharing_hash_key,
    unsigned,
)
from test_cli import cli_json

FRAMEWORKS = ["fastapi", "starlette", "flask"]
README = Path(__file__).resolve().parent.parent / "README.md"


def _describe(token: VerifiedToken) -> dict[str, Any]:
    return {
        "client_id": token.client_id,
        "account": token.account_id,
        "scopes": sorted(token.scopes),
        "token_id": token.token_id,
    }


def _needed(method: str, path: str) -> list[str]:
    return ["users:write"] if method == "POST" else ["users:read"]


def fastapi_app(verifier: Any) -> FastAPI:
    app = FastAPI()
    install_error_handler(app)

    @app.get("/reports")
    async def read(token: VerifiedToken = Depends(require_token("users:read"))) -> Any:
        return _describe(token)

    @app.post("/reports")
    async def write(token: VerifiedToken = Depends(require_token("users:write"))) -> Any:
        return _describe(token)

    app.state.token_verifier = verifier
    return app


def starlette_app(verifier: Any) -> Starlette:
    async def reports(request: Request) -> JSONResponse:
        return JSONResponse(_describe(request.state.token))

    app = Starlette(routes=[Route("/reports", reports, methods=["GET", "POST"])])
    app.add_middleware(BearerTokenMiddleware, verifier=verifier, scopes=_needed)
    return app


def flask_app(verifier: Any) -> Flask:
    app = Flask(__name__)

    @app.route("/reports", methods=["GET", "POST"])
    def reports() -> Any:
        from flask import request

        return _describe(token_of(request.environ))

    app.wsgi_app = BearerTokenWSGIMiddleware(  # type: ignore[method-assign]
        app.wsgi_app, verifier=verifier, scopes=_needed
    )
    return app


class AsgiClient:
    """Real HTTP requests into an ASGI app (httpx's ASGI transport), each on a fresh loop."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def __enter__(self) -> AsgiClient:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def request(self, method: str, url: str, **options: Any) -> httpx.Response:
        async def send() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
                return await c.request(method, url, **options)

        return asyncio.run(send())

    def get(self, url: str, **options: Any) -> httpx.Response:
        return self.request("GET", url, **options)

    def post(self, url: str, **options: Any) -> httpx.Response:
        return self.request("POST", url, **options)


def app_client(framework: str, verifier: Any) -> httpx.Client | AsgiClient:
    if framework == "fastapi":
        return AsgiClient(fastapi_app(verifier))
    if framework == "starlette":
        return AsgiClient(starlette_app(verifier))
    transport = httpx.WSGITransport(app=flask_app(verifier))
    return httpx.Client(transport=transport, base_url="http://testserver")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def tls(server: LiveServer) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=server.ca_file)


@pytest.fixture(scope="module")
def issuer(tmp_path_factory: pytest.TempPathFactory, server: LiveServer) -> Iterator[LiveServer]:
    process, live = start_server(sharing_hash_key(tmp_path_factory.mktemp("issuer"), server))
    yield live
    stop_server(process)


@pytest.fixture(scope="module")
def account(issuer: LiveServer) -> str:
    return issuer.account()


@pytest.fixture(scope="module")
def resource_client(issuer: LiveServer, account: str) -> Seeded:
    return jwt_client(issuer, account=account, token_format="opaque", introspect=True)


@pytest.fixture(scope="module")
def jwt_verifier(issuer: LiveServer) -> Iterator[JwtVerifier]:
    with JwtVerifier(issuer.base_url, verify=tls(issuer), refetch_interval=0.2) as verifier:
        yield verifier


OPENED: list[Any] = []


@pytest.fixture(autouse=True)
def close_verifiers() -> Iterator[None]:
    yield
    while OPENED:
        OPENED.pop().close()


def introspection_verifier(
    issuer: LiveServer, caller: Seeded, **options: Any
) -> IntrospectionVerifier:
    verifier = IntrospectionVerifier(
        issuer.base_url,
        client_id=caller.client_id,
        client_secret=caller.client_secret,
        verify=tls(issuer),
        **options,
    )
    OPENED.append(verifier)
    return verifier


def issue(
    issuer: LiveServer, account: str, token_format: str, scope: str = "users:read", **kw: Any
) -> dict[str, Any]:
    seeded = jwt_client(issuer, account=account, token_format=token_format, **kw)
    return {**issuer.token(seeded, scope=scope), "client_id": seeded.client_id}


def account_id(issuer: LiveServer, name: str) -> str:
    accounts = issuer.run(lambda rt: management.list_accounts(rt))
    return next(a.id for a in accounts if a.name == name)


CASES = [("jwt", "jwt"), ("introspection", "opaque"), ("introspection", "jwt")]


@pytest.fixture(params=CASES, ids=["-".join(case) for case in CASES])
def case(
    request: pytest.FixtureRequest,
    issuer: LiveServer,
    resource_client: Seeded,
    jwt_verifier: JwtVerifier,
) -> tuple[Any, str]:
    kind, token_format = request.param
    if kind == "jwt":
        return jwt_verifier, token_format
    return introspection_verifier(issuer, resource_client, revocation_delay=1), token_format


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_valid_token_reaches_the_handler_with_its_client_account_and_scopes(
    issuer: LiveServer, account: str, case: tuple[Any, str], framework: str
) -> None:
    verifier, token_format = case
    issued = issue(issuer, account, token_format, scope="users:read users:write")

    with app_client(framework, verifier) as app:
        read = app.get("/reports", headers=bearer(issued["access_token"]))
        write = app.post("/reports", headers=bearer(issued["access_token"]))

    expected = {
        "client_id": issued["client_id"],
        "account": account_id(issuer, account),
        "scopes": ["users:read", "users:write"],
        "token_id": issued["token_id"],
    }
    assert read.status_code == 200, read.text
    assert read.json() == expected
    assert write.json() == expected


def _server_answer(issuer: LiveServer, method: str, **request: Any) -> httpx.Response:
    with issuer.http() as http:
        return http.request(method, "/api/users", **request)


def _same_answer(kit: httpx.Response, server: httpx.Response) -> None:
    assert kit.status_code == server.status_code
    assert kit.headers["www-authenticate"] == server.headers["www-authenticate"]
    assert kit.headers["cache-control"] == server.headers["cache-control"] == "no-store"
    assert kit.json() == server.json()


@pytest.mark.parametrize("framework", FRAMEWORKS)
@pytest.mark.parametrize(
    "request_kind", ["no token", "other scheme", "two headers", "token in the query"]
)
def test_refusals_are_answered_exactly_as_credgate_answers_them(
    issuer: LiveServer, jwt_verifier: JwtVerifier, framework: str, request_kind: str
) -> None:
    request: dict[str, Any] = {
        "no token": {},
        "other scheme": {"headers": {"Authorization": "Basic Zm9vOmJhcg=="}},
        "two headers": {"headers": [("Authorization", "Bearer a"), ("Authorization", "Bearer b")]},
        "token in the query": {"params": {"access_token": "abc"}},
    }[request_kind]
    if framework == "flask" and request_kind == "two headers":
        pytest.skip("WSGI servers join repeated headers into one before the app sees them")

    with app_client(framework, jwt_verifier) as app:
        kit = app.request("GET", "/reports", **request)

    _same_answer(kit, _server_answer(issuer, "GET", **request))


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_missing_scope_is_403_insufficient_scope_as_credgate_answers_it(
    issuer: LiveServer, account: str, case: tuple[Any, str], framework: str
) -> None:
    verifier, token_format = case
    token = issue(issuer, account, token_format, scope="users:read")["access_token"]

    with app_client(framework, verifier) as app:
        kit = app.post("/reports", headers=bearer(token))
    server = _server_answer(
        issuer, "POST", headers=bearer(token), json={"email": "a@example.com", "name": "A"}
    )

    assert kit.status_code == 403
    _same_answer(kit, server)


FORGERIES = [
    "forged signature",
    "wrong aud",
    "wrong iss",
    "expired",
    "alg none",
    "HS256 with the public key",
    "unknown kid",
    "typ JWT",
]


def forge(kind: str, issuer: LiveServer, token: str) -> str:
    if kind == "forged signature":
        return flip_signature(token)
    if kind == "wrong aud":
        return resign(issuer, token, aud="https://another-api.example")
    if kind == "wrong iss":
        return resign(issuer, token, iss="https://another-issuer.example")
    if kind == "expired":
        # Two minutes past: beyond the verifier's 30 seconds of leeway.
        return resign(issuer, token, exp=int(time.time()) - 120, iat=int(time.time()) - 600)
    if kind == "alg none":
        return unsigned(token)
    if kind == "HS256 with the public key":
        from joserfc import jwk

        with issuer.http() as http:
            keys = http.get("/.well-known/jwks.json").json()["keys"]
        published = next(k for k in keys if k["kid"] == parts(token)[0]["kid"])
        return hs256_with_public_key(token, jwk.import_key(published))
    if kind == "unknown kid":
        return resign(issuer, token, header={"kid": f"forged-{uuid.uuid4().hex}"})
    if kind == "typ JWT":
        return resign(issuer, token, header={"typ": "JWT"})
    raise ValueError(kind)


@pytest.mark.parametrize("framework", FRAMEWORKS)
@pytest.mark.parametrize("kind", FORGERIES)
def test_tampered_jwt_is_refused_locally(
    issuer: LiveServer, account: str, jwt_verifier: JwtVerifier, framework: str, kind: str
) -> None:
    token = issue(issuer, account, "jwt")["access_token"]
    forged = forge(kind, issuer, token)

    with app_client(framework, jwt_verifier) as app:
        refused = app.get("/reports", headers=bearer(forged))
        accepted = app.get("/reports", headers=bearer(token))

    assert accepted.status_code == 200
    assert refused.status_code == 401
    assert refused.json()["error"] == "invalid_token"
    challenge = refused.headers["www-authenticate"]
    assert challenge.startswith('Bearer realm="credgate", error="invalid_token"')


def counting_client(issuer: LiveServer, paths: list[str]) -> httpx.Client:
    def record(request: httpx.Request) -> None:
        paths.append(request.url.path)

    http = httpx.Client(verify=tls(issuer), event_hooks={"request": [record]})
    OPENED.append(http)
    return http


def test_forged_kids_cannot_make_the_verifier_flood_the_issuer(
    issuer: LiveServer, account: str
) -> None:
    fetched: list[str] = []
    verifier = JwtVerifier(
        issuer.base_url, http=counting_client(issuer, fetched), refetch_interval=60
    )
    token = issue(issuer, account, "jwt")["access_token"]
    verifier.verify_sync(token)

    for _ in range(50):
        with pytest.raises(InvalidToken):
            verifier.verify_sync(resign(issuer, token, header={"kid": uuid.uuid4().hex}))

    # All within one refetch interval of the first fetch: no refetch at all.
    assert fetched.count("/.well-known/jwks.json") == 1
    assert verifier.verify_sync(token).token_id == parts(token)[1]["jti"]


def test_after_rotation_new_kid_is_fetched_and_old_tokens_still_verify(
    issuer: LiveServer, account: str, jwt_verifier: JwtVerifier
) -> None:
    seeded = jwt_client(issuer, account=account)
    old = issuer.token(seeded)["access_token"]
    assert jwt_verifier.verify_sync(old)

    cli_json("keys", "rotate", env=issuer.env)
    new = issuer.token(seeded)["access_token"]
    time.sleep(0.25)  # past the refetch interval of this verifier

    assert parts(new)[0]["kid"] != parts(old)[0]["kid"]
    assert jwt_verifier.verify_sync(new).token_id == parts(new)[1]["jti"]
    assert jwt_verifier.verify_sync(old).token_id == parts(old)[1]["jti"]


def kit_jwt_verifier(issuer: LiveServer, **options: Any) -> JwtVerifier:
    verifier = JwtVerifier(issuer.base_url, verify=tls(issuer), **options)
    OPENED.append(verifier)
    return verifier


def test_a_verified_jwt_is_remembered_and_its_signature_checked_once(
    issuer: LiveServer, account: str
) -> None:
    verifier = kit_jwt_verifier(issuer)
    token = issue(issuer, account, "jwt")["access_token"]

    async def twice() -> list[VerifiedToken]:
        return [await verifier.verify(token), await verifier.verify(token)]

    checked = [verifier.verify_sync(token), verifier.verify_sync(token), *asyncio.run(twice())]

    assert {t.token_id for t in checked} == {parts(token)[1]["jti"]}
    assert verifier.signatures_checked == 1


def test_a_remembered_jwt_is_refused_once_it_expires(issuer: LiveServer, account: str) -> None:
    verifier = kit_jwt_verifier(issuer, leeway=0)
    token = issue(issuer, account, "jwt", token_ttl=2)["access_token"]
    assert verifier.verify_sync(token)

    time.sleep(max(0.0, parts(token)[1]["exp"] - time.time()) + 0.1)

    with pytest.raises(InvalidToken, match="expired"):
        verifier.verify_sync(token)
    assert verifier.signatures_checked == 1  # refused by the clock, from what was remembered


@pytest.mark.parametrize("kind", ["forged signature", "alg none", "HS256 with the public key"])
def test_a_tampered_copy_of_a_remembered_jwt_is_checked_afresh_and_refused(
    issuer: LiveServer, account: str, kind: str
) -> None:
    verifier = kit_jwt_verifier(issuer)
    token = issue(issuer, account, "jwt")["access_token"]
    assert verifier.verify_sync(token)
    forged = forge(kind, issuer, token)
    assert parts(forged)[1] == parts(token)[1]

    with pytest.raises(InvalidToken):
        verifier.verify_sync(forged)
    with pytest.raises(InvalidToken):
        asyncio.run(verifier.verify(forged))
    assert verifier.verify_sync(token).token_id == parts(token)[1]["jti"]


def test_remembered_jwts_are_bounded_least_recently_used_first_out(
    issuer: LiveServer, account: str
) -> None:
    verifier = kit_jwt_verifier(issuer, max_cached_tokens=2)
    tokens = [issue(issuer, account, "jwt")["access_token"] for _ in range(3)]

    for token in tokens:
        verifier.verify_sync(token)
    verifier.verify_sync(tokens[2])  # remembered
    verifier.verify_sync(tokens[0])  # let go for the third: checked again

    assert verifier.signatures_checked == 4


def test_remembering_can_be_turned_off(issuer: LiveServer, account: str) -> None:
    verifier = kit_jwt_verifier(issuer, max_cached_tokens=0)
    token = issue(issuer, account, "jwt")["access_token"]

    for _ in range(3):
        verifier.verify_sync(token)

    assert verifier.signatures_checked == 3


def test_a_jwks_refresh_that_keeps_the_key_keeps_its_tokens_remembered(
    issuer: LiveServer, account: str
) -> None:
    fetched: list[str] = []
    verifier = JwtVerifier(
        issuer.base_url, http=counting_client(issuer, fetched), jwks_ttl=0, refetch_interval=0
    )
    token = issue(issuer, account, "jwt")["access_token"]

    for _ in range(3):
        verifier.verify_sync(token)

    assert fetched.count("/.well-known/jwks.json") == 3
    assert verifier.signatures_checked == 1


@pytest.mark.parametrize("token_format", ["opaque", "jwt"])
def test_introspection_sees_a_revocation_within_the_revocation_delay(
    issuer: LiveServer, account: str, resource_client: Seeded, token_format: str
) -> None:
    verifier = introspection_verifier(issuer, resource_client, revocation_delay=1)
    issued = issue(issuer, account, token_format)
    assert verifier.verify_sync(issued["access_token"])

    issuer.run(lambda rt: management.revoke_token(rt, issued["token_id"], actor="test"))
    time.sleep(1.1)

    with pytest.raises(InvalidToken):
        verifier.verify_sync(issued["access_token"])


def test_local_jwt_verification_does_not_see_a_revocation(
    issuer: LiveServer, account: str, jwt_verifier: JwtVerifier
) -> None:
    """The documented trade-off of local verification: revocation needs introspection."""
    issued = issue(issuer, account, "jwt")
    issuer.run(lambda rt: management.revoke_token(rt, issued["token_id"], actor="test"))

    assert jwt_verifier.verify_sync(issued["access_token"]).token_id == issued["token_id"]


def test_introspection_cache_never_outlives_the_token(
    issuer: LiveServer, account: str, resource_client: Seeded
) -> None:
    verifier = introspection_verifier(issuer, resource_client, revocation_delay=300)
    issued = issue(issuer, account, "opaque", token_ttl=1)
    assert verifier.verify_sync(issued["access_token"])

    time.sleep(1.1)

    with pytest.raises(InvalidToken):
        verifier.verify_sync(issued["access_token"])


def test_introspection_cache_is_bounded_and_reused_within_the_delay(
    issuer: LiveServer, account: str, resource_client: Seeded
) -> None:
    asked: list[str] = []
    verifier = IntrospectionVerifier(
        issuer.base_url,
        client_id=resource_client.client_id,
        client_secret=resource_client.client_secret,
        http=counting_client(issuer, asked),
        revocation_delay=60,
        max_entries=2,
    )
    tokens = [issue(issuer, account, "opaque")["access_token"] for _ in range(3)]

    for token in tokens:
        verifier.verify_sync(token)
    verifier.verify_sync(tokens[2])  # cached
    verifier.verify_sync(tokens[0])  # evicted by the third: asked again

    assert asked.count("/oauth/introspect") == 4


def test_jwt_is_accepted_locally_with_the_credgate_server_stopped(
    tmp_path: Path, server: LiveServer
) -> None:
    process, live = start_server(sharing_hash_key(tmp_path, server))
    try:
        account = live.account()
        resource = jwt_client(live, account=account, token_format="opaque", introspect=True)
        jwt_token = issue(live, account, "jwt")["access_token"]
        opaque = issue(live, account, "opaque")["access_token"]
        verifier = JwtVerifier(live.base_url, verify=tls(live), jwks_ttl=0)
        OPENED.append(verifier)
        introspection = introspection_verifier(live, resource, revocation_delay=0.5)
        assert verifier.verify_sync(jwt_token)
        assert introspection.verify_sync(opaque)
        cold = JwtVerifier(live.base_url, verify=tls(live))
        OPENED.append(cold)
    finally:
        stop_server(process)
    time.sleep(0.6)

    for framework in FRAMEWORKS:
        with app_client(framework, verifier) as app:
            answer = app.get("/reports", headers=bearer(jwt_token))
        assert answer.status_code == 200, (framework, answer.text)
    with pytest.raises(TemporarilyUnavailable):
        introspection.verify_sync(opaque)
    with pytest.raises(TemporarilyUnavailable):
        cold.verify_sync(jwt_token)
    with app_client("starlette", introspection) as app:
        unavailable = app.get("/reports", headers=bearer(opaque))
    assert unavailable.status_code == 503
    assert unavailable.json()["error"] == "temporarily_unavailable"
    assert unavailable.headers["retry-after"]


def test_kit_verified_token_repr_never_shows_claims(
    issuer: LiveServer, account: str, jwt_verifier: JwtVerifier
) -> None:
    token = jwt_verifier.verify_sync(issue(issuer, account, "jwt")["access_token"])

    assert "claims" not in repr(token)
    assert token.claims["iss"] == issuer.base_url


def test_readme_examples_protect_a_fastapi_and_a_flask_app(
    issuer: LiveServer, account: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    section = README.read_text().split("## Protecting your API with credgate.resource", 1)[1]
    section = section.split("\n## ", 1)[0]
    code = "\n".join(re.findall(r"```python\n(.*?)```", section, re.DOTALL))
    monkeypatch.setenv("CREDGATE_URL", issuer.base_url)
    monkeypatch.setenv("CREDGATE_CA", str(issuer.ca_file))
    namespace: dict[str, Any] = {"__name__": "__main__"}
    exec(compile(code, "README.md", "exec"), namespace)  # noqa: S102 - our own README
    issued = issue(issuer, account, "jwt")
    OPENED.append(namespace["app"].state.token_verifier)
    OPENED.append(namespace["api"].wsgi_app.verifier)
    flask = httpx.Client(
        transport=httpx.WSGITransport(app=namespace["api"]), base_url="http://testserver"
    )
    OPENED.append(flask)

    for app in (AsgiClient(namespace["app"]), flask):
        served = app.get("/reports", headers=bearer(issued["access_token"]))
        refused = app.get("/reports")
        assert served.status_code == 200, served.text
        assert served.json()["client"] == issued["client_id"]
        assert refused.status_code == 401
    assert len(issued["access_token"]) < 700
