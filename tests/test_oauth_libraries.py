"""Standard OAuth 2.0 client libraries, each in its own language, against a live server.

Every library gets a token with the client credentials grant, with its default client
authentication and with the other methods it offers, then calls the sample API with it.
Python's requests-oauthlib and Authlib are covered in ``test_clients_e2e``. A library whose
toolchain is missing here is skipped with the reason, never reported as passed.
"""

from __future__ import annotations

import json
import shutil
import ssl
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import httpx_auth
import pytest

import toolchains
from conftest import LiveServer, Seeded
from toolchains import Toolchain, tool_env

# Client compatibility: the same in both passes, so run in the SQLite pass only.
pytestmark = pytest.mark.database_independent

LIBRARIES = Path(__file__).resolve().parent / "oauth_libraries"
TIMEOUT = 120


@dataclass
class Target:
    seeded: Seeded
    user_id: str
    email: str

    def env(self, server: LiveServer, method: str) -> dict[str, str]:
        return {
            "CREDGATE_URL": server.base_url,
            "CREDGATE_CA": str(server.ca_file),
            "NODE_EXTRA_CA_CERTS": str(server.ca_file),
            "CLIENT_ID": self.seeded.client_id,
            "CLIENT_SECRET": self.seeded.client_secret,
            "USER_ID": self.user_id,
            "AUTH_METHOD": method,
        }


@pytest.fixture()
def target(server: LiveServer) -> Target:
    seeded = server.client(scope="users:read")
    email = f"{uuid.uuid4().hex[:10]}@example.com"
    return Target(seeded, server.user(seeded.account, email=email), email)


def _answer_is_a_token_and_the_user(
    server: LiveServer, target: Target, result: subprocess.CompletedProcess[str]
) -> dict[str, Any]:
    assert result.returncode == 0, result.stderr
    answer: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    token = answer["token"]
    server.remember_token(token["access_token"])
    assert token["access_token"].startswith("cgt_")
    assert token["token_type"].lower() == "bearer"
    assert answer["user"]["id"] == target.user_id
    assert answer["user"]["email"] == target.email
    assert target.seeded.client_secret not in result.stdout + result.stderr
    return token


def _run(
    toolchain: Toolchain, command: list[str], env: dict[str, str], cwd: Path
) -> subprocess.CompletedProcess[str]:
    toolchain.require()
    return subprocess.run(
        command, env=tool_env(**env), cwd=cwd, capture_output=True, text=True, timeout=TIMEOUT
    )


@pytest.fixture(scope="module")
def node_checks(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Node.js scripts in a folder that resolves the npm packages of .cache/npm-examples."""
    folder = tmp_path_factory.mktemp("node-libraries")
    for script in LIBRARIES.glob("*.mjs"):
        shutil.copy(script, folder)
    (folder / "node_modules").symlink_to(toolchains.NPM_PACKAGES / "node_modules")
    return folder


@pytest.mark.parametrize(
    ("library", "method"),
    [
        ("openid-client", "default"),
        ("openid-client", "client_secret_basic"),
        ("openid-client", "client_secret_post"),
        ("oauth4webapi", "client_secret_basic"),
        ("oauth4webapi", "client_secret_post"),
        ("simple-oauth2", "default"),
        ("simple-oauth2", "client_secret_post"),
        ("simple-oauth2", "client_secret_json"),
    ],
)
def test_node_library_gets_a_token_and_reads_a_user(
    server: LiveServer, target: Target, node_checks: Path, library: str, method: str
) -> None:
    result = _run(
        toolchains.NODE_PACKAGES,
        ["node", str(node_checks / f"{library}.mjs")],
        target.env(server, method),
        node_checks,
    )

    token = _answer_is_a_token_and_the_user(server, target, result)
    assert token["scope"] == "users:read"


@pytest.fixture(scope="module")
def go_check(tmp_path_factory: pytest.TempPathFactory) -> Path:
    toolchains.GO_OAUTH2.require()
    binary = tmp_path_factory.mktemp("go-oauth2") / "oauth2-check"
    # GOPATH mode against the sources Debian ships: no module proxy, no network.
    subprocess.run(
        ["go", "build", "-o", str(binary), "."],
        cwd=LIBRARIES / "go",
        env=tool_env(GOPATH=str(toolchains.DEBIAN_GOPATH), GO111MODULE="off", GOPROXY="off"),
        check=True,
        capture_output=True,
        timeout=TIMEOUT,
    )
    return binary


@pytest.mark.parametrize("method", ["default", "client_secret_basic", "client_secret_post"])
def test_go_x_oauth2_clientcredentials_gets_a_token_and_reads_a_user(
    server: LiveServer, target: Target, go_check: Path, method: str
) -> None:
    result = _run(
        toolchains.GO_OAUTH2, [str(go_check)], target.env(server, method), go_check.parent
    )

    token = _answer_is_a_token_and_the_user(server, target, result)
    assert uuid.UUID(token["token_id"])


@pytest.mark.parametrize("method", ["default", "client_secret_basic", "client_secret_post"])
def test_ruby_oauth2_gem_gets_a_token_and_reads_a_user(
    server: LiveServer, target: Target, tmp_path: Path, method: str
) -> None:
    result = _run(
        toolchains.RUBY_OAUTH2,
        ["ruby", str(LIBRARIES / "oauth2.rb")],
        target.env(server, method),
        tmp_path,
    )

    token = _answer_is_a_token_and_the_user(server, target, result)
    assert token["scope"] == "users:read"


def test_httpx_auth_client_credentials_gets_a_token_and_reads_a_user(
    server: LiveServer, target: Target
) -> None:
    seeded = target.seeded
    verify = ssl.create_default_context(cafile=server.ca_file)
    sent: list[httpx.Request] = []
    token_client = httpx.Client(verify=verify, event_hooks={"request": [sent.append]})
    auth = httpx_auth.OAuth2ClientCredentials(
        server.base_url + "/oauth/token",
        client_id=seeded.client_id,
        client_secret=seeded.client_secret,
        scope="users:read",
        client=token_client,
    )

    with token_client, httpx.Client(base_url=server.base_url, verify=verify, auth=auth) as http:
        response = http.get(f"/api/users/{target.user_id}")

    assert response.status_code == 200, response.text
    assert response.json()["email"] == target.email
    (token_request,) = sent
    # httpx-auth's default is HTTP Basic with a form body.
    assert token_request.headers["authorization"].startswith("Basic ")
    assert token_request.headers["content-type"] == "application/x-www-form-urlencoded"
    server.remember_token(response.request.headers["authorization"].removeprefix("Bearer "))
