"""Every answer carries an ``X-Request-ID``, and every log line of the request carries it too.

An incoming id is kept only from a trusted proxy (here 127.0.0.1) and only when it looks like
an id; a client connecting from elsewhere (127.0.0.2) always gets a fresh one.
"""

from __future__ import annotations

import json
import os
import pty
import ssl
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from conftest import LiveServer, start_server, stop_server
from fleet_support import seconds_until

PROXY = "127.0.0.1"
ELSEWHERE = "127.0.0.2"


@pytest.fixture(scope="module")
def proxied(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    tmp = tmp_path_factory.mktemp("request-id")
    process, live = start_server(tmp, {"CREDGATE_TRUSTED_PROXIES": PROXY})
    yield live
    stop_server(process)


def connect_from(server: LiveServer, address: str) -> httpx.Client:
    return httpx.Client(
        base_url=server.base_url,
        verify=ssl.create_default_context(cafile=server.ca_file),
        transport=httpx.HTTPTransport(
            local_address=address, verify=ssl.create_default_context(cafile=server.ca_file)
        ),
        timeout=10,
    )


def log_lines(server: LiveServer) -> list[dict]:  # type: ignore[type-arg]
    lines = server.log_file.read_text().splitlines()
    return [json.loads(line) for line in lines if line.startswith("{")]


def wait_for_log(server: LiveServer, event: str, request_id: str) -> list[dict]:  # type: ignore[type-arg]
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        found = [
            line
            for line in log_lines(server)
            if line["event"] == event and line.get("request_id") == request_id
        ]
        if found:
            return found
        time.sleep(0.05)
    return []


def test_every_answer_carries_a_fresh_request_id(http: httpx.Client) -> None:
    answers = [http.get("/healthz"), http.get("/no/such/page"), http.get("/api/users")]

    ids = [answer.headers["x-request-id"] for answer in answers]
    assert [answer.status_code for answer in answers] == [200, 404, 401]
    assert all(uuid.UUID(value) for value in ids)
    assert len(set(ids)) == 3


def test_trusted_proxy_request_id_is_kept(proxied: LiveServer) -> None:
    with connect_from(proxied, PROXY) as http:
        answer = http.get("/healthz", headers={"X-Request-ID": "edge-42.a:b_c"})

    assert answer.headers["x-request-id"] == "edge-42.a:b_c"


@pytest.mark.parametrize(
    "incoming",
    ["has space", "x" * 129, "semi;colon", "\u00e9t\u00e9", ""],
)
def test_insane_request_id_from_the_proxy_is_replaced(proxied: LiveServer, incoming: str) -> None:
    with connect_from(proxied, PROXY) as http:
        answer = http.get("/healthz", headers={"X-Request-ID": incoming.encode()})  # type: ignore[dict-item]

    assert answer.headers["x-request-id"] != incoming
    assert uuid.UUID(answer.headers["x-request-id"])


def test_request_id_from_an_untrusted_peer_is_replaced(proxied: LiveServer) -> None:
    with connect_from(proxied, ELSEWHERE) as http:
        answer = http.get("/healthz", headers={"X-Request-ID": "forged-id"})

    assert answer.headers["x-request-id"] != "forged-id"
    assert uuid.UUID(answer.headers["x-request-id"])


def test_log_lines_of_a_request_carry_its_id(proxied: LiveServer) -> None:
    seeded = proxied.client()
    request_id = f"trace-{uuid.uuid4().hex}"
    with connect_from(proxied, PROXY) as http:
        answer = http.post(
            "/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(seeded.client_id, seeded.client_secret),
            headers={"X-Request-ID": request_id},
        )
        proxied.remember_token(answer.json()["access_token"])
        refused = http.post(
            "/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(seeded.client_id, "cg_sk_wrong"),
            headers={"X-Request-ID": request_id + "-2"},
        )

    assert answer.headers["x-request-id"] == request_id
    assert refused.headers["x-request-id"] == request_id + "-2"
    issued = wait_for_log(proxied, "token.issued", request_id)
    assert issued and issued[0]["client_id"] == seeded.client_id
    assert wait_for_log(proxied, "client.auth_failed", request_id + "-2")


def test_lines_outside_a_request_have_no_request_id(proxied: LiveServer) -> None:
    started = [line for line in log_lines(proxied) if line["event"] == "server.started"]

    assert started and "request_id" not in started[0]


def _log_format_with_stderr(stderr: int, env: dict[str, str]) -> str:
    code = "from credgate.config import Settings; from credgate.logs import resolve_format; "
    code += "print(resolve_format(Settings().log_format))"
    result = subprocess.run(
        [sys.executable, "-c", code],
        stdout=subprocess.PIPE,
        stderr=stderr,
        env={**{k: v for k, v in os.environ.items() if k != "CREDGATE_LOG_FORMAT"}, **env},
        check=True,
        timeout=30,
    )
    return result.stdout.decode().strip()


def test_logs_are_text_on_a_terminal_and_json_otherwise() -> None:
    leader, follower = pty.openpty()
    try:
        on_terminal = _log_format_with_stderr(follower, {})
        forced_json = _log_format_with_stderr(follower, {"CREDGATE_LOG_FORMAT": "json"})
    finally:
        os.close(leader)
        os.close(follower)
    to_a_pipe = _log_format_with_stderr(subprocess.PIPE, {})

    assert (on_terminal, forced_json, to_a_pipe) == ("text", "json", "json")


def test_text_logs_show_the_event_with_its_fields_and_request_id(tmp_path: Path) -> None:
    process, live = start_server(tmp_path, {"CREDGATE_LOG_FORMAT": "text"})
    try:
        seeded = live.client()
        with live.http() as http:
            answer = http.post(
                "/oauth/token",
                data={"grant_type": "client_credentials"},
                auth=(seeded.client_id, seeded.client_secret),
            )
        live.remember_token(answer.json()["access_token"])
        request_id = answer.headers["x-request-id"]
        expected = f"client_id={seeded.client_id}"
        found = seconds_until(
            lambda: any(
                " token.issued " in line and expected in line and request_id in line
                for line in live.log_file.read_text().splitlines()
            )
        )
    finally:
        stop_server(process)

    assert found < float("inf")
    assert not live.log_file.read_text().lstrip().startswith("{")
