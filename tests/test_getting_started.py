"""The getting-started guide's curl commands run as written against a live server."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import LiveServer
from toolchains import tool_env

GUIDE = Path(__file__).resolve().parent.parent / "docs" / "getting-started.md"


def blocks(section: str) -> list[str]:
    """The sh blocks of the section whose heading starts with ``section``."""
    text = GUIDE.read_text()
    (body,) = [part for part in text.split("\n## ") if part.startswith(section)]
    return [
        re.sub(r"^ {2}", "", b, flags=re.M) for b in re.findall(r"```sh\n(.*?)```", body, re.S)
    ]


def run(script: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        env=tool_env(**env),
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture()
def env(server: LiveServer) -> dict[str, str]:
    seeded = server.client(scope="users:read")
    user_id = server.user(seeded.account, email="ada@example.com", name="Ada Lovelace")
    return {
        "CREDGATE_URL": server.base_url,
        "CREDGATE_CA": str(server.ca_file),
        "CLIENT_ID": seeded.client_id,
        "CLIENT_SECRET": seeded.client_secret,
        "USER_ID": user_id,
    }


def test_guide_shows_the_three_ways_to_create_a_token() -> None:
    assert len(blocks("2. Create a token")) == 3


@pytest.mark.parametrize("index", [0, 1, 2], ids=["basic", "form-fields", "json"])
def test_each_create_token_command_gets_a_token_that_reads_a_user(
    server: LiveServer, env: dict[str, str], index: int
) -> None:
    created = run(blocks("2. Create a token")[index], env)
    assert created.returncode == 0, created.stderr
    token = json.loads(created.stdout)
    server.remember_token(token["access_token"])
    assert token["token_type"] == "Bearer"

    (call,) = blocks("3. Call the API")
    user = run(call, {**env, "TOKEN": token["access_token"]})
    assert user.returncode == 0, user.stderr
    assert json.loads(user.stdout)["email"] == "ada@example.com"

    (renew,) = blocks("4. Keep the expiry")
    renewed = run(renew, {**env, "TOKEN": token["access_token"], "TOKEN_ID": token["token_id"]})
    assert renewed.returncode == 0, renewed.stderr
    fresh = json.loads(renewed.stdout)
    server.remember_token(fresh["access_token"])
    assert fresh["token_id"] != token["token_id"]


def test_rotation_command_keeps_the_old_secret_working_beside_the_new_one(
    server: LiveServer, env: dict[str, str]
) -> None:
    (rotate,) = blocks("5. Rotate a secret")
    cli = {
        **server.env,
        **env,
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
    }

    rotated = run(rotate, cli)

    assert rotated.returncode == 0, rotated.stderr
    (new_secret,) = set(re.findall(r"cgs_[A-Za-z0-9]+", rotated.stdout))
    server.remember_secret(new_secret)
    assert new_secret != env["CLIENT_SECRET"]
    basic = blocks("2. Create a token")[0]
    for secret in (env["CLIENT_SECRET"], new_secret):
        created = run(basic, {**env, "CLIENT_SECRET": secret})
        assert created.returncode == 0, created.stderr
        server.remember_token(json.loads(created.stdout)["access_token"])
