"""Fixtures: a real credgate server over HTTPS on a free port, and helpers to seed it.

The server runs as its own process with its own data directory, exactly as ``credgate serve``
runs for users. Tests seed accounts and clients through the same management functions the CLI
uses, against the same database, and talk to the server with real HTTP clients.
"""

from __future__ import annotations

import asyncio
import os
import socket
import ssl
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from credgate import management
from credgate.cache.changes import TRUST_SECONDS
from credgate.config import Settings
from credgate.runtime import Runtime
from credgate.server.tls import ensure_dev_certificate
from credgate.storage.changes import read_generation
from credgate.storage.migrate import upgrade


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Seeded:
    client_id: str
    client_secret: str = field(repr=False)
    account: str


@dataclass
class Issued:
    """Every client secret and token value handed out this session, on any server.

    ``test_secrets_at_rest`` runs last and checks that none of them rests in clear text in a
    database or a server log.
    """

    secrets: list[str] = field(default_factory=list, repr=False)
    tokens: list[str] = field(default_factory=list, repr=False)
    servers: list[LiveServer] = field(default_factory=list, repr=False)
    # Logs of servers started other than by ``start_server``, checked all the same.
    logs: list[Path] = field(default_factory=list, repr=False)


ISSUED = Issued()


@dataclass
class LiveServer:
    """A running ``credgate serve`` and what tests need to reach and seed it."""

    base_url: str
    ca_file: Path
    data_dir: Path
    log_file: Path
    env: dict[str, str]
    settings: Settings
    issued_secrets: list[str] = field(default_factory=list, repr=False)

    def http(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.base_url,
            verify=ssl.create_default_context(cafile=self.ca_file),
            timeout=10,
        )

    def remember_secret(self, value: str) -> str:
        """Record a secret a test got other than through ``client()``."""
        ISSUED.secrets.append(value)
        return value

    def remember_token(self, value: str) -> str:
        """Record a token value a test got other than through ``token()``."""
        ISSUED.tokens.append(value)
        return value

    def run(self, coroutine_factory):  # type: ignore[no-untyped-def]
        """Run a coroutine on a runtime of its own, as the CLI would, beside the server.

        A credential change made this way reaches the server's caches within the bound the
        server promises (``TRUST_SECONDS``), not at once: when the coroutine changed
        credentials, this waits that long, so tests see what a caller would after it.
        """

        async def main():  # type: ignore[no-untyped-def]
            runtime = Runtime.start(self.settings)
            try:
                before = await read_generation(runtime.engine)
                result = await coroutine_factory(runtime)
                changed = await read_generation(runtime.engine) != before
                return result, changed
            finally:
                await runtime.close()

        result, changed = asyncio.run(main())
        if changed:
            time.sleep(TRUST_SECONDS)
        return result

    def account(self, name: str | None = None) -> str:
        name = name or f"acct-{uuid.uuid4().hex[:8]}"
        self.run(lambda rt: management.create_account(rt, name, actor="test"))
        return name

    def client(
        self,
        scope: str = "users:read users:write",
        token_ttl: int | None = None,
        account: str | None = None,
        imported_secret: str | None = None,
    ) -> Seeded:
        account = account or self.account()
        new = self.run(
            lambda rt: management.create_client(
                rt,
                account_name=account,
                name="test client",
                scope=scope,
                token_ttl=token_ttl,
                imported_secret=imported_secret,
                actor="test",
            )
        )
        self.issued_secrets.append(new.client_secret)
        self.remember_secret(new.client_secret)
        return Seeded(new.client.client_id, new.client_secret, account)

    def user(self, account: str, email: str | None = None, name: str = "Grace Hopper") -> str:
        email = email or f"{uuid.uuid4().hex[:8]}@example.com"
        user = self.run(lambda rt: management.create_user(rt, account, email, name))
        return str(user.id)

    def token(self, seeded: Seeded, **data: str) -> dict:  # type: ignore[type-arg]
        with self.http() as http:
            response = http.post(
                "/oauth/token",
                data={"grant_type": "client_credentials", **data},
                auth=(seeded.client_id, seeded.client_secret),
            )
        assert response.status_code == 200, response.text
        self.remember_token(response.json()["access_token"])
        return response.json()  # type: ignore[no-any-return]


def start_server(
    tmp: Path, extra_env: dict[str, str] | None = None, serve_args: tuple[str, ...] = ()
) -> tuple[subprocess.Popen[bytes], LiveServer]:
    """``credgate serve`` on a free port; ``serve_args=("--plain-http",)`` for behind a proxy."""
    data_dir = tmp / "data"
    port = free_port()
    env = {
        **os.environ,
        "CREDGATE_DATA_DIR": str(data_dir),
        "CREDGATE_LOG_LEVEL": "DEBUG",
        "CREDGATE_RENEWAL_OVERLAP": "1",
        # The suite fails authentications by the hundred from loopback; test_rate_limits
        # sets the limits it tests.
        "CREDGATE_AUTH_FAILURE_LIMIT": "100000/minute",
        "CREDGATE_AUTH_FAILURE_LIMIT_PER_ADDRESS": "100000/minute",
        **(extra_env or {}),
    }
    # A test that brings its own database (a private instance it stops) keeps it.
    database_url = (extra_env or {}).get("CREDGATE_DATABASE_URL")
    database_url = database_url or os.environ.get("CREDGATE_TEST_DATABASE_URL")
    if database_url:
        env["CREDGATE_DATABASE_URL"] = database_url
    settings = Settings(
        data_dir=data_dir,
        database_url=database_url,
        renewal_overlap=float(env["CREDGATE_RENEWAL_OVERLAP"]),
    )
    upgrade(settings.resolved_database_url)
    ca_file = ensure_dev_certificate(settings.tls_dir).ca_file
    log_file = tmp / "server.log"
    with log_file.open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "credgate", "serve", "--port", str(port), *serve_args],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    scheme = "http" if "--plain-http" in serve_args else "https"
    server = LiveServer(f"{scheme}://127.0.0.1:{port}", ca_file, data_dir, log_file, env, settings)
    ISSUED.servers.append(server)
    _wait_for(server, process)
    return process, server


def _wait_for(server: LiveServer, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    # Behind a proxy, plain HTTP may be refused (403): the server answers all the same.
    ready = (200, 403) if server.base_url.startswith("http:") else (200,)
    with server.http() as http:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(server.log_file.read_text())
            try:
                if http.get("/healthz").status_code in ready:
                    return
            except httpx.TransportError:
                time.sleep(0.1)
    raise RuntimeError("server did not start")


def stop_server(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests marked ``last`` run after every other, so they see the whole session's work.

    Tests marked ``database_independent`` (client compatibility, not storage) run in the
    SQLite pass only: the PostgreSQL pass would repeat them to no purpose.
    """
    items.sort(key=lambda item: item.get_closest_marker("last") is not None)
    if shared_test_database_url() is None:
        return
    skip = pytest.mark.skip(reason="database-independent: run in the SQLite pass")
    for item in items:
        if item.get_closest_marker("database_independent") is not None:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def issued() -> Issued:
    return ISSUED


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The shared server for most end-to-end tests."""
    process, live = start_server(tmp_path_factory.mktemp("server"))
    yield live
    stop_server(process)


@pytest.fixture()
def http(server: LiveServer) -> Iterator[httpx.Client]:
    with server.http() as client:
        yield client


@pytest.fixture()
def client(server: LiveServer) -> Seeded:
    """A fresh client with both user scopes, in an account of its own."""
    return server.client()


# --- the database under test: SQLite by default, PostgreSQL when the run names one ------


def shared_test_database_url() -> str | None:
    """``CREDGATE_TEST_DATABASE_URL``: the PostgreSQL database this run shares, if any."""
    return os.environ.get("CREDGATE_TEST_DATABASE_URL") or None


async def _postgres_admin(url: str, statement: str) -> None:
    import asyncpg
    from sqlalchemy.engine import make_url

    server = make_url(url).set(drivername="postgresql", database="postgres")
    connection = await asyncpg.connect(server.render_as_string(hide_password=False))
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@pytest.fixture()
def scratch_database_url(tmp_path: Path) -> Iterator[str]:
    """An empty database of the run's kind, for tests of the schema itself.

    On PostgreSQL it is a database of its own next to the run's (named after it, so it shares
    its prefix), dropped afterwards; on SQLite a file in the test's directory.
    """
    shared = shared_test_database_url()
    if shared is None:
        yield f"sqlite:///{tmp_path / 'scratch.db'}"
        return
    from sqlalchemy.engine import make_url

    name = f"{make_url(shared).database}_{uuid.uuid4().hex[:6]}"
    asyncio.run(_postgres_admin(shared, f'CREATE DATABASE "{name}"'))
    yield make_url(shared).set(database=name).render_as_string(hide_password=False)
    asyncio.run(_postgres_admin(shared, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
