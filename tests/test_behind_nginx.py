"""Credgate behind Debian's nginx as the TLS terminator, trusting only that proxy's headers.

nginx listens with TLS and forwards to ``credgate serve --plain-http`` from 127.0.0.1, the
one trusted proxy address. Test clients connect from other loopback addresses (127.0.0.3
through nginx, 127.0.0.2 directly), so the address credgate records shows whose word it took.
Loopback HTTP is switched off, so only the proxy's ``X-Forwarded-Proto`` can make a request
count as HTTPS.
"""

from __future__ import annotations

import re
import shutil
import ssl
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from conftest import LiveServer, Seeded, free_port, start_server, stop_server
from credgate.runtime import Runtime
from credgate.server.tls import ensure_dev_certificate
from credgate.storage.models import AuditEvent

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
PROXY = "127.0.0.1"
CLIENT_VIA_PROXY = "127.0.0.3"
UNTRUSTED_PEER = "127.0.0.2"

NGINX_CONF = """\
daemon off;
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log info;
events {{ worker_connections 64; }}
http {{
    access_log {prefix}/access.log;
    client_body_temp_path {prefix}/client_body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    upstream credgate {{ server {backend}; }}
    server {{
        listen 127.0.0.1:{port} ssl;
        # The location below is docs/deployment.md's, word for word.
        ssl_certificate {cert};
        ssl_certificate_key {key};
        ssl_protocols TLSv1.2 TLSv1.3;
        location / {{
            proxy_pass http://credgate;
            # $http_host keeps the port, so the issuer credgate derives is the public origin.
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-Proto $scheme;
            # Overwrite, never append: the client's own X-Forwarded-For is not evidence.
            proxy_set_header X-Forwarded-For $remote_addr;
            # The request's id at the edge, which credgate keeps and logs with every line.
            proxy_set_header X-Request-ID $request_id;
        }}
    }}
}}
"""


@dataclass
class Proxied:
    backend: LiveServer
    url: str
    ca_file: Path

    def client(self, source: str = CLIENT_VIA_PROXY) -> httpx.Client:
        context = ssl.create_default_context(cafile=self.ca_file)
        transport = httpx.HTTPTransport(local_address=source, verify=context)
        return httpx.Client(base_url=self.url, transport=transport, timeout=10)

    def direct(self, source: str) -> httpx.Client:
        transport = httpx.HTTPTransport(local_address=source)
        return httpx.Client(base_url=self.backend.base_url, transport=transport, timeout=10)


@pytest.fixture(scope="module")
def proxied(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxied]:
    if not Path(NGINX).exists():
        pytest.skip("nginx is not installed (.ci/run installs it)")
    tmp = tmp_path_factory.mktemp("nginx")
    process, backend = start_server(
        tmp,
        {"CREDGATE_TRUSTED_PROXIES": PROXY, "CREDGATE_ALLOW_LOOPBACK_HTTP": "false"},
        serve_args=("--plain-http",),
    )
    certificate = ensure_dev_certificate(backend.settings.tls_dir)
    prefix = tmp / "nginx"
    prefix.mkdir()
    port = free_port()
    conf = prefix / "nginx.conf"
    conf.write_text(
        NGINX_CONF.format(
            prefix=prefix,
            port=port,
            backend=backend.base_url.removeprefix("http://"),
            cert=certificate.cert_file,
            key=certificate.key_file,
        )
    )
    nginx = subprocess.Popen(
        [NGINX, "-p", str(prefix), "-c", str(conf), "-e", str(prefix / "error.log")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    live = Proxied(backend, f"https://127.0.0.1:{port}", certificate.ca_file)
    _wait_for_nginx(live, nginx, prefix)
    yield live
    nginx.terminate()
    nginx.wait(timeout=15)
    stop_server(process)


def _wait_for_nginx(live: Proxied, nginx: subprocess.Popen[bytes], prefix: Path) -> None:
    deadline = time.monotonic() + 15
    with live.client() as http:
        while time.monotonic() < deadline:
            if nginx.poll() is not None:
                raise RuntimeError((prefix / "error.log").read_text())
            try:
                http.get("/healthz")
                return
            except httpx.TransportError:
                time.sleep(0.1)
    raise RuntimeError("nginx did not start")


def _token(http: httpx.Client, seeded: Seeded) -> httpx.Response:
    return http.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(seeded.client_id, seeded.client_secret),
    )


def _revocation_addresses(backend: LiveServer, token_id: str) -> list[str | None]:
    async def query(runtime: Runtime) -> list[str | None]:
        async with runtime.sessions() as session:
            rows = await session.scalars(
                select(AuditEvent.source_address).where(
                    AuditEvent.action == "token.revoked", AuditEvent.target == token_id
                )
            )
            return list(rows)

    return backend.run(query)  # type: ignore[no-any-return]


def test_requests_through_nginx_get_https_and_hsts(proxied: Proxied) -> None:
    seeded = proxied.backend.client()
    user_id = proxied.backend.user(seeded.account)

    with proxied.client() as http:
        issued = _token(http, seeded)
        token = proxied.backend.remember_token(issued.json()["access_token"])
        user = http.get(f"/api/users/{user_id}", headers={"Authorization": f"Bearer {token}"})
        metadata = http.get("/.well-known/oauth-authorization-server").json()

    assert issued.status_code == 200, issued.text
    assert user.status_code == 200
    for response in (issued, user):
        assert response.headers["strict-transport-security"].startswith("max-age=")
    # The issuer is the origin the client used: nginx's https address, not the backend's.
    assert metadata["issuer"] == proxied.url


def test_the_client_address_comes_from_the_proxys_x_forwarded_for(proxied: Proxied) -> None:
    seeded = proxied.backend.client()

    with proxied.client(CLIENT_VIA_PROXY) as http:
        issued = _token(http, seeded).json()
        proxied.backend.remember_token(issued["access_token"])
        revoked = http.post(
            "/oauth/revoke",
            data={"token": issued["access_token"]},
            auth=(seeded.client_id, seeded.client_secret),
            # A client's own claim is overwritten by nginx and must not be recorded.
            headers={"X-Forwarded-For": "203.0.113.66"},
        )

    assert revoked.status_code == 200
    # The backend's TCP peer was nginx at 127.0.0.1; it recorded the client nginx named.
    assert _revocation_addresses(proxied.backend, issued["token_id"]) == [CLIENT_VIA_PROXY]


def test_the_request_id_nginx_gives_is_kept_and_a_clients_is_not(proxied: Proxied) -> None:
    with proxied.client() as http:
        answers = [http.get("/healthz", headers={"X-Request-ID": "client-made"}) for _ in "ab"]

    ids = [answer.headers["x-request-id"] for answer in answers]
    # nginx's $request_id: 32 hex digits, new for each request, replacing the client's.
    assert all(re.fullmatch(r"[0-9a-f]{32}", value) for value in ids)
    assert ids[0] != ids[1]


@pytest.mark.parametrize("path", ["/healthz", "/oauth/token"])
def test_forged_forwarded_proto_from_an_untrusted_peer_is_refused(
    proxied: Proxied, path: str
) -> None:
    seeded = proxied.backend.client()
    forged = {"X-Forwarded-Proto": "https", "X-Forwarded-For": PROXY}

    with proxied.direct(UNTRUSTED_PEER) as http:
        response = http.post(
            path,
            data={"grant_type": "client_credentials"},
            auth=(seeded.client_id, seeded.client_secret),
            headers=forged,
        )

    assert response.status_code == 403
    assert response.json() == {
        "error": "invalid_request",
        "error_description": "HTTPS is required",
    }
    assert "strict-transport-security" not in response.headers


def test_the_same_headers_from_the_trusted_proxy_address_are_believed(proxied: Proxied) -> None:
    """The control for the refusal above: only the peer address differs."""
    seeded = proxied.backend.client()
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-For": CLIENT_VIA_PROXY}

    with proxied.direct(PROXY) as http:
        believed = http.post(
            "/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(seeded.client_id, seeded.client_secret),
            headers=forwarded,
        )
        plain = _token(http, seeded)

    assert believed.status_code == 200, believed.text
    proxied.backend.remember_token(believed.json()["access_token"])
    assert "strict-transport-security" in believed.headers
    # Without the proxy's word, plain HTTP from the proxy's address is still plain HTTP.
    assert plain.status_code == 403
