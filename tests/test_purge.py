"""Purging ended tokens and old audit events: by ``credgate tokens purge`` and on a schedule.

Rows are seeded straight into the server's database with times in the past; the purge must
delete exactly those past their retention and leave live tokens working.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from conftest import LiveServer, Seeded, start_server, stop_server
from credgate.runtime import Runtime
from credgate.storage.models import AccessToken, AuditEvent, Client, utcnow
from test_cli import cli_json

DAY = timedelta(days=1)


def _old_token(client: Client, *, expired: timedelta, revoked: timedelta | None) -> AccessToken:
    now = utcnow()
    expires_at = now - expired
    return AccessToken(
        token_hash=uuid.uuid4().hex * 2,
        client_id=client.client_id,
        account_id=client.account_id,
        scope="users:read",
        issued_at=expires_at - timedelta(hours=1),
        expires_at=expires_at,
        revoked_at=None if revoked is None else now - revoked,
        chain_started_at=expires_at - timedelta(hours=1),
    )


def seed_tokens(server: LiveServer, ages: dict[str, AccessToken]) -> None:
    async def insert(runtime: Runtime) -> None:
        async with runtime.sessions.begin() as session:
            session.add_all(ages.values())

    server.run(insert)


def client_row(server: LiveServer, seeded: Seeded) -> Client:
    async def find(runtime: Runtime) -> Client:
        async with runtime.sessions() as session:
            client = await session.get(Client, seeded.client_id)
        if client is None:
            raise LookupError(seeded.client_id)
        return client

    return server.run(find)  # type: ignore[no-any-return]


def surviving_tokens(server: LiveServer, token_ids: list[str]) -> set[str]:
    async def query(runtime: Runtime) -> set[str]:
        async with runtime.sessions() as session:
            rows = await session.scalars(
                select(AccessToken.token_id).where(AccessToken.token_id.in_(token_ids))
            )
            return set(rows)

    return server.run(query)  # type: ignore[no-any-return]


def seed_audit_events(server: LiveServer, ages: dict[str, datetime]) -> None:
    async def insert(runtime: Runtime) -> None:
        async with runtime.sessions.begin() as session:
            for target, occurred_at in ages.items():
                session.add(
                    AuditEvent(
                        actor="test", action="test.seeded", target=target, occurred_at=occurred_at
                    )
                )

    server.run(insert)


def surviving_audit_targets(server: LiveServer, targets: list[str]) -> set[str]:
    async def query(runtime: Runtime) -> set[str]:
        async with runtime.sessions() as session:
            rows = await session.scalars(
                select(AuditEvent.target).where(AuditEvent.target.in_(targets))
            )
            return {target for target in rows if target is not None}

    return server.run(query)  # type: ignore[no-any-return]


def seed_mixed_tokens(server: LiveServer) -> tuple[dict[str, AccessToken], dict]:  # type: ignore[type-arg]
    """Tokens past the one-day retention, inside it, and one live token from the server."""
    seeded = server.client()
    client = client_row(server, seeded)
    tokens = {
        "expired_long_ago": _old_token(client, expired=3 * DAY, revoked=None),
        "revoked_long_ago": _old_token(client, expired=-DAY, revoked=2 * DAY),
        "expired_recently": _old_token(client, expired=timedelta(hours=1), revoked=None),
        "revoked_recently": _old_token(client, expired=-DAY, revoked=timedelta(minutes=5)),
    }
    seed_tokens(server, tokens)
    return tokens, server.token(seeded)


def test_purge_deletes_tokens_ended_past_the_retention_and_keeps_the_rest(
    server: LiveServer,
) -> None:
    tokens, live = seed_mixed_tokens(server)
    ids = [token.token_id for token in tokens.values()] + [live["token_id"]]

    result = cli_json("tokens", "purge", env={**server.env, "CREDGATE_TOKEN_RETENTION": "86400"})

    assert result["tokens"] >= 2
    assert surviving_tokens(server, ids) == {
        tokens["expired_recently"].token_id,
        tokens["revoked_recently"].token_id,
        live["token_id"],
    }
    with server.http() as http:
        response = http.get(
            f"/oauth/tokens/{live['token_id']}",
            headers={"Authorization": f"Bearer {live['access_token']}"},
        )
    assert response.status_code == 200


def test_purge_older_than_overrides_the_retention(server: LiveServer) -> None:
    tokens, live = seed_mixed_tokens(server)
    ids = [token.token_id for token in tokens.values()] + [live["token_id"]]

    cli_json("tokens", "purge", "--older-than", "60", env=server.env)

    assert surviving_tokens(server, ids) == {live["token_id"]}


def test_purge_works_through_many_small_batches(server: LiveServer) -> None:
    seeded = server.client()
    client = client_row(server, seeded)
    tokens = {str(n): _old_token(client, expired=3 * DAY, revoked=None) for n in range(7)}
    seed_tokens(server, tokens)

    env = {**server.env, "CREDGATE_PURGE_BATCH_SIZE": "2"}
    result = cli_json("tokens", "purge", env=env)

    assert result["tokens"] >= 7
    assert surviving_tokens(server, [token.token_id for token in tokens.values()]) == set()


def test_audit_events_are_kept_for_the_configured_days(server: LiveServer) -> None:
    mark = uuid.uuid4().hex[:8]
    now = utcnow()
    ages = {
        f"{mark}-400d": now - 400 * DAY,
        f"{mark}-31d": now - 31 * DAY,
        f"{mark}-29d": now - 29 * DAY,
        f"{mark}-now": now,
    }
    seed_audit_events(server, ages)

    env = {**server.env, "CREDGATE_AUDIT_RETENTION_DAYS": "30"}
    result = cli_json("tokens", "purge", env=env)

    assert result["audit_events"] >= 2
    assert surviving_audit_targets(server, list(ages)) == {f"{mark}-29d", f"{mark}-now"}


def test_purge_text_output_names_both_counts(server: LiveServer) -> None:
    from test_cli import cli

    result = cli("tokens", "purge", env=server.env)

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("purged ")
    assert "tokens and" in result.stdout
    assert "audit events" in result.stdout


@pytest.fixture()
def purging_server(tmp_path: Path) -> Iterator[LiveServer]:
    process, live = start_server(
        tmp_path,
        {"CREDGATE_PURGE_INTERVAL": "0.5", "CREDGATE_AUDIT_RETENTION_DAYS": "30"},
    )
    yield live
    stop_server(process)


def test_the_server_purges_on_its_schedule(purging_server: LiveServer) -> None:
    tokens, live = seed_mixed_tokens(purging_server)
    mark = uuid.uuid4().hex[:8]
    seed_audit_events(
        purging_server, {f"{mark}-old": utcnow() - 90 * DAY, f"{mark}-new": utcnow()}
    )
    gone = {tokens["expired_long_ago"].token_id, tokens["revoked_long_ago"].token_id}
    ids = [token.token_id for token in tokens.values()] + [live["token_id"]]

    targets = [f"{mark}-old", f"{mark}-new"]

    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and (
        surviving_tokens(purging_server, ids) & gone
        or len(surviving_audit_targets(purging_server, targets)) > 1
    ):
        time.sleep(0.2)

    assert surviving_tokens(purging_server, ids) == set(ids) - gone
    assert surviving_audit_targets(purging_server, targets) == {f"{mark}-new"}
    assert '"event": "purge.completed"' in purging_server.log_file.read_text()


def test_count_helper_sees_seeded_rows(server: LiveServer) -> None:
    """The helpers above really read the server's database (else every purge test passes)."""
    tokens, _live = seed_mixed_tokens(server)

    async def count(runtime: Runtime) -> int:
        async with runtime.sessions() as session:
            ids = [token.token_id for token in tokens.values()]
            query = select(func.count()).where(AccessToken.token_id.in_(ids))
            return int((await session.execute(query)).scalar_one())

    assert server.run(count) == 4
