"""docs/deployment.md says only what is tested: its config loads, its nginx block is the one
the proxy test runs, and its commands run (``credgate serve`` is run by the server tests)."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import LiveServer, start_server, stop_server
from credgate.storage.database import is_sqlite
from private_redis import PrivateRedis
from test_behind_nginx import NGINX_CONF

DOC = Path(__file__).parent.parent / "docs" / "deployment.md"
BLOCK = re.compile(r"^ *```(\w+)\n(.*?)^ *```", re.MULTILINE | re.DOTALL)
README = Path(__file__).parent.parent / "README.md"


def blocks(language: str) -> list[str]:
    found = [body for lang, body in BLOCK.findall(DOC.read_text()) if lang == language]
    assert found, f"no {language} block in {DOC.name}"
    return found


def sh_commands() -> list[str]:
    lines = [line.strip() for block in blocks("sh") for line in block.splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


def location(text: str) -> list[str]:
    """The ``location / { ... }`` block, one stripped line each."""
    lines = [line.strip() for line in text.replace("{{", "{").replace("}}", "}").splitlines()]
    start = lines.index("location / {")
    return lines[start : lines.index("}", start) + 1]


@pytest.fixture()
def env(tmp_path: Path, scratch_database_url: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("CREDGATE_")}
    return {
        **base,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{base.get('PATH', '')}",
        "CREDGATE_DATA_DIR": str(tmp_path / "data"),
        "CREDGATE_DATABASE_URL": scratch_database_url,
        "DATABASE": scratch_database_url,
    }


def test_the_readme_links_the_deployment_guide() -> None:
    assert "(docs/deployment.md)" in README.read_text()


def test_the_nginx_location_is_the_one_the_proxy_test_runs() -> None:
    assert location(blocks("nginx")[0]) == location(NGINX_CONF)


def test_the_production_config_file_loads(env: dict[str, str], tmp_path: Path) -> None:
    config = tmp_path / "credgate.toml"
    config.write_text(blocks("toml")[0])
    env = {k: v for k, v in env.items() if k != "CREDGATE_DATABASE_URL"}

    result = subprocess.run(
        [sys.executable, "-m", "credgate", "config", "show", "--json"],
        env={**env, "CREDGATE_CONFIG_FILE": str(config)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    settings = json.loads(result.stdout)["settings"]
    assert settings["database_url"] == "postgresql://credgate@db.internal:5432/credgate"
    assert settings["trusted_proxies"] == ["10.0.0.5"]
    assert settings["allow_loopback_http"] is False
    assert settings["redis_url"] == "redis://redis.internal:6379/0"
    assert settings["metrics"] is True


def test_serve_commands_use_options_serve_has() -> None:
    serve_help = subprocess.run(
        [sys.executable, "-m", "credgate", "serve", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    serves = [line for line in sh_commands() if line.startswith("credgate serve")]

    assert serves
    for line in serves:
        for option in (word for word in shlex.split(line) if word.startswith("--")):
            assert option in serve_help, option


def test_every_other_command_of_the_guide_runs(env: dict[str, str], tmp_path: Path) -> None:
    """In the page's order, against an empty database of the run's kind."""
    ran = []
    hash_key = ""
    for line in sh_commands():
        if line.startswith(("credgate serve", "curl")):
            continue  # long-running, or probes of a server: the server tests run them
        if line.startswith(("pg_dump", "pg_restore")) and is_sqlite(env["DATABASE"]):
            continue  # PostgreSQL's tools, run in the PostgreSQL pass
        # The key the guide made is the one the later commands run with.
        command_env = {**env, "CREDGATE_HASH_KEY": hash_key} if hash_key else env
        result = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", line],
            env=command_env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, (line, result.stderr)
        if line.startswith("python3 -c 'import secrets"):
            hash_key = result.stdout.strip()
            assert re.fullmatch(r"[0-9a-f]{64}", hash_key)
        ran.append(line.split()[0:3])

    assert ["credgate", "migrate"] in ran
    assert ["credgate", "tokens", "purge"] in ran


@pytest.fixture()
def probed(tmp_path: Path) -> Iterator[tuple[LiveServer, PrivateRedis]]:
    """An instance as the guide runs it: plain HTTP behind a trusted proxy, Redis, metrics."""
    redis_home = tmp_path / "redis"
    redis_home.mkdir()
    redis = PrivateRedis(redis_home)
    redis.start()
    env = {
        "CREDGATE_TRUSTED_PROXIES": "127.0.0.1",
        "CREDGATE_ALLOW_LOOPBACK_HTTP": "false",
        "CREDGATE_REDIS_URL": redis.url,
        "CREDGATE_METRICS": "true",
        "CREDGATE_METRICS_TOKEN": "guide-metrics-key",
    }
    process, live = start_server(tmp_path, env, serve_args=("--plain-http",))
    yield live, redis
    stop_server(process)
    redis.stop()


def test_the_probe_commands_answer(probed: tuple[LiveServer, PrivateRedis]) -> None:
    live, _ = probed
    env = {
        **os.environ,
        "INSTANCE": live.base_url.removeprefix("http://"),
        "CREDGATE_METRICS_TOKEN": "guide-metrics-key",
    }
    outputs = {}
    for line in (line for line in sh_commands() if line.startswith("curl")):
        result = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", line],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, (line, result.stderr)
        outputs[line.split('"')[-2].rsplit("/", 1)[-1]] = result.stdout

    assert json.loads(outputs["readyz"]) == json.loads(blocks("json")[0])
    assert "credgate_request_duration_seconds_bucket" in outputs["metrics"]
    assert "guide-metrics-key" not in outputs["metrics"]
