"""No client secret and no token value rests in clear text: not in the database, not in logs.

This runs last (``@pytest.mark.last``) so it checks every secret and token that any test of
the session handed out, on every server the session started, as well as its own flow's.
"""

from __future__ import annotations

import re
import secrets
import sqlite3
from pathlib import Path

import pytest

from conftest import Issued, LiveServer, Seeded
from credgate import management
from credgate.credentials import (
    CredentialHasher,
    generate_access_token,
    generate_client_secret,
    is_acceptable_secret,
    is_well_formed_token,
)
from credgate.runtime import load_hash_key

HEX64 = re.compile(r"[0-9a-f]{64}")
# A generated secret or token: prefix, 43 base62 chars of randomness, 6 of checksum.
GENERATED = re.compile(r"(?<![0-9A-Za-z])(cgs|cgt)_[0-9A-Za-z]{49}(?![0-9A-Za-z])")


def database_file(server: LiveServer) -> Path | None:
    """The SQLite file of a server, or None when it runs on another database."""
    if server.settings.database_url is not None:
        return None
    return server.data_dir / "credgate.db"


def database_bytes(path: Path) -> bytes:
    """The main file and the write-ahead log, where fresh commits sit before a checkpoint."""
    parts = [path, path.with_name(path.name + "-wal")]
    return b"".join(part.read_bytes() for part in parts if part.exists())


def database_rows(path: Path) -> dict[str, list[tuple[object, ...]]]:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as connection:
        tables = [
            name
            for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")
        ]
        return {
            table: connection.execute(f'SELECT * FROM "{table}"').fetchall()  # noqa: S608
            for table in tables
        }


def column(path: Path, table: str, name: str) -> list[str]:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as connection:
        query = f'SELECT "{name}" FROM "{table}"'  # noqa: S608
        return [value for (value,) in connection.execute(query)]


def generated_values_in(text: str) -> list[str]:
    """Strings shaped like credgate secrets or tokens whose checksum also holds."""
    checksum_holds = {"cgt": is_well_formed_token, "cgs": is_acceptable_secret}
    return [
        match.group(0)
        for match in GENERATED.finditer(text)
        if checksum_holds[match.group(1)](match.group(0))
    ]


def run_full_flow(server: LiveServer) -> list[str]:
    """Create, import, issue, renew, revoke and rotate; return the token ids it issued."""
    generated = server.client()
    imported = server.client(imported_secret="imported-" + secrets.token_urlsafe(40))
    token_ids = []
    with server.http() as http:
        for seeded in (generated, imported):
            issued = server.token(seeded)
            token_ids.append(issued["token_id"])

            as_json = http.post(
                "/oauth/token",
                json={"client_id": seeded.client_id, "client_secret": seeded.client_secret},
            )
            assert as_json.status_code == 200, as_json.text
            server.remember_token(as_json.json()["access_token"])
            token_ids.append(as_json.json()["token_id"])

            renewed = http.post(
                f"/oauth/tokens/{issued['token_id']}/renew",
                headers={"Authorization": f"Bearer {issued['access_token']}"},
            )
            assert renewed.status_code == 200, renewed.text
            server.remember_token(renewed.json()["access_token"])
            token_ids.append(renewed.json()["token_id"])

            revoked = http.post(
                "/oauth/revoke",
                data={"token": renewed.json()["access_token"]},
                auth=(seeded.client_id, seeded.client_secret),
            )
            assert revoked.status_code == 200, revoked.text
            deleted = http.delete(
                f"/oauth/tokens/{as_json.json()['token_id']}",
                auth=(seeded.client_id, seeded.client_secret),
            )
            assert deleted.status_code == 204, deleted.text

        rotated = server.run(
            lambda rt: management.rotate_secret(rt, generated.client_id, grace=60, actor="test")
        )
        server.remember_secret(rotated.client_secret)
        server.token(Seeded(generated.client_id, rotated.client_secret, generated.account))

        # Refused credentials must not end up in a log line either.
        wrong = server.remember_secret(generate_client_secret())
        refused = http.post(
            "/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(generated.client_id, wrong),
        )
        assert refused.status_code == 401, refused.text
        # Nor credentials sent the wrong way round, secret first (``curl -u "$SECRET:$ID"``).
        refused = http.post(
            "/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(imported.client_secret, imported.client_id),
        )
        assert refused.status_code == 401, refused.text
        refused = http.post(
            "/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(rotated.client_secret, generated.client_id),
        )
        assert refused.status_code == 401, refused.text
        unknown = server.remember_token(generate_access_token())
        refused = http.get("/api/users", headers={"Authorization": f"Bearer {unknown}"})
        assert refused.status_code == 401, refused.text
    return token_ids


@pytest.mark.last
def test_no_secret_or_token_of_the_session_rests_in_a_database_or_a_log(
    server: LiveServer, issued: Issued
) -> None:
    token_ids = run_full_flow(server)
    values = set(issued.secrets) | set(issued.tokens)
    assert issued.secrets
    assert issued.tokens
    assert all(len(value) >= 32 for value in values)
    assert server in issued.servers

    checked_databases = 0
    for live in issued.servers:
        path = database_file(live)
        if path is None:
            continue
        checked_databases += 1

        raw = database_bytes(path)
        leaked = [value for value in values if value.encode() in raw]
        assert not leaked, f"{len(leaked)} secrets or tokens in the bytes of {path}"

        rows = database_rows(path)
        text = "\n".join(
            str(cell) for table in rows.values() for row in table for cell in row if cell
        )
        leaked = [value for value in values if value in text]
        assert not leaked, f"{len(leaked)} secrets or tokens in the tables of {path}"
        assert not generated_values_in(text)
        assert not generated_values_in(raw.decode("latin-1"))

        # Only keyed hashes are kept: 64 hex digits each.
        hashes = column(path, "client_secrets", "secret_hash")
        hashes += column(path, "access_tokens", "token_hash")
        assert all(HEX64.fullmatch(value) for value in hashes)

    log_files = [live.log_file for live in issued.servers] + issued.logs
    assert all(path.exists() for path in issued.logs)
    for log_file in log_files:
        log = log_file.read_text(errors="replace")
        leaked = [value for value in values if value in log]
        assert not leaked, f"{len(leaked)} secrets or tokens in {log_file}"
        assert not generated_values_in(log)

    # The checks above looked at something real: this flow's tokens were logged by id and
    # stored as the HMAC of their value.
    log = server.log_file.read_text()
    assert all(token_id in log for token_id in token_ids)
    path = database_file(server)
    if path is not None:
        assert checked_databases >= 1
        hasher = CredentialHasher(load_hash_key(server.settings))
        stored = set(column(path, "access_tokens", "token_hash"))
        recorded_here = [value for value in issued.tokens if hasher.hash(value) in stored]
        assert len(recorded_here) >= len(token_ids)
