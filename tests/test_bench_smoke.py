"""The benchmark suite still runs: a smoke pass of ``scripts/bench --quick`` on SQLite.

No thresholds here (the machine is shared and small): the run must finish, every load must
answer without a single error, and the table must land where it was asked to, not in
BENCHMARKS.md.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = [
    pytest.mark.database_independent,
    pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is installed by .ci/run"),
]


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    output = tmp_path_factory.mktemp("bench") / "table.md"
    benchmarks = (
        (ROOT / "BENCHMARKS.md").read_bytes() if (ROOT / "BENCHMARKS.md").exists() else None
    )
    done = subprocess.run(
        [
            str(ROOT / "scripts" / "bench"),
            "--quick",
            "--databases",
            "sqlite",
            "--scenario",
            "token-16",
            "--scenario",
            "bearer",
            "--scenario",
            "revocation",
            "--scenario",
            "jwt",
            "--scenario",
            "sdk",
            "--output",
            str(output),
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    after = (ROOT / "BENCHMARKS.md").read_bytes() if (ROOT / "BENCHMARKS.md").exists() else None
    assert after == benchmarks
    return output.read_text(), output


def _rows(table: str) -> dict[str, list[str]]:
    rows = {}
    for line in table.splitlines():
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if line.startswith("| ") and len(cells) == 8 and cells[0] not in ("scenario", "---"):
            rows[cells[0]] = cells[1:]
    return rows


def test_quick_run_writes_its_table_to_the_given_file(smoke_run: tuple[str, Path]) -> None:
    table, _ = smoke_run

    assert "Command: `scripts/bench --quick" in table
    assert "sqlite: token, 16 conn" in table
    assert "sqlite: bearer GET, 64 conn" in table


def test_every_load_answers_without_errors(smoke_run: tuple[str, Path]) -> None:
    rows = _rows(smoke_run[0])

    # The ceilings, token issuance, the bearer GET with an opaque token and a JWT, and a
    # resource server of the user's own checking the JWT through the resource kit.
    assert set(rows) == {
        "ceiling POST, 16 conn",
        "ceiling GET, 64 conn",
        "ceiling GET, Starlette, 1 worker, 64 conn",
        "sqlite: token, 16 conn",
        "sqlite: bearer GET, 64 conn",
        "sqlite: JWT bearer GET, 64 conn",
        "resource kit: JWT GET, 1 worker, 64 conn",
    }
    for name, (rps, ratio, _p50, _p99, errors, cpu, rss) in rows.items():
        assert errors == "0", name
        assert float(rps.replace(",", "")) > 0, name
        assert float(ratio) > 0, name
        assert float(cpu.replace(",", "")) > 0, name
        assert float(rss) > 0, name


def test_probes_report_revocation_sdk_and_jwt(smoke_run: tuple[str, Path]) -> None:
    table = smoke_run[0]

    assert "sqlite: revoked token refused by every worker | after " in table
    assert "SDK overhead per call, token cached | " in table
    jwt_line = next(line for line in table.splitlines() if line.startswith("| JWT"))
    assert "| JWT: local verification per core (resource kit) | " in jwt_line
    rate = jwt_line.split(" | ")[1].split(" verifications/s")[0]
    assert float(rate.replace(",", "")) > 0
