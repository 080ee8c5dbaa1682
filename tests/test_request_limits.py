"""Request size limits and timeouts against slow clients: each refusal a clear 4xx."""

from __future__ import annotations

import asyncio
import json
import socket
import ssl
import time
from collections.abc import AsyncIterator, Iterator
from urllib.parse import urlsplit

import httpx
import pytest
from prometheus_client import REGISTRY
from starlette.types import Receive, Scope, Send

from conftest import LiveServer, start_server, stop_server
from credgate.server.request_limits import RequestLimitsMiddleware

MAX_BODY = 2048
TIMEOUT = 1.0


@pytest.fixture(scope="module")
def strict(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    process, live = start_server(
        tmp_path_factory.mktemp("strict"),
        {
            "CREDGATE_MAX_BODY_BYTES": str(MAX_BODY),
            "CREDGATE_REQUEST_BODY_TIMEOUT": str(TIMEOUT),
            "CREDGATE_REQUEST_HEADER_TIMEOUT": str(TIMEOUT),
            "CREDGATE_MAX_HEADER_BYTES": "8192",
        },
    )
    yield live
    stop_server(process)


def assert_refused(response: httpx.Response, status: int) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.json()["error"] == "invalid_request"
    assert response.json()["error_description"]


ROUTES = [
    ("POST", "/oauth/token"),
    ("POST", "/oauth/revoke"),
    ("POST", "/api/users"),
    ("GET", "/api/users"),
    ("GET", "/healthz"),
    ("DELETE", "/oauth/tokens/00000000-0000-0000-0000-000000000000"),
    ("POST", "/no/such/route"),
]


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_a_declared_body_over_the_limit_is_refused_with_413_on_every_route(
    strict: LiveServer, method: str, path: str
) -> None:
    with strict.http() as http:
        response = http.request(
            method, path, content=b"a" * (MAX_BODY + 1), headers={"Content-Type": "text/plain"}
        )

    assert_refused(response, 413)


def chunks(total: int) -> Iterator[bytes]:
    sent = 0
    while sent < total:
        piece = min(512, total - sent)
        sent += piece
        yield b"{" if sent == piece else b" " * piece


READING_ROUTES = [route for route in ROUTES if route[0] != "GET" and "no/such" not in route[1]]


@pytest.mark.parametrize(("method", "path"), READING_ROUTES)
def test_a_chunked_body_without_length_over_the_limit_is_refused_with_413(
    strict: LiveServer, method: str, path: str
) -> None:
    with strict.http() as http:
        response = http.request(
            method,
            path,
            content=chunks(MAX_BODY * 4),
            headers={"Content-Type": "application/json"},
        )

    assert "content-length" not in response.request.headers
    assert_refused(response, 413)


@pytest.mark.parametrize("path", ["/healthz", "/api/users", "/no/such/route"])
def test_a_route_that_reads_no_body_answers_and_closes_instead_of_taking_the_rest(
    strict: LiveServer, path: str
) -> None:
    with strict.http() as http:
        response = http.request("GET", path, content=chunks(MAX_BODY * 4))

    assert response.status_code < 500
    assert response.headers["connection"] == "close"


def test_a_body_under_the_limit_still_reaches_the_token_endpoint(strict: LiveServer) -> None:
    seeded = strict.client()
    with strict.http() as http:
        response = http.post(
            "/oauth/token",
            content=b"grant_type=client_credentials&padding=" + b"x" * 1000,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            auth=(seeded.client_id, seeded.client_secret),
        )

    assert response.status_code == 200, response.text
    strict.remember_token(response.json()["access_token"])


def tls_socket(server: LiveServer) -> ssl.SSLSocket:
    address = urlsplit(server.base_url)
    context = ssl.create_default_context(cafile=server.ca_file)
    raw = socket.create_connection((address.hostname, address.port), timeout=10)
    return context.wrap_socket(raw, server_hostname="localhost")


def read_answer(sock: ssl.SSLSocket) -> tuple[int, dict[str, object], float]:
    """The status and JSON body of the one answer on the socket, and when it came."""
    data = b""
    while True:
        piece = sock.recv(65536)
        if not piece:
            break
        data += piece
    answered_at = time.monotonic()
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, json.loads(body), answered_at


def test_headers_sent_too_slowly_get_408_and_the_connection_is_closed(
    strict: LiveServer,
) -> None:
    with tls_socket(strict) as sock:
        started = time.monotonic()
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n")
        time.sleep(0.3)
        sock.sendall(b"X-Slow: 1\r\n")  # still no end of headers
        status, body, answered_at = read_answer(sock)

    assert status == 408
    assert body["error"] == "invalid_request"
    assert TIMEOUT * 0.9 <= answered_at - started < TIMEOUT + 5


def test_a_connection_that_never_sends_a_request_is_closed_after_the_header_timeout(
    strict: LiveServer,
) -> None:
    with tls_socket(strict) as sock:
        started = time.monotonic()
        status, _, answered_at = read_answer(sock)

    assert status == 408
    assert answered_at - started < TIMEOUT + 5


def test_a_body_sent_too_slowly_gets_408(strict: LiveServer) -> None:
    with tls_socket(strict) as sock:
        sock.sendall(
            b"POST /oauth/token HTTP/1.1\r\nHost: localhost\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\n"
            b"grant_type="
        )
        status, body, _ = read_answer(sock)

    assert status == 408
    assert body["error"] == "invalid_request"


def test_headers_over_the_limit_get_431(strict: LiveServer) -> None:
    with strict.http() as http:
        response = http.get("/healthz", headers={"X-Padding": "p" * 10000})

    assert_refused(response, 431)


def test_refusals_are_logged_with_the_limit_that_refused(strict: LiveServer) -> None:
    with strict.http() as http:
        http.post("/oauth/token", content=b"a" * (MAX_BODY + 1))
        http.get("/healthz", headers={"X-Padding": "p" * 10000})

    events = [
        json.loads(line)
        for line in strict.log_file.read_text().splitlines()
        if '"request.refused"' in line
    ]
    limits = {event["limit"] for event in events}
    assert {"request_body_size", "request_header_size"} <= limits


def test_each_refused_body_is_counted_in_the_rate_limited_metric() -> None:
    async def echo(scope: Scope, receive: Receive, send: Send) -> None:
        body = b""
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise ConnectionError("client went away")
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body})

    app = RequestLimitsMiddleware(echo, max_body_bytes=100, body_timeout=5, max_header_bytes=8192)
    labels = {"limit": "request_body_size"}
    before = REGISTRY.get_sample_value("credgate_rate_limited_total", labels) or 0.0

    async def two_chunks() -> AsyncIterator[bytes]:
        yield b"x" * 60
        yield b"x" * 60

    async def main() -> list[int]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            small = await http.post("/", content=b"x" * 100)
            large = await http.post("/", content=b"x" * 101)
            streamed = await http.post("/", content=two_chunks())
        return [small.status_code, large.status_code, streamed.status_code]

    assert asyncio.run(main()) == [200, 413, 413]
    after = REGISTRY.get_sample_value("credgate_rate_limited_total", labels)
    assert after == before + 2


def test_headers_that_grow_past_the_limit_piece_by_piece_get_431(strict: LiveServer) -> None:
    with tls_socket(strict) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n")
        for _ in range(10):
            try:
                sock.sendall(b"X-Padding: " + b"p" * 1000 + b"\r\n")
            except OSError:
                break  # refused already
            time.sleep(0.01)
        status, body, _ = read_answer(sock)

    assert status == 431
    assert body["error"] == "invalid_request"


def test_bytes_that_are_not_http_get_a_json_400(strict: LiveServer) -> None:
    with tls_socket(strict) as sock:
        sock.sendall(b"NOT HTTP AT ALL\x00\r\n\r\n")
        status, body, _ = read_answer(sock)

    assert status == 400
    assert body == {
        "error": "invalid_request",
        "error_description": "the request is not valid HTTP/1.1",
    }


HEALTHZ = b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n"


def read_responses(sock: ssl.SSLSocket, count: int) -> list[tuple[int, bytes]]:
    """The status and body of the next ``count`` answers on a connection kept open."""
    data, answers = b"", []
    while len(answers) < count:
        head, sep, rest = data.partition(b"\r\n\r\n")
        length = next(
            (
                int(line.split(b":", 1)[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            ),
            None,
        )
        if sep and length is not None and len(rest) >= length:
            answers.append((int(head.split(b" ", 2)[1]), rest[:length]))
            data = rest[length:]
            continue
        piece = sock.recv(65536)
        if not piece:
            raise ConnectionError(f"closed after {len(answers)} answers")
        data += piece
    return answers


def test_pipelined_requests_are_answered_in_order_on_a_connection_kept_open(
    strict: LiveServer,
) -> None:
    with tls_socket(strict) as sock:
        sock.sendall(HEALTHZ * 3 + b"GET /no/such/route HTTP/1.1\r\nHost: localhost\r\n\r\n")
        statuses = [status for status, _ in read_responses(sock, 4)]
        sock.sendall(HEALTHZ)
        statuses += [status for status, _ in read_responses(sock, 1)]

    assert statuses == [200, 200, 200, 404, 200]


def test_bytes_that_are_not_http_after_pipelined_requests_are_refused_after_their_answers(
    strict: LiveServer,
) -> None:
    with tls_socket(strict) as sock:
        sock.sendall(HEALTHZ * 2 + b"NOT HTTP AT ALL\x00\r\n\r\n")
        answers = read_responses(sock, 3)
        assert sock.recv(1) == b""  # then closed

    assert [status for status, _ in answers] == [200, 200, 400]
    assert json.loads(answers[2][1])["error"] == "invalid_request"


def test_headers_growing_past_the_limit_after_a_pipelined_request_get_431(
    strict: LiveServer,
) -> None:
    with tls_socket(strict) as sock:
        sock.sendall(HEALTHZ + b"GET /healthz HTTP/1.1\r\nX-Padding: " + b"p" * 9000)
        answers = read_responses(sock, 2)

    assert [status for status, _ in answers] == [200, 431]


def test_between_requests_the_keep_alive_timeout_applies_not_the_header_timeout(
    strict: LiveServer,
) -> None:
    with tls_socket(strict) as sock:
        sock.sendall(HEALTHZ)
        first = read_responses(sock, 1)
        time.sleep(TIMEOUT * 1.5)  # idle, under the keep-alive timeout
        sock.sendall(HEALTHZ)
        second = read_responses(sock, 1)

    assert [status for status, _ in first + second] == [200, 200]


def test_slow_headers_of_a_later_request_on_a_kept_connection_get_408(
    strict: LiveServer,
) -> None:
    with tls_socket(strict) as sock:
        sock.sendall(HEALTHZ)
        read_responses(sock, 1)
        started = time.monotonic()
        sock.sendall(b"GET /healthz HTTP/1.1\r\n")
        status, body, answered_at = read_answer(sock)

    assert status == 408
    assert body["error"] == "invalid_request"
    assert TIMEOUT * 0.9 <= answered_at - started < TIMEOUT + 5
