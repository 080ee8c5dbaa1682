"""Server metadata (RFC 8414), the OpenAPI document and the health check, on the live server."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from conftest import LiveServer

METADATA = "/.well-known/oauth-authorization-server"


@pytest.fixture()
def metadata(http: httpx.Client) -> dict[str, Any]:
    response = http.get(METADATA)
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


def test_metadata_is_json(http: httpx.Client) -> None:
    response = http.get(METADATA)

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"


def test_issuer_is_the_server_base_url(server: LiveServer, metadata: dict[str, Any]) -> None:
    assert metadata["issuer"] == server.base_url
    assert metadata["issuer"].startswith("https://")
    assert not metadata["issuer"].endswith("/")


def test_endpoints_are_absolute_urls_under_the_issuer(
    server: LiveServer, metadata: dict[str, Any]
) -> None:
    assert metadata["token_endpoint"] == f"{server.base_url}/oauth/token"
    assert metadata["revocation_endpoint"] == f"{server.base_url}/oauth/revoke"


def test_only_the_client_credentials_grant_is_advertised(metadata: dict[str, Any]) -> None:
    assert metadata["grant_types_supported"] == ["client_credentials"]
    assert "authorization_endpoint" not in metadata


AUTH_METHOD_FIELDS = [
    "token_endpoint_auth_methods_supported",
    "revocation_endpoint_auth_methods_supported",
]


@pytest.mark.parametrize("field", AUTH_METHOD_FIELDS)
def test_client_secret_basic_and_post_are_advertised(metadata: dict[str, Any], field: str) -> None:
    assert {"client_secret_basic", "client_secret_post"} <= set(metadata[field])
    assert "none" not in metadata[field]


def test_scopes_supported_are_the_configured_scopes(
    server: LiveServer, metadata: dict[str, Any]
) -> None:
    assert metadata["scopes_supported"] == sorted(server.settings.scopes)
    assert {"users:read", "users:write"} <= set(metadata["scopes_supported"])


def test_advertised_token_endpoint_issues_tokens(
    server: LiveServer, http: httpx.Client, metadata: dict[str, Any]
) -> None:
    seeded = server.client()

    response = http.post(
        metadata["token_endpoint"],
        data={"grant_type": "client_credentials"},
        auth=(seeded.client_id, seeded.client_secret),
    )

    assert response.status_code == 200
    server.remember_token(response.json()["access_token"])
    assert set(response.json()["scope"].split()) <= set(metadata["scopes_supported"])


def test_advertised_revocation_endpoint_revokes(
    server: LiveServer, http: httpx.Client, metadata: dict[str, Any]
) -> None:
    seeded = server.client()
    token = server.token(seeded)["access_token"]

    response = http.post(
        metadata["revocation_endpoint"],
        data={"token": token},
        auth=(seeded.client_id, seeded.client_secret),
    )

    assert response.status_code == 200
    refused = http.get("/api/users", headers={"Authorization": f"Bearer {token}"})
    assert refused.status_code == 401


def test_metadata_needs_no_credentials_and_names_no_client(
    server: LiveServer, http: httpx.Client
) -> None:
    seeded = server.client()

    response = http.get(METADATA)

    assert response.status_code == 200
    assert seeded.client_id not in response.text


@pytest.fixture(scope="module")
def openapi(server: LiveServer) -> dict[str, Any]:
    with server.http() as http:
        response = http.get("/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


def test_openapi_document_is_served(openapi: dict[str, Any]) -> None:
    assert openapi["openapi"].startswith("3.")
    assert openapi["info"]["title"] == "credgate"


@pytest.mark.parametrize(
    ("path", "method"),
    [
        ("/oauth/token", "post"),
        ("/oauth/revoke", "post"),
        ("/api/users", "get"),
        ("/api/users", "post"),
        ("/api/users/{user_id}", "get"),
        (METADATA, "get"),
        ("/healthz", "get"),
    ],
)
def test_openapi_documents_the_endpoint(openapi: dict[str, Any], path: str, method: str) -> None:
    assert method in openapi["paths"][path]


@pytest.mark.parametrize("status", ["400", "401"])
def test_openapi_documents_token_endpoint_errors(openapi: dict[str, Any], status: str) -> None:
    assert status in openapi["paths"]["/oauth/token"]["post"]["responses"]


@pytest.mark.parametrize(("path", "method"), [("/api/users", "post"), ("/api/users", "get")])
def test_openapi_documents_bearer_errors_of_the_api(
    openapi: dict[str, Any], path: str, method: str
) -> None:
    responses = openapi["paths"][path][method]["responses"]

    assert {"401", "403"} <= set(responses)


def test_healthz_is_200_ok(http: httpx.Client) -> None:
    response = http.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
