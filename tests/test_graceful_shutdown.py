"""SIGTERM: requests already started finish with their answer; new connections are refused.

A load balancer stops sending to an instance it is draining, and the instance must not cut
off the requests it has already begun, least of all a token that was committed but not yet
handed to its client.
"""

from __future__ import annotations

import signal
import socket
import ssl
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from conftest import LiveServer, Seeded, start_server, stop_server

THREADS = 10
# Uvicorn finishes its graceful shutdown, then ends by the signal it was sent.
CLEAN_EXIT = {0, -signal.SIGTERM}


def _address(server: LiveServer) -> tuple[str, int]:
    parts = urlsplit(server.base_url)
    return parts.hostname or "127.0.0.1", parts.port or 443


def _open_tls(server: LiveServer) -> ssl.SSLSocket:
    context = ssl.create_default_context(cafile=server.ca_file)
    raw = socket.create_connection(_address(server), timeout=15)
    return context.wrap_socket(raw, server_hostname="127.0.0.1")


def _token_request_halves(seeded: Seeded) -> tuple[bytes, bytes]:
    body = (
        f"grant_type=client_credentials&client_id={seeded.client_id}"
        f"&client_secret={seeded.client_secret}"
    ).encode()
    head = (
        "POST /oauth/token HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode()
    return head + body[:20], body[20:]


def _read_response(connection: ssl.SSLSocket) -> bytes:
    chunks = []
    while chunk := connection.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def test_a_request_in_flight_at_sigterm_still_gets_its_token(tmp_path: Path) -> None:
    process, server = start_server(tmp_path)
    seeded = server.client()
    first_half, second_half = _token_request_halves(seeded)
    try:
        connection = _open_tls(server)
        connection.sendall(first_half)
        time.sleep(0.3)  # the server has the headers and waits for the rest of the body

        process.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        with pytest.raises(OSError):  # draining: no new connections
            socket.create_connection(_address(server), timeout=2).close()
        connection.sendall(second_half)
        answer = _read_response(connection)
        connection.close()

        assert process.wait(timeout=15) in CLEAN_EXIT
    finally:
        stop_server(process)

    status_line, _, rest = answer.partition(b"\r\n")
    assert status_line == b"HTTP/1.1 200 OK", answer[:200]
    body = rest.partition(b"\r\n\r\n")[2]
    assert b'"token_type":"Bearer"' in body
    token = body.split(b'"access_token":"')[1].split(b'"')[0].decode()
    server.remember_token(token)


def _keep_asking(
    server: LiveServer, seeded: Seeded, stop: threading.Event, seen: list[str]
) -> None:
    while not stop.is_set():
        # A fresh connection each time, as requests arriving from many clients would be.
        try:
            with server.http() as http:
                response = http.post(
                    "/oauth/token",
                    data={"grant_type": "client_credentials"},
                    auth=(seeded.client_id, seeded.client_secret),
                )
        except httpx.ConnectError:
            seen.append("refused")
            time.sleep(0.05)
            continue
        except httpx.TransportError as exc:
            seen.append(f"cut off: {type(exc).__name__}")
            continue
        seen.append(str(response.status_code))
        if response.status_code == 200:
            server.remember_token(response.json()["access_token"])


def test_sigterm_under_load_answers_every_started_request(tmp_path: Path) -> None:
    process, server = start_server(tmp_path)
    seeded = server.client()
    seen: list[str] = []
    stop = threading.Event()
    threads = [
        threading.Thread(target=_keep_asking, args=(server, seeded, stop, seen))
        for _ in range(THREADS)
    ]
    try:
        for thread in threads:
            thread.start()
        time.sleep(1.5)
        process.send_signal(signal.SIGTERM)
        exit_code = process.wait(timeout=15)
        time.sleep(0.3)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
        stop_server(process)

    assert exit_code in CLEAN_EXIT
    assert set(seen) <= {"200", "refused"}, sorted(set(seen))
    assert seen.count("200") >= THREADS
    assert "refused" in seen
    assert "Waiting for application shutdown" in server.log_file.read_text()
