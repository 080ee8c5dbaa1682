"""The short load and fault run: traffic through a worker kill, a PostgreSQL restart and a
Redis outage, with the targets of ``scripts/loadtest`` asserted on its report.

It brings its own PostgreSQL and Redis, so it runs in the SQLite pass only.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from test_secrets_at_rest import generated_values_in

# The load run starts a private PostgreSQL of its own, whatever the pass.
pytestmark = pytest.mark.database_independent

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "loadtest"
MISSING_BINARIES = 3


@pytest.fixture(scope="module")
def load_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path]:
    workdir = tmp_path_factory.mktemp("load")
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--short", "--json", "--workdir", str(workdir),
         "--log-level", "DEBUG"],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )  # fmt: skip
    if result.returncode == MISSING_BINARIES:
        pytest.skip(result.stderr.strip())
    report = json.loads(result.stdout)
    print(json.dumps(report, indent=2))
    return report, workdir


def test_no_5xx_other_than_announced_503s_through_the_faults(
    load_run: tuple[dict[str, Any], Path],
) -> None:
    report, _ = load_run

    assert report["unannounced_5xx"] == 0, report["unannounced_5xx_examples"]
    assert report["by_status"].get("token 200", 0) > 100
    assert report["by_status"].get("api 200", 0) > 100
    assert [event["event"] for event in report["events"]][:4] == [
        "worker killed",
        "postgresql restarted",
        "redis stopped",
        "redis started",
    ]


def test_every_issued_token_checks_out_and_no_revocation_is_late(
    load_run: tuple[dict[str, Any], Path],
) -> None:
    report, _ = load_run

    checked = report["tokens_checked"]
    unknown = {key: count for key, count in checked.items() if key.startswith("revocation_")}
    assert "wrong" not in checked, report["tokens_wrong_examples"]
    assert checked["as_expected"] + sum(unknown.values()) == report["tokens_issued"]
    # Only revocations answered 503 or cut off by the faults are left unknown.
    assert sum(unknown.values()) <= report["by_status"].get("revoke 503", 0) + sum(
        report["transport_errors"].values()
    )
    assert report["revocations"] > 10
    assert report["late_revocations"] == 0
    assert report["rotations"] >= 5


def test_the_killed_worker_is_replaced_and_memory_holds(
    load_run: tuple[dict[str, Any], Path],
) -> None:
    report, _ = load_run

    assert report["workers_restarted"]
    # The kill may cut the one request each load thread had in flight on that worker.
    assert sum(report["transport_errors"].values()) <= 4
    assert len(report["memory_kib_end"]) == 2
    assert report["memory_growth"]
    assert all(growth <= 0.10 for growth in report["memory_growth"].values())


def test_the_redis_outage_is_reported_once_per_worker_at_most(
    load_run: tuple[dict[str, Any], Path],
) -> None:
    report, _ = load_run

    assert report["server_log_warnings"].get("WARNING rate_limit.storage_unavailable", 0) >= 1
    assert report["server_log_warnings"]["WARNING rate_limit.storage_unavailable"] <= 2
    assert report["missed_targets"] == []


def test_the_debug_log_of_the_load_run_holds_no_secret_and_no_token(
    load_run: tuple[dict[str, Any], Path],
) -> None:
    _, workdir = load_run
    log = (workdir / "server.log").read_text(errors="replace")

    assert "token.issued" in log
    assert not generated_values_in(log)
