"""A Redis server of a test's own, on a free port, that the test may stop and start again.

The machine's shared Redis is never touched: each module that needs Redis runs one of these,
so its keys cannot meet another run's, and stopping it is a real outage.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import free_port

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


class PrivateRedis:
    def __init__(self, directory: Path, *, persistent: bool = False) -> None:
        if not Path(REDIS_SERVER).exists():
            pytest.skip("redis-server is not installed")
        self.directory = directory
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None
        # Persistent: saved on stop and loaded on start, like a Redis that was only away.
        self.save = "3600 1" if persistent else ""

    def start(self) -> None:
        arguments = ["--port", str(self.port), "--bind", "127.0.0.1", "--save", self.save]
        arguments += ["--appendonly", "no", "--dir", str(self.directory)]
        with (self.directory / "redis.log").open("ab") as log:
            self.process = subprocess.Popen(
                [REDIS_SERVER, *arguments], stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


def private_redis(directory: Path, *, persistent: bool = False) -> Iterator[PrivateRedis]:
    instance = PrivateRedis(directory, persistent=persistent)
    instance.start()
    yield instance
    instance.stop()
