"""Shared token caches: several processes on a host use one token."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis

from client_sdk_support import ca_context, issued_times, sdk_auth
from conftest import LiveServer, Seeded
from credgate import management
from credgate.client import FileTokenCache, RedisTokenCache, cache_key

REDIS_URL = "redis://127.0.0.1:6379/4"

# A process that calls the API through the SDK with a shared cache and prints its token id.
WORKER = """
import os, sys, httpx
from credgate.client import ClientCredentialsAuth, FileTokenCache, RedisTokenCache

kind, where = sys.argv[1], sys.argv[2]
cache = (
    FileTokenCache(where) if kind == "file"
    else RedisTokenCache(os.environ["REDIS_URL"], prefix=where)
)
auth = ClientCredentialsAuth.from_env(cache=cache)
with httpx.Client(base_url=os.environ["API_URL"], verify=os.environ["CREDGATE_CA_BUNDLE"],
                  auth=auth) as api:
    for _ in range(5):
        api.get(os.environ["API_PATH"]).raise_for_status()
print(auth.get_token().token_id)
"""


def run_processes(server: LiveServer, seeded: Seeded, kind: str, where: str) -> list[str]:
    """Start two SDK processes at once; their token ids."""
    user = server.user(seeded.account)
    env = {
        **os.environ,
        "CREDGATE_TOKEN_URL": f"{server.base_url}/oauth/token",
        "CREDGATE_CLIENT_ID": seeded.client_id,
        "CREDGATE_CLIENT_SECRET": seeded.client_secret,
        "CREDGATE_CA_BUNDLE": str(server.ca_file),
        "CREDGATE_CLIENT_CONFIG": os.devnull,
        "API_URL": server.base_url,
        "API_PATH": f"/api/users/{user}",
        "REDIS_URL": REDIS_URL,
    }
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, kind, where],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    token_ids = []
    for process in processes:
        out, err = process.communicate(timeout=60)
        assert process.returncode == 0, err
        token_ids.append(out.strip())
    return token_ids


def test_two_processes_sharing_a_file_cache_get_one_token(
    server: LiveServer, client: Seeded, tmp_path: Path
) -> None:
    directory = tmp_path / "tokens"

    token_ids = run_processes(server, client, "file", str(directory))

    assert token_ids[0] == token_ids[1]
    assert len(issued_times(server, client.client_id)) == 1
    [stored] = directory.glob("*.json")
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert stored.stem == cache_key(f"{server.base_url}/oauth/token", client.client_id, None)
    text = stored.read_text()
    assert client.client_secret not in text
    assert json.loads(text)["token_id"] == token_ids[0]
    server.remember_token(json.loads(text)["access_token"])


def test_file_cache_gives_a_new_process_the_stored_token(
    server: LiveServer, client: Seeded, tmp_path: Path
) -> None:
    cache = FileTokenCache(tmp_path / "tokens")
    first = sdk_auth(server, client, cache=cache).get_token()
    second = sdk_auth(server, client, cache=cache).get_token()

    assert second == first
    assert len(issued_times(server, client.client_id)) == 1
    server.remember_token(first.value)


@pytest.fixture()
def redis_prefix() -> Iterator[str]:
    prefix = f"credgate-test:client-token:{uuid.uuid4().hex}:"
    yield prefix
    connection = redis.Redis.from_url(REDIS_URL)
    for key in connection.scan_iter(match=prefix + "*"):
        connection.delete(key)
    connection.close()


def test_two_processes_sharing_a_redis_cache_get_one_token(
    server: LiveServer, client: Seeded, redis_prefix: str
) -> None:
    token_ids = run_processes(server, client, "redis", redis_prefix)

    assert token_ids[0] == token_ids[1]
    assert len(issued_times(server, client.client_id)) == 1
    connection = redis.Redis.from_url(REDIS_URL)
    [key] = list(connection.scan_iter(match=redis_prefix + "*"))
    stored = connection.get(key)
    ttl = connection.pttl(key)
    connection.close()
    assert client.client_id.encode() not in key
    assert stored is not None
    assert client.client_secret.encode() not in stored
    assert 3_500_000 < ttl <= 3_600_000
    server.remember_token(json.loads(stored)["access_token"])


def test_token_rejected_by_the_api_is_not_taken_back_from_the_cache(
    server: LiveServer, client: Seeded, redis_prefix: str
) -> None:
    user = server.user(client.account)
    cache = RedisTokenCache(REDIS_URL, prefix=redis_prefix)
    auth = sdk_auth(server, client, cache=cache)
    first = auth.get_token()
    server.run(lambda rt: management.revoke_token(rt, first.token_id, actor="test"))

    with httpx.Client(base_url=server.base_url, verify=ca_context(server), auth=auth) as api:
        answer = api.get(f"/api/users/{user}")

    replaced = auth.get_token()
    assert answer.status_code == 200
    assert replaced.token_id != first.token_id
    assert sdk_auth(server, client, cache=cache).get_token() == replaced
    assert len(issued_times(server, client.client_id)) == 2
    server.remember_token(first.value)
    server.remember_token(replaced.value)
