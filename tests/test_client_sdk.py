"""The client SDK against a real server: httpx sync and async, requests, errors, settings."""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import re
import ssl
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import httpx
import pytest
import requests

from client_sdk_support import CountingTransport, ca_context, log_events, sdk_auth
from conftest import LiveServer, Seeded, free_port
from credgate import management
from credgate.client import (
    ClientCredentialsAuth,
    Credentials,
    CredgateClientError,
    InvalidCredentials,
    InvalidScope,
    MissingSetting,
    RetryPolicy,
    ServerUnavailable,
)

README = Path(__file__).resolve().parent.parent / "README.md"


@pytest.fixture()
def user(server: LiveServer, client: Seeded) -> str:
    return server.user(client.account)


def test_httpx_client_calls_the_api_with_one_token_for_many_calls(
    server: LiveServer, client: Seeded, user: str
) -> None:
    auth = sdk_auth(server, client)
    with httpx.Client(base_url=server.base_url, verify=ca_context(server), auth=auth) as api:
        answers = [api.get(f"/api/users/{user}") for _ in range(5)]

    assert [answer.status_code for answer in answers] == [200] * 5
    assert answers[0].json()["id"] == user
    assert len(log_events(server, "token.issued", client.client_id)) == 1
    server.remember_token(auth.get_token().value)


async def test_httpx_async_client_calls_the_api(
    server: LiveServer, client: Seeded, user: str
) -> None:
    auth = sdk_auth(server, client)
    async with httpx.AsyncClient(
        base_url=server.base_url, verify=ca_context(server), auth=auth
    ) as api:
        answer = await api.get(f"/api/users/{user}")

    assert answer.status_code == 200
    assert answer.json()["id"] == user
    assert len(log_events(server, "token.issued", client.client_id)) == 1
    server.remember_token((await auth.aget_token()).value)


def test_requests_session_calls_the_api(server: LiveServer, client: Seeded, user: str) -> None:
    auth = sdk_auth(server, client)
    with requests.Session() as session:
        session.auth = auth
        session.trust_env = False  # else REQUESTS_CA_BUNDLE overrides verify
        session.verify = str(server.ca_file)
        answers = [session.get(f"{server.base_url}/api/users/{user}") for _ in range(3)]

    assert [answer.status_code for answer in answers] == [200] * 3
    assert answers[0].json()["id"] == user
    assert len(log_events(server, "token.issued", client.client_id)) == 1
    server.remember_token(auth.get_token().value)


def test_token_request_uses_basic_and_asks_for_the_configured_scope(
    server: LiveServer, client: Seeded, user: str
) -> None:
    auth = sdk_auth(server, client, scope=["users:read"])
    token = auth.get_token()
    server.remember_token(token.value)

    assert token.scope == "users:read"
    assert token.token_id
    assert 3590 <= token.lifetime <= 3600
    with httpx.Client(base_url=server.base_url, verify=ca_context(server), auth=auth) as api:
        assert api.get(f"/api/users/{user}").status_code == 200
        written = api.post("/api/users", json={"email": "x@example.com", "name": "X"})
    assert written.status_code == 403
    [issued] = log_events(server, "token.issued", client.client_id)
    assert issued["scope"] == "users:read"


def test_secret_with_reserved_characters_is_form_encoded_before_base64(
    server: LiveServer,
) -> None:
    secret = "s3cret+with/reserved:chars&=%" + uuid.uuid4().hex
    seeded = server.client(imported_secret=secret)
    auth = sdk_auth(server, seeded)

    server.remember_token(auth.get_token().value)

    assert len(log_events(server, "token.issued", seeded.client_id)) == 1


def test_revoked_token_is_replaced_after_one_401_and_the_call_succeeds(
    server: LiveServer, client: Seeded, user: str
) -> None:
    auth = sdk_auth(server, client)
    transport = CountingTransport(server)
    with httpx.Client(base_url=server.base_url, transport=transport, auth=auth) as api:
        assert api.get(f"/api/users/{user}").status_code == 200
        first = auth.get_token()
        server.run(lambda rt: management.revoke_token(rt, first.token_id, actor="test"))

        answer = api.get(f"/api/users/{user}")

    assert answer.status_code == 200
    assert transport.statuses == [200, 401, 200]
    assert auth.get_token().token_id != first.token_id
    assert len(log_events(server, "token.issued", client.client_id)) == 2
    server.remember_token(first.value)
    server.remember_token(auth.get_token().value)


def test_requests_session_retries_once_after_a_revoked_token(
    server: LiveServer, client: Seeded, user: str
) -> None:
    auth = sdk_auth(server, client)
    with requests.Session() as session:
        session.auth = auth
        session.trust_env = False  # else REQUESTS_CA_BUNDLE overrides verify
        session.verify = str(server.ca_file)
        assert session.get(f"{server.base_url}/api/users/{user}").status_code == 200
        first = auth.get_token()
        server.run(lambda rt: management.revoke_token(rt, first.token_id, actor="test"))

        answer = session.get(f"{server.base_url}/api/users/{user}")

    assert answer.status_code == 200
    assert [old.status_code for old in answer.history] == [401]
    assert len(log_events(server, "token.issued", client.client_id)) == 2
    server.remember_token(first.value)
    server.remember_token(auth.get_token().value)


def test_streaming_body_is_not_sent_twice_after_a_401(server: LiveServer, client: Seeded) -> None:
    auth = sdk_auth(server, client)
    transport = CountingTransport(server)
    first = auth.get_token()
    server.run(lambda rt: management.revoke_token(rt, first.token_id, actor="test"))

    def body():  # type: ignore[no-untyped-def]
        yield b'{"email": "stream@example.com", "name": "Stream"}'

    with httpx.Client(base_url=server.base_url, transport=transport, auth=auth) as api:
        answer = api.post(
            "/api/users", content=body(), headers={"Content-Type": "application/json"}
        )

    assert answer.status_code == 401
    assert transport.statuses == [401]
    server.remember_token(first.value)


def test_wrong_secret_raises_invalid_credentials_at_once_with_one_token_request(
    server: LiveServer, client: Seeded
) -> None:
    other = server.client()
    auth = ClientCredentialsAuth(
        token_url=f"{server.base_url}/oauth/token",
        client_id=client.client_id,
        client_secret=other.client_secret,
        verify=str(server.ca_file),
    )
    started = time.monotonic()

    with pytest.raises(InvalidCredentials) as raised:
        auth.get_token()

    assert time.monotonic() - started < 2
    assert raised.value.error == "invalid_client"
    assert raised.value.status_code == 401
    assert len(log_events(server, "client.auth_failed", client.client_id)) == 1
    assert other.client_secret not in str(raised.value)
    assert other.client_secret not in repr(raised.value)


def test_wrong_credentials_through_httpx_raise_invalid_credentials(
    server: LiveServer, client: Seeded, user: str
) -> None:
    auth = ClientCredentialsAuth(
        token_url=f"{server.base_url}/oauth/token",
        client_id=client.client_id,
        client_secret="cgs_not-a-real-secret-at-all-but-long-enough-0000",
        verify=str(server.ca_file),
    )
    with (
        httpx.Client(base_url=server.base_url, verify=ca_context(server), auth=auth) as api,
        pytest.raises(InvalidCredentials),
    ):
        api.get(f"/api/users/{user}")


def test_scope_the_client_lacks_raises_invalid_scope(server: LiveServer) -> None:
    seeded = server.client(scope="users:read")
    auth = sdk_auth(server, seeded, scope="users:write")

    with pytest.raises(InvalidScope) as raised:
        auth.get_token()

    assert raised.value.error == "invalid_scope"
    assert isinstance(raised.value, CredgateClientError)


def test_unreachable_token_endpoint_is_retried_with_backoff_then_server_unavailable(
    client: Seeded,
) -> None:
    auth = ClientCredentialsAuth(
        token_url=f"https://127.0.0.1:{free_port()}/oauth/token",
        client_id=client.client_id,
        client_secret=client.client_secret,
        retry=RetryPolicy(attempts=3, backoff=0.2),
    )
    started = time.monotonic()

    with pytest.raises(ServerUnavailable) as raised:
        auth.get_token()

    elapsed = time.monotonic() - started
    assert raised.value.attempts == 3
    assert 0.15 <= elapsed < 5  # two waits of 0.1-0.2 s and 0.2-0.4 s
    assert client.client_secret not in str(raised.value)


def test_missing_settings_raise_an_error_naming_them(tmp_path: Path) -> None:
    environ = {"CREDGATE_CLIENT_CONFIG": str(tmp_path / "none.toml")}
    (tmp_path / "none.toml").write_text("[default]\n")

    with pytest.raises(MissingSetting) as no_url:
        ClientCredentialsAuth.from_env(environ=environ)
    environ["CREDGATE_TOKEN_URL"] = "https://auth.example.com/oauth/token"
    environ["CREDGATE_CLIENT_ID"] = "cgc_example"
    with pytest.raises(MissingSetting) as no_secret:
        ClientCredentialsAuth.from_env(environ=environ)
    with pytest.raises(MissingSetting) as no_argument:
        ClientCredentialsAuth(token_url="https://auth.example.com/oauth/token", client_id="x")

    assert no_url.value.setting == "CREDGATE_TOKEN_URL"
    assert no_secret.value.setting == "CREDGATE_CLIENT_SECRET"
    assert "CREDGATE_CLIENT_SECRET" in str(no_secret.value)
    assert no_argument.value.setting == "client_secret"


def test_from_env_reads_the_environment_and_discovers_the_token_url(
    server: LiveServer, client: Seeded, user: str, tmp_path: Path
) -> None:
    environ = {
        "CREDGATE_ISSUER": server.base_url,
        "CREDGATE_CLIENT_ID": client.client_id,
        "CREDGATE_CLIENT_SECRET": client.client_secret,
        "CREDGATE_SCOPE": "users:read",
        "CREDGATE_CA_BUNDLE": str(server.ca_file),
        "CREDGATE_CLIENT_CONFIG": str(tmp_path / "absent.toml"),
    }
    (tmp_path / "absent.toml").write_text("")
    auth = ClientCredentialsAuth.from_env(environ=environ)

    with httpx.Client(base_url=server.base_url, verify=ca_context(server), auth=auth) as api:
        answer = api.get(f"/api/users/{user}")

    assert answer.status_code == 200
    assert auth.get_token().scope == "users:read"
    server.remember_token(auth.get_token().value)


def test_config_file_profile_supplies_what_the_environment_does_not(
    server: LiveServer, client: Seeded, user: str, tmp_path: Path
) -> None:
    config = tmp_path / "client.toml"
    config.write_text(
        "[default]\n"
        'token_url = "https://wrong.example.com/oauth/token"\n'
        "[partner]\n"
        f'token_url = "{server.base_url}/oauth/token"\n'
        f'client_id = "{client.client_id}"\n'
        f'client_secret = "{client.client_secret}"\n'
        f'ca_bundle = "{server.ca_file}"\n'
    )
    config.chmod(0o600)
    environ = {"CREDGATE_CLIENT_CONFIG": str(config), "CREDGATE_PROFILE": "partner"}

    from_env = ClientCredentialsAuth.from_env(environ=environ)
    from_file = ClientCredentialsAuth.from_config(config, profile="partner")

    for auth in (from_env, from_file):
        with requests.Session() as session:
            session.auth = auth
            session.trust_env = False  # else REQUESTS_CA_BUNDLE overrides verify
            session.verify = str(server.ca_file)
            assert session.get(f"{server.base_url}/api/users/{user}").status_code == 200
        server.remember_token(auth.get_token().value)
    with pytest.raises(CredgateClientError, match="no profile"):
        ClientCredentialsAuth.from_config(config, profile="absent")


def test_config_file_readable_by_others_is_warned_about_without_the_secret(
    client: Seeded, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = tmp_path / "client.toml"
    config.write_text(
        "[default]\n"
        'token_url = "https://auth.example.com/oauth/token"\n'
        f'client_id = "{client.client_id}"\n'
        f'client_secret = "{client.client_secret}"\n'
    )
    config.chmod(0o644)

    with caplog.at_level(logging.WARNING, logger="credgate.client"):
        ClientCredentialsAuth.from_config(config)

    assert [record.message for record in caplog.records] == ["client.config_readable"]
    assert client.client_secret not in caplog.text


def test_secret_provider_is_called_again_after_invalid_client_to_pick_up_a_rotation(
    server: LiveServer, client: Seeded, user: str
) -> None:
    vault = {"secret": client.client_secret}
    calls = []

    def provider() -> Credentials:
        calls.append(1)
        return Credentials(client.client_id, vault["secret"])

    auth = ClientCredentialsAuth.from_secret_provider(
        provider,
        token_url=f"{server.base_url}/oauth/token",
        verify=str(server.ca_file),
        renew_margin=10_000,  # renew at every call, so each call asks for a token
    )
    server.remember_token(auth.get_token().value)
    rotated = server.run(
        lambda rt: management.rotate_secret(rt, client.client_id, grace=0, actor="test")
    )
    vault["secret"] = server.remember_secret(rotated.client_secret)

    token = auth.get_token()

    server.remember_token(token.value)
    assert len(calls) == 2
    assert len(log_events(server, "client.auth_failed", client.client_id)) == 1
    assert len(log_events(server, "token.issued", client.client_id)) == 2


def test_secret_never_appears_in_reprs_logs_or_errors(
    server: LiveServer, client: Seeded, caplog: pytest.LogCaptureFixture
) -> None:
    auth = sdk_auth(server, client)
    wrong = ClientCredentialsAuth(
        token_url=f"{server.base_url}/oauth/token",
        client_id=client.client_id,
        client_secret=client.client_secret + "x",
        verify=str(server.ca_file),
    )
    unreachable = ClientCredentialsAuth(
        token_url=f"https://127.0.0.1:{free_port()}/oauth/token",
        client_id=client.client_id,
        client_secret=client.client_secret,
        retry=RetryPolicy(attempts=2, backoff=0.01),
    )

    with caplog.at_level(logging.DEBUG):
        token = auth.get_token()
        server.remember_token(token.value)
        errors = []
        for failing in (wrong, unreachable):
            with pytest.raises(CredgateClientError) as raised:
                failing.get_token()
            errors.append(raised.value)

    texts = [repr(auth), str(auth.__dict__.get("_credentials")), repr(token), caplog.text]
    texts += [str(error) for error in errors] + [repr(error) for error in errors]
    texts.append(repr(Credentials(client.client_id, client.client_secret)))
    assert client.client_id in repr(auth)
    for text in texts:
        assert client.client_secret not in text
        assert token.value not in text
    assert "client.token_received" in caplog.text


def test_renewal_margin_defaults_to_30_s_or_10_percent_and_at_most_half_the_lifetime() -> None:
    from credgate.client import Token

    hour = Token(value="t", expires_at=10_000.0, lifetime=3600.0)
    minute = Token(value="t", expires_at=10_000.0, lifetime=120.0)
    short = Token(value="t", expires_at=10_000.0, lifetime=3.0)

    assert hour.renew_at() == 10_000 - 360
    assert minute.renew_at() == 10_000 - 30
    assert short.renew_at() == 10_000 - 1.5
    assert short.renew_at(margin=0.5) == 10_000 - 0.5
    assert not hour.needs_renewal(now=10_000 - 361)
    assert hour.needs_renewal(now=10_000 - 360)


class _Maintenance(BaseHTTPRequestHandler):
    """What a load balancer in front of a token endpoint answers during maintenance."""

    hits: ClassVar[list[float]] = []

    def do_POST(self) -> None:
        self.hits.append(time.monotonic())
        self.send_response(503)
        self.send_header("Retry-After", "1")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        return


def test_503_with_retry_after_is_retried_after_that_delay_then_server_unavailable(
    client: Seeded,
) -> None:
    balancer = ThreadingHTTPServer(("127.0.0.1", 0), _Maintenance)
    threading.Thread(target=balancer.serve_forever, daemon=True).start()
    auth = ClientCredentialsAuth(
        token_url=f"http://127.0.0.1:{balancer.server_port}/oauth/token",
        client_id=client.client_id,
        client_secret=client.client_secret,
        retry=RetryPolicy(attempts=3, backoff=0.01),
    )

    try:
        with pytest.raises(ServerUnavailable) as raised:
            auth.get_token()
    finally:
        balancer.shutdown()
        balancer.server_close()

    hits = _Maintenance.hits
    assert len(hits) == 3
    assert all(later - earlier >= 0.95 for earlier, later in itertools.pairwise(hits))
    assert raised.value.retry_after == 1
    assert "HTTP 503" in str(raised.value)


def test_tasks_of_several_event_loops_share_one_token_request(server: LiveServer) -> None:
    seeded = server.client()
    user = server.user(seeded.account)
    auth = sdk_auth(server, seeded)
    statuses: list[int] = []

    async def loop_main() -> None:
        async with httpx.AsyncClient(
            base_url=server.base_url, verify=ca_context(server), auth=auth
        ) as api:
            answers = await asyncio.gather(*(api.get(f"/api/users/{user}") for _ in range(10)))
        statuses.extend(answer.status_code for answer in answers)

    loops = [threading.Thread(target=asyncio.run, args=(loop_main(),)) for _ in range(4)]
    for thread in loops:
        thread.start()
    for thread in loops:
        thread.join()

    assert statuses == [200] * 40
    assert len(log_events(server, "token.issued", seeded.client_id)) == 1
    server.remember_token(auth.get_token().value)


def test_readme_sdk_example_runs_as_written(server: LiveServer, client: Seeded) -> None:
    section = README.read_text().split("## Calling the API with the Python SDK", 1)[1]
    shell = re.search(r"```sh\n(.*?)```", section, re.DOTALL)
    program = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert shell and program
    user_id = server.user(client.account, email="sdk-readme@example.com")
    env = {
        **os.environ,
        "CREDGATE_URL": server.base_url,
        "CREDGATE_CA": str(server.ca_file),
        "CLIENT_ID": client.client_id,
        "CLIENT_SECRET": client.client_secret,
        "USER_ID": user_id,
        "CREDGATE_CLIENT_CONFIG": os.devnull,
        "PYTHON": sys.executable,
    }
    script = shell.group(1) + "\"$PYTHON\" - <<'PY'\n" + program.group(1) + "PY\n"

    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert "sdk-readme@example.com" in result.stdout
    assert result.stdout.strip().endswith("200")
    assert len(log_events(server, "token.issued", client.client_id)) == 1


def test_arguments_to_from_env_win_over_the_environment(
    server: LiveServer, client: Seeded
) -> None:
    environ = {
        "CREDGATE_TOKEN_URL": "https://wrong.example.com/oauth/token",
        "CREDGATE_CLIENT_ID": client.client_id,
        "CREDGATE_CLIENT_SECRET": client.client_secret,
        "CREDGATE_SCOPE": "users:write",
        "CREDGATE_CLIENT_CONFIG": os.devnull,
    }

    auth = ClientCredentialsAuth.from_env(
        environ=environ,
        token_url=f"{server.base_url}/oauth/token",
        scope="users:read",
        verify=str(server.ca_file),
    )

    token = auth.get_token()
    server.remember_token(token.value)
    assert token.scope == "users:read"


def test_secret_provider_returning_something_else_is_refused_without_a_token_request(
    server: LiveServer, client: Seeded
) -> None:
    auth = ClientCredentialsAuth.from_secret_provider(
        lambda: (client.client_id, client.client_secret),  # type: ignore[arg-type,return-value]
        token_url=f"{server.base_url}/oauth/token",
        verify=str(server.ca_file),
    )

    with pytest.raises(CredgateClientError, match="must return Credentials") as raised:
        auth.get_token()

    assert client.client_secret not in str(raised.value)
    assert log_events(server, "client.auth_failed", client.client_id) == []
    assert log_events(server, "token.issued", client.client_id) == []


def test_expiry_is_measured_from_local_receipt_so_clock_skew_does_not_matter() -> None:
    from credgate.client import Token

    requested_at = 1_000_000.0
    body = {
        "access_token": "cgt_x",
        "token_type": "Bearer",
        "expires_in": 3600,
        "expires_at": 1,  # a server clock far behind, or far ahead: not used
    }

    token = Token.from_response(body, requested_at=requested_at)

    assert token.expires_at == requested_at + 3600
    assert not token.needs_renewal(now=requested_at + 3000)
    assert token.needs_renewal(now=requested_at + 3240)


class _FirstUnavailable(BaseHTTPRequestHandler):
    """A proxy in front of the token endpoint that answers 503 once, then forwards."""

    upstream: ClassVar[str] = ""
    ca_file: ClassVar[str] = ""
    hits: ClassVar[list[int]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.hits.append(1)
        if len(self.hits) == 1:
            self.send_response(503)
            self.send_header("Retry-After", "0")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
        with httpx.Client(verify=ssl.create_default_context(cafile=self.ca_file)) as http:
            answer = http.post(self.upstream, content=body, headers=headers)
        self.send_response(answer.status_code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer.content)))
        self.end_headers()
        self.wfile.write(answer.content)

    def log_message(self, format: str, *args: object) -> None:
        return


def test_token_endpoint_back_after_a_503_gives_the_token_on_the_retry(
    server: LiveServer, client: Seeded
) -> None:
    _FirstUnavailable.upstream = f"{server.base_url}/oauth/token"
    _FirstUnavailable.ca_file = str(server.ca_file)
    proxy = ThreadingHTTPServer(("127.0.0.1", 0), _FirstUnavailable)
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    auth = ClientCredentialsAuth(
        token_url=f"http://127.0.0.1:{proxy.server_port}/oauth/token",
        client_id=client.client_id,
        client_secret=client.client_secret,
    )

    try:
        token = auth.get_token()
    finally:
        proxy.shutdown()
        proxy.server_close()

    server.remember_token(token.value)
    assert len(_FirstUnavailable.hits) == 2
    assert [
        event["token_id"] for event in log_events(server, "token.issued", client.client_id)
    ] == [token.token_id]


@pytest.mark.parametrize(
    "token_url",
    ["http://auth.example.com/oauth/token", "ftp://127.0.0.1/oauth/token", "https:///token"],
)
def test_token_url_that_would_send_the_secret_in_clear_text_is_refused(token_url: str) -> None:
    with pytest.raises(CredgateClientError, match="https://"):
        ClientCredentialsAuth(token_url=token_url, client_id="cgc_x", client_secret="cgs_y")


def test_requests_streaming_body_is_not_sent_twice_after_a_401(
    server: LiveServer, client: Seeded
) -> None:
    auth = sdk_auth(server, client)
    first = auth.get_token()
    server.run(lambda rt: management.revoke_token(rt, first.token_id, actor="test"))

    def body():  # type: ignore[no-untyped-def]
        yield b'{"email": "stream@example.com", "name": "Stream"}'

    with requests.Session() as session:
        session.trust_env = False  # else REQUESTS_CA_BUNDLE overrides verify
        answer = session.post(
            f"{server.base_url}/api/users",
            data=body(),
            headers={"Content-Type": "application/json"},
            auth=auth,
            verify=str(server.ca_file),
        )

    assert answer.status_code == 401
    assert answer.history == []
    assert len(log_events(server, "token.issued", client.client_id)) == 1
    server.remember_token(first.value)
