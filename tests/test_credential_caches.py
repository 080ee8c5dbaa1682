"""Caches of clients and tokens in the server process, and the change counter that ends them.

The promise: a change committed anywhere (another worker, the CLI, another machine) is
honoured by every server process within one second; by the process that made it, at once.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
from sqlalchemy import event

from conftest import LiveServer
from credgate import management
from credgate.cache.changes import POLL_SECONDS, TRUST_SECONDS, ChangeWatcher
from credgate.runtime import Runtime
from credgate.storage.changes import read_generation
from credgate.storage.models import utcnow

TOKEN = "/oauth/token"
GRANT = {"grant_type": "client_credentials"}


# --- the watcher ---------------------------------------------------------------------------
def test_nothing_is_trusted_before_the_counter_is_read() -> None:
    watcher = ChangeWatcher()
    assert watcher.current_epoch() is None


def test_entries_are_trusted_after_a_read_and_retired_when_the_count_moves() -> None:
    watcher = ChangeWatcher()
    watcher.observe(7, time.monotonic())
    epoch = watcher.current_epoch()
    assert epoch is not None

    watcher.observe(7, time.monotonic())
    assert watcher.current_epoch() == epoch  # nothing changed: entries stay good

    watcher.observe(8, time.monotonic())
    assert watcher.current_epoch() not in (None, epoch)


def test_a_change_of_this_process_retires_entries_at_once() -> None:
    watcher = ChangeWatcher()
    watcher.observe(1, time.monotonic())
    before = watcher.current_epoch()
    watcher.forget()
    assert watcher.current_epoch() != before


def test_a_stale_read_of_the_counter_trusts_nothing() -> None:
    watcher = ChangeWatcher()
    # The last read began longer ago than the promise allows: a change since may be unseen.
    watcher.observe(1, time.monotonic() - TRUST_SECONDS)
    assert watcher.current_epoch() is None


# --- the client cache, on the run's database -----------------------------------------------
def _count_statements(runtime: Runtime) -> list[str]:
    statements: list[str] = []

    def note(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        if "credential_changes" not in statement:  # the watcher's own reads
            statements.append(statement)

    event.listen(runtime.engine.sync_engine, "before_cursor_execute", note)
    return statements


def test_a_cached_client_costs_no_read_until_a_change_elsewhere(server: LiveServer) -> None:
    seeded = server.client()

    async def scenario(runtime: Runtime) -> dict[str, Any]:
        runtime.start_watching()
        while runtime.token_cache.watcher.current_epoch() is None:
            await asyncio.sleep(0.01)
        statements = _count_statements(runtime)
        first = (await runtime.clients.find(seeded.client_id, utcnow())).client
        reads_first = len(statements)
        again = await runtime.clients.find(seeded.client_id, utcnow())
        reads_again = len(statements) - reads_first

        # The CLI, or another worker, disables the client: another runtime, another cache.
        other = Runtime.start(server.settings)
        try:
            await management.set_client_enabled(other, seeded.client_id, False, actor="test")
        finally:
            await other.close()
        await asyncio.sleep(POLL_SECONDS + TRUST_SECONDS)
        after = (await runtime.clients.find(seeded.client_id, utcnow())).client
        return {
            "reads_first": reads_first,
            "reads_again": reads_again,
            "secrets": len(again.secrets),
            "fresh": again.fresh,
            "statuses": tuple(c and c.status for c in (first, again.client, after)),
        }

    seen = server.run(scenario)
    assert seen["reads_first"] >= 1
    assert seen["reads_again"] == 0
    assert seen["fresh"] is False
    assert seen["secrets"] == 1
    assert seen["statuses"] == ("active", "active", "disabled")


def test_a_change_of_this_process_is_seen_by_its_next_lookup(server: LiveServer) -> None:
    seeded = server.client()

    async def scenario(runtime: Runtime) -> tuple[str, str]:
        runtime.start_watching()
        while runtime.token_cache.watcher.current_epoch() is None:
            await asyncio.sleep(0.01)
        before = (await runtime.clients.find(seeded.client_id, utcnow())).client
        await management.set_client_enabled(runtime, seeded.client_id, False, actor="test")
        after = (await runtime.clients.find(seeded.client_id, utcnow())).client
        assert before is not None and after is not None
        return before.status, after.status

    assert server.run(scenario) == ("active", "disabled")


def test_every_credential_change_moves_the_counter_and_usage_does_not(
    server: LiveServer,
) -> None:
    seeded = server.client()

    async def scenario(runtime: Runtime) -> list[int]:
        counts = [await read_generation(runtime.engine)]
        await management.create_user(runtime, seeded.account, "c@example.com", "Counter")
        counts.append(await read_generation(runtime.engine))
        await management.set_client_enabled(runtime, seeded.client_id, False, actor="test")
        counts.append(await read_generation(runtime.engine))
        return counts

    before, after_user, after_disable = server.run(scenario)
    assert after_user == before
    assert after_disable == before + 1


def test_a_secret_rotated_in_elsewhere_works_at_once(
    server: LiveServer, http: httpx.Client
) -> None:
    # Refusals are decided on a fresh read, so the cache never refuses a brand-new secret.
    seeded = server.client()
    auth = (seeded.client_id, seeded.client_secret)
    assert http.post(TOKEN, data=GRANT, auth=auth).status_code == 200  # now cached

    async def rotate() -> str:
        other = Runtime.start(server.settings)
        try:
            rotated = await management.rotate_secret(
                other, seeded.client_id, grace=60, actor="test"
            )
        finally:
            await other.close()
        return rotated.client_secret

    new_secret = server.remember_secret(asyncio.run(rotate()))
    answer = http.post(TOKEN, data=GRANT, auth=(seeded.client_id, new_secret))
    assert answer.status_code == 200, answer.text


# --- the server: within a second, everywhere -----------------------------------------------
def _revoke_elsewhere(server: LiveServer, client_id: str) -> None:
    async def main() -> None:
        other = Runtime.start(server.settings)
        try:
            await management.revoke_client(other, client_id, actor="test")
        finally:
            await other.close()

    asyncio.run(main())


def test_a_client_revoked_by_another_process_is_refused_within_a_second(
    server: LiveServer, http: httpx.Client
) -> None:
    seeded = server.client()
    auth = (seeded.client_id, seeded.client_secret)
    for _ in range(3):  # the server now holds the client in its cache
        assert http.post(TOKEN, data=GRANT, auth=auth).status_code == 200

    _revoke_elsewhere(server, seeded.client_id)
    revoked_at = time.monotonic()
    while http.post(TOKEN, data=GRANT, auth=auth).status_code == 200:
        assert time.monotonic() - revoked_at < 1.0, "still issuing tokens a second later"
        time.sleep(0.02)
    assert http.post(TOKEN, data=GRANT, auth=auth).status_code == 401


def test_a_token_revoked_by_another_process_is_refused_within_a_second(
    server: LiveServer, http: httpx.Client
) -> None:
    seeded = server.client()
    user = server.user(seeded.account)
    token = server.token(seeded)["access_token"]
    bearer = {"Authorization": f"Bearer {token}"}
    for _ in range(3):  # the server now holds the token in its cache
        assert http.get(f"/api/users/{user}", headers=bearer).status_code == 200

    _revoke_elsewhere(server, seeded.client_id)
    revoked_at = time.monotonic()
    while http.get(f"/api/users/{user}", headers=bearer).status_code == 200:
        assert time.monotonic() - revoked_at < 1.0, "the token still works a second later"
        time.sleep(0.02)
    assert http.get(f"/api/users/{user}", headers=bearer).status_code == 401
