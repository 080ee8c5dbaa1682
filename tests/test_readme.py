"""The README's curl walk-through runs as written against a live server."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from conftest import LiveServer

README = Path(__file__).resolve().parent.parent / "README.md"


def walkthrough_script() -> str:
    text = README.read_text()
    section = text.split("## Walk-through with curl", 1)[1]
    match = re.search(r"```sh\n(.*?)```", section, re.DOTALL)
    assert match, "the walk-through section has no sh block"
    return match.group(1)


def test_curl_walkthrough_runs_as_written(server: LiveServer) -> None:
    seeded = server.client()
    user_id = server.user(seeded.account, email="ada@example.com", name="Ada Lovelace")
    env = {
        **server.env,
        "CREDGATE_URL": server.base_url,
        "CREDGATE_CA": str(server.ca_file),
        "CLIENT_ID": seeded.client_id,
        "CLIENT_SECRET": seeded.client_secret,
        "USER_ID": user_id,
    }

    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", walkthrough_script()],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert '"token_type":"Bearer"' in result.stdout
    assert '"email":"ada@example.com"' in result.stdout
    assert "HTTP/1.1 401" in result.stdout or "HTTP/2 401" in result.stdout
    assert 'error="invalid_token"' in result.stdout
