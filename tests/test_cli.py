"""The ``credgate`` CLI, run as a real subprocess against the live server's database.

Secrets printed by the CLI are used at the live server's token endpoint, and tokens revoked
by the CLI are checked against the live server's protected API.
"""

from __future__ import annotations

import base64
import json
import os
import re
import sqlite3
import ssl
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import httpx
import pytest

from conftest import ISSUED, LiveServer, free_port, start_server

# Printed secrets and tokens look like cgs_/cgt_ followed by 43 + 6 base62 characters.
FULL_CREDENTIAL = re.compile(r"cg[st]_[0-9A-Za-z]{49}")
# Characters that break naive Basic handling: ':' splits, '%' and '+' are form-decoded.
AWKWARD_SECRET = "imported:secret%with+odd+chars é and 100% more:XYZ"


def cli(
    *args: str, env: dict[str, str], stdin: str | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run ``credgate ARGS``; any secret or token it prints is recorded for the at-rest check."""
    result = subprocess.run(
        [sys.executable, "-m", "credgate", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=timeout,
        check=False,
    )
    for value in FULL_CREDENTIAL.findall(result.stdout):
        (ISSUED.secrets if value.startswith("cgs_") else ISSUED.tokens).append(value)
    return result


def cli_json(*args: str, env: dict[str, str], stdin: str | None = None) -> Any:
    result = cli(*args, "--json", env=env, stdin=stdin)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def basic_header(client_id: str, secret: str) -> str:
    """RFC 6749 §2.3.1: form-urlencode id and secret, then join and base64 them."""
    raw = f"{quote_plus(client_id)}:{quote_plus(secret)}".encode()
    return "Basic " + base64.b64encode(raw).decode("ascii")


def remembered(response: httpx.Response) -> httpx.Response:
    if response.status_code == 200:
        ISSUED.tokens.append(response.json()["access_token"])
    return response


def token_request(http: httpx.Client, client_id: str, secret: str) -> httpx.Response:
    return remembered(
        http.post(
            "/oauth/token",
            data={"grant_type": "client_credentials"},
            headers={"Authorization": basic_header(client_id, secret)},
        )
    )


def token_by_post(http: httpx.Client, client_id: str, secret: str) -> httpx.Response:
    data = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}
    return remembered(http.post("/oauth/token", data=data))


def api_status(http: httpx.Client, token: str) -> int:
    return http.get("/api/users", headers={"Authorization": f"Bearer {token}"}).status_code


@pytest.fixture()
def fresh_env(tmp_path: Path) -> dict[str, str]:
    """An environment whose data directory does not exist yet."""
    env = {**os.environ, "CREDGATE_DATA_DIR": str(tmp_path / "data")}
    env.pop("CREDGATE_DATABASE_URL", None)
    return env


@pytest.fixture()
def account(server: LiveServer) -> str:
    """An account in the live server's database (made in process: account creation by the
    CLI has tests of its own)."""
    return server.account()


def create_client(server: LiveServer, account: str, *extra: str) -> dict[str, Any]:
    args = ["clients", "create", "--account", account, "--name", "cli client", *extra]
    document: dict[str, Any] = cli_json(*args, env=server.env)
    return document


# --- Accounts ----------------------------------------------------------------------------


def test_accounts_create_and_list_as_json(fresh_env: dict[str, str]) -> None:
    created = cli_json("accounts", "create", "acme", env=fresh_env)
    other = cli_json("accounts", "create", "globex", env=fresh_env)

    listed = cli_json("accounts", "list", env=fresh_env)

    assert created["name"] == "acme"
    assert uuid.UUID(created["id"])
    assert isinstance(created["created_at"], int)
    assert {(a["id"], a["name"], a["status"]) for a in listed} == {
        (created["id"], "acme", "active"),
        (other["id"], "globex", "active"),
    }


def test_accounts_create_text_output_names_the_account(fresh_env: dict[str, str]) -> None:
    result = cli("accounts", "create", "initech", env=fresh_env)

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("account initech created (id ")


def test_duplicate_account_fails_with_exit_1_and_message_on_stderr(
    fresh_env: dict[str, str],
) -> None:
    cli_json("accounts", "create", "acme", env=fresh_env)

    result = cli("accounts", "create", "acme", env=fresh_env)

    assert result.returncode == 1
    assert "error: an account named 'acme' exists already" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    assert len(cli_json("accounts", "list", env=fresh_env)) == 1


# --- Clients -----------------------------------------------------------------------------


def test_clients_create_json_prints_a_secret_that_works_at_the_live_server(
    server: LiveServer, http: httpx.Client, account: str
) -> None:
    created = create_client(
        server, account, "--scope", "users:read users:write", "--token-ttl", "600"
    )

    assert created["client_id"].startswith("cgc_")
    assert FULL_CREDENTIAL.fullmatch(created["client_secret"])
    assert created["scope"] == "users:read users:write"
    assert created["token_ttl"] == 600
    assert created["status"] == "active"
    response = token_request(http, created["client_id"], created["client_secret"])
    assert response.status_code == 200, response.text
    assert response.json()["scope"] == "users:read users:write"
    assert response.json()["expires_in"] == 600


def test_clients_create_text_output_shows_the_secret_and_says_it_is_shown_once(
    server: LiveServer, http: httpx.Client, account: str
) -> None:
    result = cli("clients", "create", "--account", account, "--name", "text", env=server.env)

    assert result.returncode == 0, result.stderr
    assert "shown only this once" in result.stdout
    client_id = re.search(r"client_id:\s+(\S+)", result.stdout)
    secret = re.search(r"client_secret:\s+(\S+)", result.stdout)
    assert client_id and secret
    assert token_request(http, client_id[1], secret[1]).status_code == 200


def test_clients_list_never_contains_a_secret(server: LiveServer, account: str) -> None:
    secrets = [create_client(server, account)["client_secret"] for _ in range(2)]

    as_json = cli("clients", "list", "--account", account, "--json", env=server.env)
    as_text = cli("clients", "list", "--account", account, env=server.env)

    assert as_json.returncode == 0
    assert as_text.returncode == 0
    listed = json.loads(as_json.stdout)
    assert len(listed) == 2
    assert all("client_secret" not in entry for entry in listed)
    for output in (as_json.stdout, as_text.stdout, as_json.stderr, as_text.stderr):
        assert not FULL_CREDENTIAL.search(output)
        assert not any(secret in output for secret in secrets)


@pytest.mark.parametrize(
    "scope",
    ["users:read admin", "admin", "users:read users:delete", 'users:read "quoted"'],
)
def test_unknown_or_malformed_scope_is_refused_and_creates_no_client(
    server: LiveServer, account: str, scope: str
) -> None:
    result = cli(
        "clients",
        "create",
        "--account",
        account,
        "--name",
        "x",
        "--scope",
        scope,
        env=server.env,
    )

    assert result.returncode == 1
    assert result.stderr.startswith("error: ")
    assert "scope" in result.stderr
    assert cli_json("clients", "list", "--account", account, env=server.env) == []


def test_unknown_scope_message_lists_the_known_scopes(server: LiveServer, account: str) -> None:
    result = cli(
        "clients",
        "create",
        "--account",
        account,
        "--name",
        "x",
        "--scope",
        "admin",
        env=server.env,
    )

    assert "unknown scope admin" in result.stderr
    assert "users:read users:write" in result.stderr


def test_clients_create_for_an_unknown_account_fails(server: LiveServer) -> None:
    result = cli(
        "clients",
        "create",
        "--account",
        f"nope-{uuid.uuid4().hex}",
        "--name",
        "x",
        env=server.env,
    )

    assert result.returncode == 1
    assert "error: no account named" in result.stderr


@pytest.mark.parametrize("ttl", ["0", "-5", str(7 * 24 * 3600 + 1)])
def test_out_of_range_token_ttl_is_refused(server: LiveServer, account: str, ttl: str) -> None:
    result = cli(
        "clients",
        "create",
        "--account",
        account,
        "--name",
        "x",
        "--token-ttl",
        ttl,
        env=server.env,
    )

    assert result.returncode == 1
    assert "error: the token lifetime" in result.stderr


# --- Secret rotation ---------------------------------------------------------------------


def test_rotate_secret_with_no_grace_replaces_the_old_secret_at_once(
    server: LiveServer, http: httpx.Client, account: str
) -> None:
    created = create_client(server, account)
    client_id, old = created["client_id"], created["client_secret"]

    rotated = cli_json("clients", "rotate-secret", client_id, "--grace", "0", env=server.env)

    new = rotated["client_secret"]
    assert rotated["client_id"] == client_id
    assert FULL_CREDENTIAL.fullmatch(new)
    assert new != old
    assert token_request(http, client_id, new).status_code == 200
    refused = token_request(http, client_id, old)
    assert refused.status_code == 401
    assert refused.json()["error"] == "invalid_client"


def test_rotate_secret_with_grace_keeps_the_old_secret_working(
    server: LiveServer, http: httpx.Client, account: str
) -> None:
    created = create_client(server, account)
    client_id, old = created["client_id"], created["client_secret"]

    rotated = cli_json("clients", "rotate-secret", client_id, "--grace", "300", env=server.env)

    assert token_request(http, client_id, rotated["client_secret"]).status_code == 200
    assert token_request(http, client_id, old).status_code == 200


def test_rotate_secret_text_output_shows_the_new_secret_once(
    server: LiveServer, http: httpx.Client, account: str
) -> None:
    client_id = create_client(server, account)["client_id"]

    result = cli("clients", "rotate-secret", client_id, env=server.env)

    assert result.returncode == 0, result.stderr
    assert "shown only this once" in result.stdout
    secret = re.search(r"client_secret:\s+(\S+)", result.stdout)
    assert secret
    assert token_request(http, client_id, secret[1]).status_code == 200


def test_rotate_secret_of_an_unknown_client_fails(server: LiveServer) -> None:
    result = cli("clients", "rotate-secret", "cgc_doesnotexist", env=server.env)

    assert result.returncode == 1
    assert "error: no client 'cgc_doesnotexist'" in result.stderr


# --- Imported secrets --------------------------------------------------------------------


def import_secret(
    server: LiveServer, account: str, command: str, secret: str, as_json: bool = True
) -> tuple[str, subprocess.CompletedProcess[str]]:
    """Create a client with, or rotate a new one to, a secret read from stdin.

    Returns the client id (empty when creation failed) and the finished process.
    """
    client_id = ""
    if command == "create":
        args = ["clients", "create", "--account", account, "--name", "imported"]
    else:
        client_id = create_client(server, account)["client_id"]
        args = ["clients", "rotate-secret", client_id, "--grace", "0"]
    args += ["--import-secret", *(["--json"] if as_json else [])]
    result = cli(*args, env=server.env, stdin=secret + "\n")
    if result.returncode == 0:
        ISSUED.secrets.append(secret)
    if command == "create" and result.returncode == 0:
        if as_json:
            client_id = json.loads(result.stdout)["client_id"]
        else:
            found = re.search(r"client_id:\s+(\S+)", result.stdout)
            assert found
            client_id = found[1]
    return client_id, result


@pytest.mark.parametrize("command", ["create", "rotate"])
def test_imported_secret_with_awkward_characters_authenticates(
    server: LiveServer, http: httpx.Client, account: str, command: str
) -> None:
    assert len(AWKWARD_SECRET) >= 32

    client_id, result = import_secret(server, account, command, AWKWARD_SECRET)

    assert result.returncode == 0, result.stderr
    basic = token_request(http, client_id, AWKWARD_SECRET)
    assert basic.status_code == 200, basic.text
    post = token_by_post(http, client_id, AWKWARD_SECRET)
    assert post.status_code == 200, post.text


@pytest.mark.parametrize("command", ["create", "rotate"])
def test_imported_secret_is_not_echoed_in_text_output(
    server: LiveServer, account: str, command: str
) -> None:
    _, result = import_secret(server, account, command, AWKWARD_SECRET, as_json=False)

    assert result.returncode == 0, result.stderr
    assert "(the imported secret)" in result.stdout
    assert AWKWARD_SECRET not in result.stdout
    assert AWKWARD_SECRET not in result.stderr


def test_imported_secret_does_not_authenticate_without_form_encoding_in_basic(
    server: LiveServer, http: httpx.Client, account: str
) -> None:
    client_id, result = import_secret(server, account, "create", AWKWARD_SECRET)
    assert result.returncode == 0, result.stderr

    # httpx's auth=(id, secret) joins them raw, so '%' and '+' are decoded away by the server.
    response = remembered(
        http.post(
            "/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(client_id, AWKWARD_SECRET),
        )
    )

    assert response.status_code in {400, 401}


def test_rotating_to_an_imported_secret_retires_the_old_one(
    server: LiveServer, http: httpx.Client, account: str
) -> None:
    created = create_client(server, account)
    args = ["clients", "rotate-secret", created["client_id"], "--import-secret"]

    result = cli(*args, env=server.env, stdin=AWKWARD_SECRET + "\n")

    assert result.returncode == 0, result.stderr
    ISSUED.secrets.append(AWKWARD_SECRET)
    assert token_request(http, created["client_id"], created["client_secret"]).status_code == 401
    assert token_request(http, created["client_id"], AWKWARD_SECRET).status_code == 200


@pytest.mark.parametrize("command", ["create", "rotate"])
@pytest.mark.parametrize(
    "secret",
    [
        pytest.param("x" * 31, id="31-chars"),
        pytest.param("", id="empty"),
    ],
)
def test_too_short_imported_secret_is_refused_with_exit_1(
    server: LiveServer, account: str, command: str, secret: str
) -> None:
    _, result = import_secret(server, account, command, secret, as_json=False)

    assert result.returncode == 1
    assert "error: an imported secret needs at least 32 chars" in result.stderr
    if secret:
        assert secret not in result.stderr
        assert secret not in result.stdout


def test_refused_imported_secret_on_create_leaves_no_client(
    server: LiveServer, account: str
) -> None:
    import_secret(server, account, "create", "too-short", as_json=False)

    assert cli_json("clients", "list", "--account", account, env=server.env) == []


def test_refused_imported_secret_on_rotate_keeps_the_old_secret(
    server: LiveServer, http: httpx.Client, account: str
) -> None:
    created = create_client(server, account)
    args = ["clients", "rotate-secret", created["client_id"], "--import-secret"]

    result = cli(*args, env=server.env, stdin="too-short\n")

    assert result.returncode == 1
    assert token_request(http, created["client_id"], created["client_secret"]).status_code == 200


# --- Tokens ------------------------------------------------------------------------------


@pytest.fixture()
def live_client(server: LiveServer, account: str) -> dict[str, Any]:
    return {**create_client(server, account), "account": account}


def issue(http: httpx.Client, client: dict[str, Any]) -> dict[str, Any]:
    response = token_request(http, client["client_id"], client["client_secret"])
    assert response.status_code == 200, response.text
    document: dict[str, Any] = response.json()
    return document


def test_tokens_list_shows_token_ids_but_never_token_values(
    server: LiveServer, http: httpx.Client, live_client: dict[str, Any]
) -> None:
    issued = [issue(http, live_client) for _ in range(2)]

    as_json = cli("tokens", "list", "--client", live_client["client_id"], "--json", env=server.env)
    as_text = cli("tokens", "list", "--client", live_client["client_id"], env=server.env)

    assert as_json.returncode == 0, as_json.stderr
    listed = json.loads(as_json.stdout)
    assert {entry["token_id"] for entry in listed} == {token["token_id"] for token in issued}
    assert all(entry["client_id"] == live_client["client_id"] for entry in listed)
    for entry in listed:
        assert set(entry) == {"token_id", "client_id", "scope", "issued_at", "expires_at"}
    for token in issued:
        assert token["token_id"] in as_text.stdout
        for output in (as_json.stdout, as_text.stdout, as_json.stderr, as_text.stderr):
            assert token["access_token"] not in output
            assert not FULL_CREDENTIAL.search(output)


def test_tokens_list_of_a_client_without_tokens_is_empty(
    server: LiveServer, live_client: dict[str, Any]
) -> None:
    assert cli_json("tokens", "list", "--client", live_client["client_id"], env=server.env) == []


def test_tokens_list_of_an_unknown_client_fails(server: LiveServer) -> None:
    result = cli("tokens", "list", "--client", "cgc_doesnotexist", env=server.env)

    assert result.returncode == 1
    assert "error: no client" in result.stderr


def test_tokens_revoke_makes_the_live_server_refuse_that_token_only(
    server: LiveServer, http: httpx.Client, live_client: dict[str, Any]
) -> None:
    revoked, kept = issue(http, live_client), issue(http, live_client)
    assert api_status(http, revoked["access_token"]) == 200

    result = cli("tokens", "revoke", revoked["token_id"], env=server.env)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"token {revoked['token_id']} revoked"
    response = http.get(
        "/api/users", headers={"Authorization": f"Bearer {revoked['access_token']}"}
    )
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["www-authenticate"]
    assert api_status(http, kept["access_token"]) == 200
    listed = cli_json("tokens", "list", "--client", live_client["client_id"], env=server.env)
    assert [entry["token_id"] for entry in listed] == [kept["token_id"]]


def test_tokens_revoke_twice_fails_the_second_time(
    server: LiveServer, http: httpx.Client, live_client: dict[str, Any]
) -> None:
    token = issue(http, live_client)
    assert cli("tokens", "revoke", token["token_id"], env=server.env).returncode == 0

    again = cli("tokens", "revoke", token["token_id"], env=server.env)

    assert again.returncode == 1
    assert "already revoked" in again.stderr


def test_tokens_revoke_of_an_unknown_token_fails(server: LiveServer) -> None:
    result = cli("tokens", "revoke", str(uuid.uuid4()), env=server.env)

    assert result.returncode == 1
    assert "error: no token" in result.stderr


def test_clients_revoke_ends_live_tokens_and_the_secret(
    server: LiveServer, http: httpx.Client, live_client: dict[str, Any]
) -> None:
    tokens = [issue(http, live_client) for _ in range(2)]
    assert all(api_status(http, token["access_token"]) == 200 for token in tokens)

    result = cli_json("clients", "revoke", live_client["client_id"], env=server.env)

    assert result == {
        "client_id": live_client["client_id"],
        "status": "revoked",
        "tokens_revoked": 2,
    }
    assert all(api_status(http, token["access_token"]) == 401 for token in tokens)
    refused = token_request(http, live_client["client_id"], live_client["client_secret"])
    assert refused.status_code == 401
    assert refused.json()["error"] == "invalid_client"
    listed = cli_json("clients", "list", "--account", live_client["account"], env=server.env)
    assert [entry["status"] for entry in listed] == ["revoked"]


def test_revoked_client_cannot_have_its_secret_rotated(
    server: LiveServer, live_client: dict[str, Any]
) -> None:
    cli_json("clients", "revoke", live_client["client_id"], env=server.env)

    result = cli("clients", "rotate-secret", live_client["client_id"], env=server.env)

    assert result.returncode == 1
    assert "error: the client is revoked" in result.stderr
    assert not FULL_CREDENTIAL.search(result.stdout)


# --- demo and migrate --------------------------------------------------------------------


def test_demo_exits_0_and_prints_each_step_without_full_credentials(
    fresh_env: dict[str, str],
) -> None:
    result = cli("demo", env=fresh_env, timeout=120)

    assert result.returncode == 0, result.stdout + result.stderr
    steps = [line for line in result.stdout.splitlines() if line.startswith("==> ")]
    assert len(steps) >= 5
    for expected in [
        "Creating account 'demo'",
        "Starting credgate on https://127.0.0.1:",
        "POST /oauth/token",
        "GET /api/users/",
        "POST /oauth/revoke",
        "refused: 401 invalid_token",
        "Demo complete",
    ]:
        assert expected in result.stdout
    assert not FULL_CREDENTIAL.search(result.stdout + result.stderr)
    assert not Path(fresh_env["CREDGATE_DATA_DIR"]).exists()


def test_demo_with_json_prints_one_document_of_its_steps(fresh_env: dict[str, str]) -> None:
    result = cli("demo", "--json", env=fresh_env, timeout=120)

    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["ok"] is True
    assert report["base_url"].startswith("https://127.0.0.1:")
    steps = [step["step"] for step in report["steps"]]
    assert steps[0] == "Creating account 'demo', a client and a user"
    assert any(step.startswith("POST /oauth/revoke") for step in steps)
    assert "refused: 401 invalid_token" in report["steps"][-1]["result"]
    assert not FULL_CREDENTIAL.search(result.stdout + result.stderr)


def test_migrate_with_json_names_the_schema_revision(fresh_env: dict[str, str]) -> None:
    report = cli_json("migrate", env=fresh_env)

    database = Path(fresh_env["CREDGATE_DATA_DIR"]) / "credgate.db"
    with sqlite3.connect(database) as connection:
        (revision,) = connection.execute("SELECT version_num FROM alembic_version").fetchone()
    assert report == {"database": "up to date", "revision": revision}


def test_serve_with_json_logs_json_lines_even_when_text_is_configured(tmp_path: Path) -> None:
    process, server = start_server(tmp_path, {"CREDGATE_LOG_FORMAT": "text"}, ("--json",))
    process.terminate()
    process.wait(timeout=15)

    lines = server.log_file.read_text().splitlines()
    # The one plain line is the hint on stdout about trusting the development certificate.
    log_lines = [line for line in lines if line.strip() and not line.startswith("Serving ")]
    events = [json.loads(line).get("event") for line in log_lines]
    assert "server.started" in events


def test_quickstart_with_json_prints_working_credentials_first(
    fresh_env: dict[str, str],
) -> None:
    port = free_port()
    command = [sys.executable, "-m", "credgate", "quickstart", "--json", "--port", str(port)]
    with subprocess.Popen(
        command, env=fresh_env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    ) as process:
        try:
            assert process.stdout is not None
            setup = json.loads(process.stdout.readline())
            ISSUED.secrets.append(setup["client_secret"])
            user_status = _call_as_quickstart_client(setup)
        finally:
            process.terminate()
            process.wait(timeout=15)

    assert setup["url"] == f"https://127.0.0.1:{port}"
    assert user_status == 200


def _call_as_quickstart_client(setup: dict[str, str]) -> int:
    trust = ssl.create_default_context(cafile=setup["ca_file"])
    _wait_until_listening(setup["url"], trust)
    with httpx.Client(base_url=setup["url"], verify=trust) as http:
        token = token_request(http, setup["client_id"], setup["client_secret"]).json()
        answer = http.get(f"/api/users/{setup['user_id']}", headers=bearer(token["token"]))
    return answer.status_code


def _wait_until_listening(url: str, trust: ssl.SSLContext) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(f"{url}/healthz", verify=trust)
            return
        except httpx.TransportError:
            time.sleep(0.1)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_migrate_on_a_fresh_data_dir_creates_the_database(fresh_env: dict[str, str]) -> None:
    database = Path(fresh_env["CREDGATE_DATA_DIR"]) / "credgate.db"
    assert not database.exists()

    result = cli("migrate", env=fresh_env)

    assert result.returncode == 0, result.stderr
    assert "database is up to date" in result.stdout
    assert database.exists()
    with sqlite3.connect(database) as connection:
        tables = {
            row[0]
            for row in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")
        }
    assert {
        "accounts",
        "clients",
        "client_secrets",
        "access_tokens",
        "users",
        "audit_events",
    } <= tables


def test_migrate_twice_is_harmless_and_keeps_data(fresh_env: dict[str, str]) -> None:
    assert cli("migrate", env=fresh_env).returncode == 0
    cli_json("accounts", "create", "acme", env=fresh_env)

    again = cli("migrate", env=fresh_env)

    assert again.returncode == 0, again.stderr
    assert [a["name"] for a in cli_json("accounts", "list", env=fresh_env)] == ["acme"]
