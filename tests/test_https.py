"""HTTPS only: HSTS on HTTPS answers, plain HTTP only from loopback or a trusted TLS proxy.

The real-process tests run ``credgate serve --plain-http --host 0.0.0.0`` and reach it both
over loopback and over this machine's own non-loopback IPv4 address, so the server sees a
genuinely non-loopback client. In-process tests of the middleware follow, then the
development certificate.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import socket
import ssl
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID

from conftest import ISSUED, LiveServer, free_port, stop_server
from credgate.config import Settings
from credgate.server.app import create_app
from credgate.server.tls import ensure_dev_certificate

SERVE_PLAIN_HTTP = [sys.executable, "-m", "credgate", "serve", "--plain-http"]
ALL_INTERFACES = "0.0.0.0"  # noqa: S104 - the point is to be reachable off loopback
HSTS = "max-age=31536000; includeSubDomains"
REFUSAL = {"error": "invalid_request", "error_description": "HTTPS is required"}


def non_loopback_ipv4() -> str | None:
    """An IPv4 address of this machine that is not loopback, or None."""
    candidates: list[str] = []
    try:
        out = subprocess.run(
            ["ip", "-4", "-o", "addr"], capture_output=True, text=True, timeout=5, check=False
        ).stdout
        candidates += [
            line.split()[3].split("/")[0] for line in out.splitlines() if "inet" in line
        ]
    except (OSError, IndexError, subprocess.SubprocessError):
        pass
    try:
        out = subprocess.run(
            ["hostname", "-I"], capture_output=True, text=True, timeout=5, check=False
        ).stdout
        candidates += out.split()
    except (OSError, subprocess.SubprocessError):
        pass
    for candidate in candidates:
        try:
            address = ipaddress.ip_address(candidate)
        except ValueError:
            continue
        if address.version == 4 and not address.is_loopback and not address.is_link_local:
            return candidate
    return None


@pytest.fixture(scope="module")
def own_ip() -> str:
    address = non_loopback_ipv4()
    if address is None:
        pytest.skip("this machine has no non-loopback IPv4 address to connect from")
    return address


@dataclass
class PlainServer:
    port: int
    log_file: Path

    def url(self, host: str) -> str:
        return f"http://{host}:{self.port}"

    def get(
        self, host: str, path: str = "/healthz", headers: dict[str, str] | None = None
    ) -> httpx.Response:
        with httpx.Client(base_url=self.url(host), timeout=10) as http:
            return http.get(path, headers=headers)


def start_plain_server(
    tmp: Path, extra_env: dict[str, str] | None = None
) -> tuple[subprocess.Popen[bytes], PlainServer]:
    """``credgate serve --plain-http --host 0.0.0.0``, started like conftest's servers."""
    port = free_port()
    env = {
        **os.environ,
        "CREDGATE_DATA_DIR": str(tmp / "data"),
        "CREDGATE_LOG_LEVEL": "DEBUG",
        **(extra_env or {}),
    }
    env.pop("CREDGATE_DATABASE_URL", None)
    log_file = tmp / "server.log"
    with log_file.open("ab") as log:
        process = subprocess.Popen(
            [*SERVE_PLAIN_HTTP, "--host", ALL_INTERFACES, "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    plain = PlainServer(port, log_file)
    ISSUED.logs.append(log_file)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(log_file.read_text())
        try:
            plain.get("127.0.0.1")  # any answer at all means it is listening
            return process, plain
        except httpx.TransportError:
            time.sleep(0.1)
    stop_server(process)
    raise RuntimeError("plain-HTTP server did not start")


@pytest.fixture(scope="module")
def plain_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PlainServer]:
    process, plain = start_plain_server(tmp_path_factory.mktemp("plain"))
    yield plain
    stop_server(process)


@pytest.fixture(scope="module")
def proxied_server(tmp_path_factory: pytest.TempPathFactory, own_ip: str) -> Iterator[PlainServer]:
    """Plain HTTP that trusts only ``own_ip`` as a proxy, with loopback HTTP turned off."""
    env = {"CREDGATE_TRUSTED_PROXIES": own_ip, "CREDGATE_ALLOW_LOOPBACK_HTTP": "false"}
    process, plain = start_plain_server(tmp_path_factory.mktemp("proxied"), env)
    yield plain
    stop_server(process)


def assert_refused(response: httpx.Response) -> None:
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "no-store"
    assert response.json() == REFUSAL
    assert "strict-transport-security" not in response.headers


# --- HSTS on the live HTTPS server -------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/healthz"),
        ("GET", "/.well-known/oauth-authorization-server"),
        ("GET", "/api/users"),  # 401
        ("POST", "/oauth/token"),  # 401 invalid_client
        ("GET", "/no/such/path"),  # 404
    ],
)
def test_https_responses_carry_strict_transport_security(
    http: httpx.Client, method: str, path: str
) -> None:
    response = http.request(method, path)

    assert response.url.scheme == "https"
    assert response.headers["strict-transport-security"] == HSTS


def test_successful_token_response_carries_hsts(http: httpx.Client, server: LiveServer) -> None:
    seeded = server.client()

    response = http.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(seeded.client_id, seeded.client_secret),
    )

    assert response.status_code == 200
    server.remember_token(response.json()["access_token"])
    assert response.headers["strict-transport-security"] == HSTS


def test_plain_http_to_the_tls_port_gets_no_answer(server: LiveServer) -> None:
    plain_url = server.base_url.replace("https://", "http://")

    with httpx.Client(timeout=5) as http, pytest.raises(httpx.TransportError):
        http.get(f"{plain_url}/healthz")


# --- Plain HTTP: loopback allowed, everyone else refused ---------------------------------


def test_plain_http_from_loopback_is_accepted_without_hsts(plain_server: PlainServer) -> None:
    response = plain_server.get("127.0.0.1")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "strict-transport-security" not in response.headers


def test_plain_http_from_loopback_reaches_the_api(plain_server: PlainServer) -> None:
    response = plain_server.get("127.0.0.1", "/api/users")

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="credgate"'


@pytest.mark.parametrize(
    "path", ["/healthz", "/api/users", "/.well-known/oauth-authorization-server"]
)
def test_plain_http_from_non_loopback_address_is_refused_403(
    plain_server: PlainServer, own_ip: str, path: str
) -> None:
    assert_refused(plain_server.get(own_ip, path))


def test_plain_http_token_request_from_non_loopback_is_refused_before_authentication(
    plain_server: PlainServer, own_ip: str
) -> None:
    with httpx.Client(base_url=plain_server.url(own_ip), timeout=10) as http:
        response = http.post(
            "/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=("cgc_nonexistent", "x" * 40),
        )

    assert_refused(response)
    assert "www-authenticate" not in response.headers


def test_forwarded_proto_from_an_untrusted_address_is_ignored(
    plain_server: PlainServer, own_ip: str
) -> None:
    response = plain_server.get(own_ip, headers={"X-Forwarded-Proto": "https"})

    assert_refused(response)


def test_forwarded_for_loopback_from_an_untrusted_address_is_ignored(
    plain_server: PlainServer, own_ip: str
) -> None:
    response = plain_server.get(own_ip, headers={"X-Forwarded-For": "127.0.0.1"})

    assert_refused(response)


# --- Plain HTTP behind a trusted proxy ---------------------------------------------------


def test_trusted_proxy_with_forwarded_proto_https_is_accepted_with_hsts(
    proxied_server: PlainServer, own_ip: str
) -> None:
    response = proxied_server.get(own_ip, headers={"X-Forwarded-Proto": "https"})

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response.headers["strict-transport-security"] == HSTS


def test_trusted_proxy_metadata_names_https_issuer(
    proxied_server: PlainServer, own_ip: str
) -> None:
    response = proxied_server.get(
        own_ip,
        "/.well-known/oauth-authorization-server",
        headers={"X-Forwarded-Proto": "https", "Host": "auth.example.com"},
    )

    assert response.status_code == 200
    assert response.json()["issuer"] == "https://auth.example.com"


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="no-header"),
        pytest.param({"X-Forwarded-Proto": "http"}, id="proto-http"),
        pytest.param({"X-Forwarded-Proto": "gopher"}, id="proto-unknown"),
    ],
)
def test_trusted_proxy_without_forwarded_https_is_refused(
    proxied_server: PlainServer, own_ip: str, headers: dict[str, str]
) -> None:
    assert_refused(proxied_server.get(own_ip, headers=headers))


def test_trusted_proxy_forwarding_a_remote_client_over_http_is_refused(
    proxied_server: PlainServer, own_ip: str
) -> None:
    headers = {"X-Forwarded-Proto": "http", "X-Forwarded-For": "203.0.113.9"}

    assert_refused(proxied_server.get(own_ip, headers=headers))


def test_loopback_is_not_trusted_and_its_forwarded_proto_is_refused(
    proxied_server: PlainServer,
) -> None:
    response = proxied_server.get("127.0.0.1", headers={"X-Forwarded-Proto": "https"})

    assert_refused(response)


def test_loopback_plain_http_is_refused_when_loopback_http_is_disabled(
    proxied_server: PlainServer,
) -> None:
    assert_refused(proxied_server.get("127.0.0.1"))


# --- The middleware in process -----------------------------------------------------------


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """``create_app`` configures logging for the process; put this test process's back."""
    names = ["credgate", "uvicorn", "uvicorn.access"]
    saved = [
        (logger, logger.handlers[:], logger.level, logger.propagate)
        for logger in map(logging.getLogger, names)
    ]
    yield
    for logger, handlers, level, propagate in saved:
        logger.handlers[:] = handlers
        logger.setLevel(level)
        logger.propagate = propagate


@pytest.fixture()
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path, database_url=None)


async def asgi_get(
    settings: Settings,
    client: tuple[str, int],
    scheme: str = "http",
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    transport = httpx.ASGITransport(app=create_app(settings), client=client)
    async with httpx.AsyncClient(transport=transport, base_url=f"{scheme}://testserver") as http:
        return await http.get("/healthz", headers=headers)


@pytest.mark.parametrize("address", ["10.1.2.3", "192.0.2.77", "2001:db8::1", "not-an-ip", ""])
async def test_middleware_refuses_plain_http_from_non_loopback(
    settings: Settings, address: str
) -> None:
    assert_refused(await asgi_get(settings, (address, 1234)))


@pytest.mark.parametrize("address", ["127.0.0.1", "127.8.9.10", "::1"])
async def test_middleware_accepts_plain_http_from_any_loopback_address(
    settings: Settings, address: str
) -> None:
    response = await asgi_get(settings, (address, 1234))

    assert response.status_code == 200
    assert "strict-transport-security" not in response.headers


async def test_middleware_refuses_loopback_when_loopback_http_is_disabled(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, allow_loopback_http=False)

    assert_refused(await asgi_get(settings, ("127.0.0.1", 1234)))


async def test_middleware_adds_configured_hsts_to_https_from_anywhere(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, hsts_max_age=60)

    response = await asgi_get(settings, ("10.1.2.3", 1234), scheme="https")

    assert response.status_code == 200
    assert response.headers["strict-transport-security"] == "max-age=60; includeSubDomains"


async def test_middleware_trusts_forwarded_proto_only_from_trusted_proxies(
    tmp_path: Path,
) -> None:
    settings = Settings(data_dir=tmp_path, trusted_proxies=["10.1.2.3"], allow_loopback_http=False)
    forwarded = {"X-Forwarded-Proto": "https"}

    trusted = await asgi_get(settings, ("10.1.2.3", 1234), headers=forwarded)
    untrusted = await asgi_get(settings, ("10.9.9.9", 1234), headers=forwarded)
    trusted_plain = await asgi_get(settings, ("10.1.2.3", 1234))

    assert trusted.status_code == 200
    assert trusted.headers["strict-transport-security"] == HSTS
    assert_refused(untrusted)
    assert_refused(trusted_plain)


# --- The development certificate ---------------------------------------------------------


def tls_handshake(
    cert_dir: Path, server_hostname: str, *, trust_ca: bool = True
) -> dict[str, Any]:
    """A real TLS handshake against the dev certificate, verified as a strict client would."""
    dev = ensure_dev_certificate(cert_dir)
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(dev.cert_file, dev.key_file)
    client_context = ssl.create_default_context(cafile=dev.ca_file if trust_ca else None)
    client_context.verify_flags |= ssl.VERIFY_X509_STRICT
    server_sock, client_sock = socket.socketpair()

    def serve() -> None:
        try:
            with server_context.wrap_socket(server_sock, server_side=True) as tls:
                tls.recv(1)
        except (ssl.SSLError, OSError):
            pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        with client_context.wrap_socket(client_sock, server_hostname=server_hostname) as tls:
            return dict(tls.getpeercert() or {})
    finally:
        client_sock.close()
        thread.join(timeout=5)


@pytest.fixture(scope="module")
def cert_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("tls") / "tls"


@pytest.mark.parametrize("hostname", ["localhost", "127.0.0.1", "::1"])
def test_dev_certificate_verifies_strictly_for_local_names(cert_dir: Path, hostname: str) -> None:
    peer = tls_handshake(cert_dir, hostname)

    assert ("DNS", "localhost") in peer["subjectAltName"]


@pytest.mark.parametrize("hostname", ["example.com", "10.0.0.1"])
def test_dev_certificate_does_not_verify_for_other_names(cert_dir: Path, hostname: str) -> None:
    with pytest.raises(ssl.SSLCertVerificationError):
        tls_handshake(cert_dir, hostname)


def test_dev_certificate_is_not_trusted_without_its_ca(cert_dir: Path) -> None:
    with pytest.raises(ssl.SSLCertVerificationError):
        tls_handshake(cert_dir, "localhost", trust_ca=False)


@pytest.mark.parametrize("hostname", ["localhost", "127.0.0.1"])
def test_live_server_certificate_verifies_for_local_names(
    server: LiveServer, hostname: str
) -> None:
    port = int(server.base_url.rsplit(":", 1)[1])
    context = ssl.create_default_context(cafile=server.ca_file)
    context.verify_flags |= ssl.VERIFY_X509_STRICT

    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname=hostname) as tls,
    ):
        assert tls.version() in {"TLSv1.2", "TLSv1.3"}


def test_dev_ca_is_a_ca_and_server_certificate_is_not(cert_dir: Path) -> None:
    dev = ensure_dev_certificate(cert_dir)
    ca = x509.load_pem_x509_certificate(dev.ca_file.read_bytes())
    chain = x509.load_pem_x509_certificates(dev.cert_file.read_bytes())
    leaf = chain[0]

    ca_constraints = ca.extensions.get_extension_for_class(x509.BasicConstraints)
    assert ca_constraints.critical
    assert ca_constraints.value.ca is True
    assert ca.extensions.get_extension_for_class(x509.KeyUsage).value.key_cert_sign
    leaf_constraints = leaf.extensions.get_extension_for_class(x509.BasicConstraints)
    assert leaf_constraints.value.ca is False
    eku = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.SERVER_AUTH in eku
    assert leaf.issuer == ca.subject
    assert [c.public_bytes(Encoding.DER) for c in chain[1:]] == [ca.public_bytes(Encoding.DER)]


def test_dev_ca_private_key_is_not_kept(cert_dir: Path) -> None:
    dev = ensure_dev_certificate(cert_dir)

    assert sorted(p.name for p in cert_dir.iterdir()) == ["ca.pem", "cert.pem", "key.pem"]
    assert b"PRIVATE KEY" not in dev.ca_file.read_bytes()
    assert b"PRIVATE KEY" not in dev.cert_file.read_bytes()


def test_dev_key_file_is_mode_0600_even_under_a_permissive_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        dev = ensure_dev_certificate(tmp_path / "tls")
    finally:
        os.umask(old)

    assert stat.S_IMODE(dev.key_file.stat().st_mode) == 0o600


def test_live_server_key_file_is_mode_0600(server: LiveServer) -> None:
    key_file = server.settings.tls_dir / "key.pem"

    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


def test_dev_certificate_is_made_once_and_then_reused(tmp_path: Path) -> None:
    first = ensure_dev_certificate(tmp_path / "tls")
    contents = [first.ca_file.read_bytes(), first.cert_file.read_bytes()]

    second = ensure_dev_certificate(tmp_path / "tls")

    assert second == first
    assert [second.ca_file.read_bytes(), second.cert_file.read_bytes()] == contents
