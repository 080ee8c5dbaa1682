"""Configuration: environment over TOML file over defaults, shown masked, refused by name."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import LiveServer, free_port, start_server, stop_server

HASH_KEY = "5e" * 32
DB_PASSWORD = "hunter2-db-password"


@pytest.fixture()
def env(tmp_path: Path) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("CREDGATE_")}
    return {**base, "CREDGATE_DATA_DIR": str(tmp_path / "data")}


def credgate(
    *args: str, env: dict[str, str], cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "credgate", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def show(env: dict[str, str], cwd: Path | None = None) -> dict[str, Any]:
    result = credgate("config", "show", "--json", env=env, cwd=cwd)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def test_environment_wins_over_the_file_which_wins_over_defaults(
    env: dict[str, str], tmp_path: Path
) -> None:
    config = tmp_path / "prod.toml"
    config.write_text('default_token_ttl = 111\nrenewal_overlap = 7\nscopes = ["a:read"]\n')

    shown = show({**env, "CREDGATE_CONFIG_FILE": str(config), "CREDGATE_DEFAULT_TOKEN_TTL": "222"})

    assert shown["config_file"] == str(config)
    settings = shown["settings"]
    assert settings["default_token_ttl"] == 222  # environment
    assert settings["renewal_overlap"] == 7  # file
    assert settings["scopes"] == ["a:read"]  # file
    assert settings["renewal_max_age"] == 86400  # default


def test_credgate_toml_in_the_working_directory_is_read_by_default(
    env: dict[str, str], tmp_path: Path
) -> None:
    (tmp_path / "credgate.toml").write_text("hsts_max_age = 600\n")
    other = tmp_path / "other.toml"
    other.write_text("hsts_max_age = 900\n")

    assert show(env, cwd=tmp_path)["settings"]["hsts_max_age"] == 600
    named = show({**env, "CREDGATE_CONFIG_FILE": str(other)}, cwd=tmp_path)
    assert named["settings"]["hsts_max_age"] == 900
    assert show(env)["config_file"] is None


def test_config_show_masks_the_hash_key_and_database_password(env: dict[str, str]) -> None:
    env = {
        **env,
        "CREDGATE_HASH_KEY": HASH_KEY,
        "CREDGATE_DATABASE_URL": f"postgresql://credgate:{DB_PASSWORD}@db.internal:5432/cg",
    }

    text = credgate("config", "show", env=env)
    shown = show(env)["settings"]

    assert text.returncode == 0, text.stderr
    for output in (text.stdout, json.dumps(shown)):
        assert HASH_KEY not in output
        assert DB_PASSWORD not in output
    assert shown["hash_key"] == "***"
    assert shown["database_url"] == "postgresql://credgate:***@db.internal:5432/cg"
    assert 'hash_key = "***"' in text.stdout
    assert "default_token_ttl = 3600" in text.stdout


def test_the_effective_database_url_is_shown_when_unset(env: dict[str, str]) -> None:
    shown = show(env)["settings"]

    assert shown["database_url"].startswith("sqlite+aiosqlite:///")
    assert shown["database_url"].endswith("/data/credgate.db")


@pytest.mark.parametrize(
    ("variable", "value", "named"),
    [
        ("CREDGATE_DEFAULT_TOKEN_TTL", "an hour", "CREDGATE_DEFAULT_TOKEN_TTL"),
        ("CREDGATE_HASH_KEY", "not-hex-but-quite-secret", "CREDGATE_HASH_KEY"),
        ("CREDGATE_HASH_KEY", "abcd", "CREDGATE_HASH_KEY"),
        ("CREDGATE_DATABASE_URL", "mysql://x@y/z", "CREDGATE_DATABASE_URL"),
        ("CREDGATE_LOG_LEVEL", "LOUD", "CREDGATE_LOG_LEVEL"),
        ("CREDGATE_RENEWAL_OVERLAP", "-1", "CREDGATE_RENEWAL_OVERLAP"),
        ("CREDGATE_TRUSTED_PROXIES", "*", "CREDGATE_TRUSTED_PROXIES"),
        ("CREDGATE_TRUSTED_PROXIES", "10.0.0.1 proxy.internal", "CREDGATE_TRUSTED_PROXIES"),
        ("CREDGATE_CONFIG_FILE", "/nonexistent/credgate.toml", "CREDGATE_CONFIG_FILE"),
    ],
)
def test_a_bad_setting_stops_serve_with_its_name_and_no_traceback(
    env: dict[str, str], variable: str, value: str, named: str
) -> None:
    result = credgate("serve", "--port", str(free_port()), env={**env, variable: value})

    assert result.returncode == 1
    assert named in result.stderr
    assert result.stderr.startswith("error: bad configuration")
    assert "Traceback" not in result.stderr
    if variable == "CREDGATE_HASH_KEY":
        assert value not in result.stderr


@pytest.mark.parametrize(
    ("content", "named"),
    [
        ("default_token_ttl = 'soon'\n", "CREDGATE_DEFAULT_TOKEN_TTL"),
        ("default_tokn_ttl = 60\n", "unknown setting default_tokn_ttl"),
        ("default_token_ttl = \n", "config file"),
    ],
)
def test_a_bad_config_file_stops_serve_naming_the_problem(
    env: dict[str, str], tmp_path: Path, content: str, named: str
) -> None:
    config = tmp_path / "credgate.toml"
    config.write_text(content)

    result = credgate("serve", "--port", str(free_port()), env=env, cwd=tmp_path)

    assert result.returncode == 1
    assert named in result.stderr
    assert "Traceback" not in result.stderr


@pytest.fixture()
def configured_server(tmp_path: Path) -> Iterator[LiveServer]:
    config = tmp_path / "credgate.toml"
    config.write_text("hsts_max_age = 1234\n")
    process, live = start_server(tmp_path, {"CREDGATE_CONFIG_FILE": str(config)})
    yield live
    stop_server(process)


def test_the_server_runs_with_the_files_settings(configured_server: LiveServer) -> None:
    with configured_server.http() as http:
        response = http.get("/healthz")

    assert response.status_code == 200
    assert response.headers["strict-transport-security"] == "max-age=1234; includeSubDomains"
