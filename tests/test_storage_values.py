"""Values a database cannot hold (PostgreSQL text refuses NUL) are a 4xx, never a 500."""

from __future__ import annotations

import httpx
import pytest

from conftest import LiveServer, Seeded


def test_nul_in_a_client_id_is_invalid_client(http: httpx.Client) -> None:
    response = http.post(
        "/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": "cgc_\x00",
            "client_secret": "s" * 40,
        },
    )

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


@pytest.mark.parametrize("path", ["/api/users/%00", "/oauth/tokens/%00"])
def test_nul_in_a_path_id_is_a_4xx(
    server: LiveServer, http: httpx.Client, client: Seeded, path: str
) -> None:
    token = server.token(client)["access_token"]

    response = http.get(path, headers={"Authorization": f"Bearer {token}"})

    assert 400 <= response.status_code < 500, response.text
    assert response.json()["error"] in {"invalid_request", "not_found", "invalid_token"}


def test_control_characters_in_a_new_users_name_are_refused(
    server: LiveServer, http: httpx.Client, client: Seeded
) -> None:
    token = server.token(client)["access_token"]

    response = http.post(
        "/api/users",
        json={"email": "nul@example.com", "name": "Ada\x00Lovelace"},
        headers={"Authorization": f"Bearer {token}"},
    )

    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_request"
