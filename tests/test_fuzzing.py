"""Schemathesis against the app's own OpenAPI document, served by a live server.

Every operation gets generated requests, valid and invalid, with and without working
credentials; no answer may be a 5xx, and every answer must match what the document says:
its status, content type, headers and body schema. The example count is bounded so the run
takes well under a minute. It does not depend on the database kind: SQLite pass only.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from conftest import LiveServer, start_server, stop_server
from credgate.config import Settings
from credgate.server.app import create_fastapi_app
from test_cli import basic_header

pytestmark = pytest.mark.database_independent

MAX_EXAMPLES = int(os.environ.get("CREDGATE_FUZZ_EXAMPLES", "40"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


class Credentials:
    """Working credentials to lend to every other generated request."""

    def __init__(self, server: LiveServer) -> None:
        self.server = server
        self.client = server.client()
        self.turn = itertools.count()

    def bearer(self) -> str:
        return "Bearer " + self.server.token(self.client)["access_token"]

    def headers_for(self, path: str) -> dict[str, str]:
        if next(self.turn) % 2:
            return {}  # the generated request as it is, credentials and all
        if path in ("/oauth/token", "/oauth/revoke"):
            return {
                "Authorization": basic_header(self.client.client_id, self.client.client_secret)
            }
        return {"Authorization": self.bearer()}


@pytest.fixture(scope="module")
def fuzzed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    process, live = start_server(tmp_path_factory.mktemp("fuzzed"))
    yield live
    stop_server(process)


@pytest.fixture(scope="module")
def credentials(fuzzed_server: LiveServer) -> Credentials:
    return Credentials(fuzzed_server)


def own_document() -> dict[str, object]:
    """The document the app serves at /openapi.json (the served one is compared below)."""
    return create_fastapi_app(Settings()).openapi()


schema = schemathesis.openapi.from_dict(own_document())


def test_the_fuzzed_document_is_the_one_the_server_serves(fuzzed_server: LiveServer) -> None:
    with fuzzed_server.http() as http:
        served = http.get("/openapi.json").json()

    assert served == own_document()


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_no_generated_request_gets_a_5xx_or_an_undocumented_answer(
    case: schemathesis.Case, fuzzed_server: LiveServer, credentials: Credentials
) -> None:
    headers = credentials.headers_for(case.path)
    response = case.call(
        base_url=fuzzed_server.base_url,
        headers=headers,
        verify=str(fuzzed_server.ca_file),
        timeout=10,
    )
    if response.status_code == 200 and "access_token" in response.text:
        fuzzed_server.remember_token(response.json()["access_token"])
    case.validate_response(response, checks=CHECKS)
