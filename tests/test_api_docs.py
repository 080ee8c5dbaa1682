"""The API reference: the OpenAPI document and a Swagger UI page that loads only our assets."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx
import pytest

from conftest import LiveServer, Seeded

ASSET_TYPES = {
    ".js": "text/javascript",
    ".css": "text/css",
    ".png": "image/png",
}


@pytest.fixture(scope="module")
def document(server: LiveServer) -> dict[str, Any]:
    with server.http() as http:
        response = http.get("/openapi.json")
    assert response.status_code == 200
    return response.json()  # type: ignore[no-any-return]


def test_reference_page_loads_only_same_origin_assets(http: httpx.Client) -> None:
    page = http.get("/docs")

    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    policy = page.headers["content-security-policy"]
    assert "script-src 'self';" in policy
    assert "default-src 'none'" in policy
    # No inline script: every script element has a src.
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page.text)
    references = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert len(references) == 4
    for reference in references:
        absolute = urljoin(str(page.url), reference)
        assert urlsplit(absolute).netloc == urlsplit(str(page.url)).netloc, reference
        asset = http.get(absolute)
        assert asset.status_code == 200, reference
        suffix = reference[reference.rindex(".") :]
        assert asset.headers["content-type"].startswith(ASSET_TYPES[suffix]), reference
        assert len(asset.content) > 500


def test_reference_page_starts_swagger_ui_on_our_openapi_document(http: httpx.Client) -> None:
    page = http.get("/docs").text
    start = http.get("/docs/assets/docs.js").text

    assert 'data-openapi-url="/openapi.json"' in page
    assert "SwaggerUIBundle(" in start
    assert "validatorUrl: null" in start
    assert "http" not in start.replace("https://", "")  # no outside address


def test_vendored_assets_ship_with_their_license(http: httpx.Client) -> None:
    from credgate.server import api_docs

    assert "Apache License" in (api_docs.ASSETS / "LICENSE").read_text()
    assert http.get("/docs/assets/no-such-file.js").status_code == 404


def test_every_reference_in_the_document_resolves(document: dict[str, Any]) -> None:
    text = repr(document)
    references = set(re.findall(r"'\$ref': '#/components/schemas/([^']+)'", text))

    assert references
    assert references <= set(document["components"]["schemas"])
    assert "'422'" not in text


def test_token_endpoint_documents_its_three_ways_to_authenticate(
    document: dict[str, Any],
) -> None:
    operation = document["paths"]["/oauth/token"]["post"]
    content = operation["requestBody"]["content"]

    assert {"HTTP Basic", "Form fields", "JSON body"} <= set(
        re.findall(r"\*\*([^*]+)\*\*", operation["description"])
    )
    assert operation["security"] == [{"clientBasic": []}, {}]
    schemes = document["components"]["securitySchemes"]
    assert schemes["clientBasic"] == {**schemes["clientBasic"], "type": "http", "scheme": "basic"}
    assert schemes["bearerToken"]["scheme"] == "bearer"
    form_examples = content["application/x-www-form-urlencoded"]["examples"]
    assert set(form_examples) == {"basic", "form_fields"}
    assert "client_secret" in form_examples["form_fields"]["value"]
    assert "grant_type" not in content["application/json"]["example"]
    success = operation["responses"]["200"]["content"]["application/json"]["example"]
    assert success["token"] == success["access_token"]


def _examples(operation: dict[str, Any], status: str) -> dict[str, dict[str, str]]:
    content = operation["responses"][status]["content"]["application/json"]
    return {name: example["value"] for name, example in content["examples"].items()}


def test_every_token_endpoint_error_code_is_documented(document: dict[str, Any]) -> None:
    operation = document["paths"]["/oauth/token"]["post"]
    codes = {
        example["error"]
        for status in ("400", "401", "403", "413")
        for example in _examples(operation, status).values()
    }

    assert codes == {
        "invalid_request",
        "invalid_client",
        "unsupported_grant_type",
        "invalid_scope",
    }
    assert "WWW-Authenticate" in operation["responses"]["401"]["headers"]


# How to provoke each documented token endpoint error on a live server.
TOKEN_ERROR_REQUESTS = {
    ("400", "missing_grant_type"): lambda c: {"data": {"scope": "users:read"}, "auth": c},
    ("400", "two_methods"): lambda c: {
        "data": {"grant_type": "client_credentials", "client_secret": c[1]},
        "auth": c,
    },
    ("400", "repeated"): lambda c: {
        "content": "grant_type=client_credentials&scope=users:read&scope=users:read",
        "headers": {"Content-Type": "application/x-www-form-urlencoded"},
        "auth": c,
    },
    ("400", "in_url"): lambda c: {"params": {"grant_type": "client_credentials"}, "auth": c},
    ("400", "media_type"): lambda c: {
        "content": "grant_type=client_credentials",
        "headers": {"Content-Type": "text/plain"},
        "auth": c,
    },
    ("400", "grant"): lambda c: {"data": {"grant_type": "password"}, "auth": c},
    ("400", "scope"): lambda c: {
        "data": {"grant_type": "client_credentials", "scope": "users:write"},
        "auth": c,
    },
    ("401", "failed"): lambda c: {
        "data": {"grant_type": "client_credentials"},
        "auth": (c[0], "cgs_" + "A" * 40),
    },
    ("401", "none"): lambda c: {"data": {"grant_type": "client_credentials"}},
    ("413", "too_large"): lambda c: {
        "data": {"grant_type": "client_credentials", "scope": "x" * 200_000},
        "auth": c,
    },
}


@pytest.mark.parametrize(("status", "name"), list(TOKEN_ERROR_REQUESTS))
def test_documented_token_error_is_what_the_server_answers(
    server: LiveServer, http: httpx.Client, document: dict[str, Any], status: str, name: str
) -> None:
    seeded: Seeded = server.client(scope="users:read")
    documented = _examples(document["paths"]["/oauth/token"]["post"], status)[name]
    request = TOKEN_ERROR_REQUESTS[(status, name)]((seeded.client_id, seeded.client_secret))

    response = http.post("/oauth/token", **request)

    assert response.status_code == int(status)
    assert response.json() == documented


def test_sample_api_documents_its_bearer_errors_with_examples(document: dict[str, Any]) -> None:
    operation = document["paths"]["/api/users/{user_id}"]["get"]

    assert operation["security"] == [{"bearerToken": []}]
    assert {e["error"] for e in _examples(operation, "401").values()} == {
        "invalid_request",
        "invalid_token",
    }
    assert _examples(operation, "403")["scope"]["error"] == "insufficient_scope"
    assert _examples(operation, "404")["missing"]["error"] == "not_found"
    assert "WWW-Authenticate" in operation["responses"]["401"]["headers"]
    assert document["components"]["schemas"]["UserOut"]["examples"][0]["name"] == "Ada Lovelace"
    creating = document["paths"]["/api/users"]["post"]
    assert _examples(creating, "400")["fields"]["error"] == "invalid_request"


def test_documented_bearer_errors_are_what_the_server_answers(
    server: LiveServer, http: httpx.Client, document: dict[str, Any]
) -> None:
    seeded = server.client(scope="users:read")
    token = server.token(seeded)["access_token"]
    documented = _examples(document["paths"]["/api/users/{user_id}"]["get"], "401")

    missing = http.get("/api/users/x")
    malformed = http.get("/api/users/x", headers={"Authorization": "Bearer not-a-token"})
    under_scoped = http.post(
        "/api/users",
        json={"email": "a@example.com", "name": "A"},
        headers={"Authorization": f"Bearer {token}"},
    )
    unknown_user = http.get(
        "/api/users/no-such-user", headers={"Authorization": f"Bearer {token}"}
    )

    assert missing.json() == documented["missing"]
    assert malformed.json() == documented["malformed"]
    assert under_scoped.status_code == 403
    assert under_scoped.json()["error"] == "insufficient_scope"
    assert unknown_user.json() == {"error": "not_found", "error_description": "no such user"}
