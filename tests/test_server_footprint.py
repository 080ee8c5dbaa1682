"""What a server worker loads: libraries only some paths need wait until one is taken.

Each worker is a spawned process that imports the application for itself, so every library
imported at start-up is paid once per worker. These are the ones it can do without until a
request, or a setting, calls for them.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

# Loaded later: by `credgate migrate` and the CLI, a Redis URL, a resource-kit verifier,
# the first portal page, a PostgreSQL database.
DEFERRED = (
    "alembic",
    "typer",
    "redis",
    "httpx",
    "jinja2",
    "sqlalchemy.dialects.postgresql",
)

# A spawned worker imports again the module the command started from: credgate.__main__.
_WORKER = """
import json, sys
import credgate.__main__
from credgate.server.app import create_app
from credgate.admin import auth
create_app()
print(json.dumps({
    "modules": sorted(sys.modules),
    "dummy_hashes": auth._dummy_password_hash.cache_info().currsize,
}))
"""


def test_a_worker_defers_what_only_some_requests_need(tmp_path: Path) -> None:
    env = {
        "CREDGATE_DATA_DIR": str(tmp_path),
        "CREDGATE_DATABASE_URL": f"sqlite:///{tmp_path}/credgate.db",
        "PATH": "/usr/bin:/bin",
    }
    result = subprocess.run(
        [sys.executable, "-c", _WORKER], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    loaded = json.loads(result.stdout.splitlines()[-1])

    assert [name for name in DEFERRED if name in loaded["modules"]] == []
    # An argon2 hash fills 64 MiB: made at the first unknown-email sign-in, not at start.
    assert loaded["dummy_hashes"] == 0
