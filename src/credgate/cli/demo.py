"""``credgate demo``: a throwaway server and the whole flow over real HTTPS calls."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import typer

from credgate import management
from credgate.config import Settings
from credgate.runtime import Runtime
from credgate.server.tls import ensure_dev_certificate
from credgate.storage.migrate import upgrade


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Transcript:
    """Where the demo's steps go: coloured lines as they happen, or (``--json``) one JSON
    document at the end, so a script can check the run without scraping text."""

    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json
        self.steps: list[dict[str, str]] = []

    def step(self, text: str) -> None:
        self.steps.append({"step": text, "result": ""})
        if not self.as_json:
            typer.secho(f"==> {text}", fg=typer.colors.CYAN)

    def ok(self, text: str) -> None:
        self.steps[-1]["result"] = text
        if not self.as_json:
            typer.secho(f"    ok: {text}", fg=typer.colors.GREEN)

    def finish(self, base_url: str, error: str | None) -> None:
        if self.as_json:
            report: dict[str, object] = {"ok": error is None, "base_url": base_url}
            report["steps"] = self.steps
            if error:
                report["error"] = error
            typer.echo(json.dumps(report, indent=2))
        elif error:
            typer.secho(f"demo failed: {error}", fg=typer.colors.RED, err=True)
        else:
            typer.secho(
                "Demo complete: token issued, API called, token revoked and refused.",
                fg=typer.colors.GREEN,
            )


def _masked(value: str) -> str:
    return value[:8] + "..." if len(value) > 8 else "***"


async def _seed(settings: Settings) -> tuple[str, str, str]:
    runtime = Runtime.start(settings)
    try:
        await management.create_account(runtime, "demo", actor="demo")
        new = await management.create_client(
            runtime,
            account_name="demo",
            name="demo client",
            scope="users:read users:write",
            actor="demo",
        )
        user = await management.create_user(runtime, "demo", "ada@example.com", "Ada Lovelace")
        return new.client.client_id, new.client_secret, user.id
    finally:
        await runtime.close()


def _wait_until_up(client: httpx.Client, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError("the demo server exited during start-up")
        try:
            if client.get("/healthz").status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.2)
    raise RuntimeError("the demo server did not start within 30 seconds")


def _expect(response: httpx.Response, status: int, what: str) -> dict[str, Any]:
    if response.status_code != status:
        raise RuntimeError(f"{what}: expected {status}, got {response.status_code}")
    body: dict[str, Any] = response.json() if response.content else {}
    return body


def _walk(
    out: Transcript, client: httpx.Client, client_id: str, secret: str, user_id: str
) -> None:
    out.step("POST /oauth/token (client credentials over HTTP Basic)")
    token = _expect(
        client.post(
            "/oauth/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret)
        ),
        200,
        "create token",
    )
    out.ok(
        f"token_id {token['token_id']}, scope '{token['scope']}', "
        f"expires_in {token['expires_in']}s, token {_masked(token['access_token'])}"
    )
    bearer = {"Authorization": f"Bearer {token['access_token']}"}

    out.step(f"GET /api/users/{user_id} with Authorization: Bearer")
    user = _expect(client.get(f"/api/users/{user_id}", headers=bearer), 200, "API call")
    out.ok(f"{user['name']} <{user['email']}>")

    out.step("POST /oauth/revoke (RFC 7009)")
    _expect(
        client.post(
            "/oauth/revoke", data={"token": token["access_token"]}, auth=(client_id, secret)
        ),
        200,
        "revoke",
    )
    out.ok("token revoked")

    out.step(f"GET /api/users/{user_id} with the revoked token")
    refused = client.get(f"/api/users/{user_id}", headers=bearer)
    error = _expect(refused, 401, "call with revoked token")
    challenge = refused.headers["www-authenticate"]
    out.ok(f"refused: 401 {error['error']}; WWW-Authenticate: {challenge}")


def run_demo(port: int, as_json: bool = False) -> int:
    port = port or free_port()
    out = Transcript(as_json)
    base_url = f"https://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="credgate-demo-") as data_dir:
        env = {**os.environ, "CREDGATE_DATA_DIR": data_dir, "CREDGATE_LOG_LEVEL": "WARNING"}
        env.pop("CREDGATE_DATABASE_URL", None)
        settings = Settings(data_dir=Path(data_dir), database_url=None)
        upgrade(settings.resolved_database_url)
        ca_file = ensure_dev_certificate(settings.tls_dir).ca_file

        out.step("Creating account 'demo', a client and a user")
        client_id, secret, user_id = asyncio.run(_seed(settings))
        out.ok(f"client_id {client_id}, client_secret {_masked(secret)} (shown once)")

        out.step(f"Starting credgate on https://127.0.0.1:{port}")
        server_log = Path(data_dir) / "server.log"
        server = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "credgate", "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=server_log.open("wb"),
        )
        try:
            with httpx.Client(
                base_url=base_url, verify=ssl.create_default_context(cafile=ca_file), timeout=10
            ) as client:
                _wait_until_up(client, server)
                out.ok("server is up (TLS with the development certificate)")
                _walk(out, client, client_id, secret, user_id)
        except (RuntimeError, httpx.HTTPError) as exc:
            out.finish(base_url, str(exc))
            typer.echo(server_log.read_text(errors="replace"), err=True)
            return 1
        finally:
            server.terminate()
            server.wait(timeout=15)
    out.finish(base_url, None)
    return 0
