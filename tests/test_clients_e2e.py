"""Real OAuth clients get a token from a live server and call the protected API with it.

curl, requests, httpx, requests-oauthlib and Authlib each use their own way to send the
client credentials; every one of them must get a well-formed token that the API accepts.
"""

from __future__ import annotations

import json
import ssl
import subprocess
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import requests
from authlib.integrations.httpx_client import OAuth2Client
from authlib.integrations.requests_client import OAuth2Session as AuthlibSession
from oauthlib.oauth2 import BackendApplicationClient
from requests_oauthlib import OAuth2Session

from conftest import LiveServer, Seeded
from token_checks import assert_token_response

TTL = 900


@dataclass
class Target:
    """A fresh client, and a user of its account that the client may read."""

    seeded: Seeded
    user_id: str
    email: str

    @property
    def path(self) -> str:
        return f"/api/users/{self.user_id}"


@pytest.fixture()
def target(server: LiveServer) -> Target:
    seeded = server.client(token_ttl=TTL)
    email = f"{uuid.uuid4().hex[:10]}@example.com"
    return Target(seeded, server.user(seeded.account, email=email), email)


@dataclass
class CurlResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def curl(server: LiveServer, path: str, *args: str) -> CurlResponse:
    """Run curl against the live server, trusting only the dev CA, and parse its answer."""
    result = subprocess.run(
        [
            "curl",
            "-q",  # no ~/.curlrc
            "--silent",
            "--show-error",
            "--noproxy",
            "*",
            "--cacert",
            str(server.ca_file),
            "--dump-header",
            "-",
            *args,
            server.base_url + path,
        ],
        capture_output=True,
        check=True,
        timeout=30,
    )
    head, _, body = result.stdout.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return CurlResponse(int(status_line.split()[1]), headers, body)


def api_request_is_answered(response: Any, target: Target) -> None:
    assert response.status_code == 200, response.text
    assert response.json()["email"] == target.email
    assert response.json()["id"] == target.user_id


@pytest.mark.parametrize(
    "credentials",
    [
        pytest.param(lambda s: ["--user", f"{s.client_id}:{s.client_secret}"], id="basic"),
        pytest.param(
            lambda s: ["-d", f"client_id={s.client_id}", "-d", f"client_secret={s.client_secret}"],
            id="form-fields",
        ),
    ],
)
def test_curl_gets_a_token_and_reads_a_user(
    server: LiveServer, target: Target, credentials: Callable[[Seeded], list[str]]
) -> None:
    sent = time.time()
    answer = curl(
        server, "/oauth/token", *credentials(target.seeded), "-d", "grant_type=client_credentials"
    )

    assert answer.status == 200, answer.body
    assert answer.headers["content-type"] == "application/json"
    token = server.remember_token(
        assert_token_response(answer.json(), answer.headers, ttl=TTL, issued_near=sent)
    )

    user = curl(server, target.path, "--header", f"Authorization: Bearer {token}")
    assert user.status == 200, user.body
    assert user.json()["email"] == target.email


def test_requests_gets_a_token_and_reads_a_user(server: LiveServer, target: Target) -> None:
    verify = str(server.ca_file)
    seeded = target.seeded
    sent = time.time()
    response = requests.post(
        server.base_url + "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(seeded.client_id, seeded.client_secret),
        verify=verify,
        timeout=10,
    )

    assert response.status_code == 200, response.text
    token = server.remember_token(
        assert_token_response(response.json(), response.headers, ttl=TTL, issued_near=sent)
    )
    api_request_is_answered(
        requests.get(
            server.base_url + target.path,
            headers={"Authorization": f"Bearer {token}"},
            verify=verify,
            timeout=10,
        ),
        target,
    )


def test_httpx_gets_a_token_and_reads_a_user(server: LiveServer, target: Target) -> None:
    seeded = target.seeded
    with server.http() as http:
        sent = time.time()
        response = http.post(
            "/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(seeded.client_id, seeded.client_secret),
        )
        assert response.status_code == 200, response.text
        body = response.json()
        token = server.remember_token(
            assert_token_response(body, response.headers, ttl=TTL, issued_near=sent)
        )
        api_request_is_answered(
            http.get(target.path, headers={"Authorization": f"Bearer {token}"}), target
        )


def test_json_body_without_grant_type_gets_a_token(server: LiveServer, target: Target) -> None:
    seeded = target.seeded
    with server.http() as http:
        sent = time.time()
        response = http.post(
            "/oauth/token",
            json={"client_id": seeded.client_id, "client_secret": seeded.client_secret},
        )
        assert response.status_code == 200, response.text
        token = server.remember_token(
            assert_token_response(response.json(), response.headers, ttl=TTL, issued_near=sent)
        )
        api_request_is_answered(
            http.get(target.path, headers={"Authorization": f"Bearer {token}"}), target
        )


@pytest.mark.parametrize("include_client_id", [None, True], ids=["default", "include_client_id"])
def test_requests_oauthlib_backend_client_gets_a_token_and_reads_a_user(
    server: LiveServer, target: Target, include_client_id: bool | None
) -> None:
    seeded = target.seeded
    verify = str(server.ca_file)
    captured: list[requests.Response] = []
    session = OAuth2Session(client=BackendApplicationClient(client_id=seeded.client_id))
    session.hooks["response"].append(lambda response, **_: captured.append(response))
    extra = {} if include_client_id is None else {"include_client_id": include_client_id}

    with session:
        sent = time.time()
        token = session.fetch_token(
            server.base_url + "/oauth/token",
            client_id=seeded.client_id,
            client_secret=seeded.client_secret,
            verify=verify,
            **extra,
        )
        server.remember_token(token["access_token"])

        (raw,) = captured
        assert_token_response(raw.json(), raw.headers, ttl=TTL, issued_near=sent)
        assert token["access_token"] == raw.json()["access_token"]
        assert "refresh_token" not in token
        sent_body = dict(x.split("=", 1) for x in str(raw.request.body).split("&"))
        if include_client_id:
            # client_secret_post: both credentials in the form, no Authorization header.
            assert "Authorization" not in raw.request.headers
            assert sent_body["client_id"] == seeded.client_id
            assert sent_body["client_secret"] == seeded.client_secret
        else:
            # By default requests-oauthlib uses HTTP Basic (client_secret_basic).
            assert raw.request.headers["Authorization"].startswith("Basic ")
            assert "client_secret" not in sent_body
        assert sent_body["grant_type"] == "client_credentials"

        # The session sends the token as a bearer on its own.
        api_request_is_answered(session.get(server.base_url + target.path, verify=verify), target)


# None: the library's default, which for Authlib is client_secret_basic.
AUTHLIB_METHODS = [None, "client_secret_basic", "client_secret_post"]


def _authlib_method(method: str | None) -> dict[str, str]:
    return {} if method is None else {"token_endpoint_auth_method": method}


@pytest.mark.parametrize("method", AUTHLIB_METHODS)
def test_authlib_requests_session_gets_a_token_and_reads_a_user(
    server: LiveServer, target: Target, method: str | None
) -> None:
    seeded = target.seeded
    verify = str(server.ca_file)
    captured: list[requests.Response] = []
    session = AuthlibSession(seeded.client_id, seeded.client_secret, **_authlib_method(method))
    session.hooks["response"].append(lambda response, **_: captured.append(response))

    with session:
        sent = time.time()
        token = session.fetch_token(
            server.base_url + "/oauth/token", grant_type="client_credentials", verify=verify
        )
        server.remember_token(token["access_token"])

        (raw,) = captured
        assert_token_response(raw.json(), raw.headers, ttl=TTL, issued_near=sent)
        assert ("Authorization" in raw.request.headers) is (method != "client_secret_post")
        assert token["access_token"] == raw.json()["access_token"]
        assert "refresh_token" not in token

        api_request_is_answered(session.get(server.base_url + target.path, verify=verify), target)


@pytest.mark.parametrize("method", AUTHLIB_METHODS)
def test_authlib_httpx_client_gets_a_token_and_reads_a_user(
    server: LiveServer, target: Target, method: str | None
) -> None:
    seeded = target.seeded
    captured: list[httpx.Response] = []

    def capture(response: httpx.Response) -> None:
        response.read()
        captured.append(response)

    with OAuth2Client(
        seeded.client_id,
        seeded.client_secret,
        **_authlib_method(method),
        base_url=server.base_url,
        verify=ssl.create_default_context(cafile=server.ca_file),
        event_hooks={"response": [capture]},
        timeout=10,
    ) as client:
        sent = time.time()
        token = client.fetch_token(
            server.base_url + "/oauth/token", grant_type="client_credentials"
        )
        server.remember_token(token["access_token"])

        (raw,) = captured
        assert_token_response(raw.json(), raw.headers, ttl=TTL, issued_near=sent)
        assert ("authorization" in raw.request.headers) is (method != "client_secret_post")
        assert token["access_token"] == raw.json()["access_token"]
        assert "refresh_token" not in token

        api_request_is_answered(client.get(target.path), target)
