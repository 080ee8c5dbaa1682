"""Helpers shared by the client SDK tests: server log events and instrumented transports."""

from __future__ import annotations

import json
import ssl
import threading
from datetime import datetime
from typing import Any

import httpx

from conftest import LiveServer, Seeded
from credgate.client import ClientCredentialsAuth


def log_events(server: LiveServer, event: str, client_id: str) -> list[dict[str, Any]]:
    """The server's structured log events of that name for that client, oldest first."""
    found = []
    for line in server.log_file.read_text().splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if record.get("event") == event and record.get("client_id") == client_id:
            found.append(record)
    return found


def issued_times(server: LiveServer, client_id: str) -> list[datetime]:
    """When the server issued each token of the client, from its ``token.issued`` lines."""
    return [
        datetime.strptime(record["time"], "%Y-%m-%d %H:%M:%S,%f")
        for record in log_events(server, "token.issued", client_id)
    ]


def sdk_auth(server: LiveServer, seeded: Seeded, **options: Any) -> ClientCredentialsAuth:
    return ClientCredentialsAuth(
        token_url=f"{server.base_url}/oauth/token",
        client_id=seeded.client_id,
        client_secret=seeded.client_secret,
        verify=str(server.ca_file),
        **options,
    )


def ca_context(server: LiveServer) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=server.ca_file)


class CountingTransport(httpx.HTTPTransport):
    """A real transport that also records the status of every answer it carries."""

    def __init__(self, server: LiveServer) -> None:
        super().__init__(verify=ca_context(server))
        self.statuses: list[int] = []
        self._guard = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        with self._guard:
            self.statuses.append(response.status_code)
        return response
