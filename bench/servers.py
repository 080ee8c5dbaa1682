"""Starting the servers under test and reading their CPU time and memory from /proc."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
VENV_BIN = Path(sys.executable).parent
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    """One server group: a uvicorn supervisor and its worker processes."""

    name: str
    command: list[str]
    env: dict[str, str]
    tls: bool
    health_path: str
    log_path: Path
    single_process: bool = False
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    def start(self) -> None:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [*self.command, "--port", str(self.port)],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )

    def wait_ready(self, workers: int, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        with httpx.Client(verify=False, timeout=2) as client:  # noqa: S501 - loopback dev cert
            while time.monotonic() < deadline:
                if self.process is not None and self.process.poll() is not None:
                    raise RuntimeError(f"{self.name} exited; see {self.log_path}")
                try:
                    answer = client.get(self.base_url + self.health_path)
                    if answer.status_code == 200 and len(self.workers()) >= workers:
                        return
                except httpx.HTTPError:
                    pass
                time.sleep(0.2)
        raise RuntimeError(f"{self.name} did not start; see {self.log_path}")

    def pids(self) -> list[int]:
        if self.process is None:
            return []
        return [self.process.pid, *descendants(self.process.pid)]

    def workers(self) -> list[int]:
        # uvicorn's workers are the supervisor's children that run the app (resident > 20 MB);
        # multiprocessing's resource tracker is a small child that never serves.
        if self.process is None:
            return []
        if self.single_process:
            # With one worker uvicorn serves from its own process and starts no children.
            return [self.process.pid]
        return [pid for pid in descendants(self.process.pid) if resident_kb(pid) > 20_000]

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def descendants(pid: int) -> list[int]:
    found: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except FileNotFoundError:
        return found
    for task in tasks:
        try:
            children = Path(f"/proc/{pid}/task/{task}/children").read_text().split()
        except FileNotFoundError:
            continue
        for child in map(int, children):
            found.extend([child, *descendants(child)])
    return found


def cpu_seconds(pids: list[int]) -> float:
    """User plus system CPU time of the processes, from /proc/PID/stat (fields 14 and 15)."""
    total = 0
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except FileNotFoundError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / CLOCK_TICKS


def _status_kb(pid: int, key: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except FileNotFoundError:
        pass
    return 0


def resident_kb(pid: int) -> int:
    return _status_kb(pid, "VmRSS")


def peak_resident_mb(pids: list[int]) -> float:
    """The largest peak resident set (VmHWM) among the processes, in MB."""
    return max((_status_kb(pid, "VmHWM") for pid in pids), default=0) / 1024


def credgate_server(
    name: str,
    env: dict[str, str],
    workers: int,
    tls: tuple[Path, Path] | None,
    logs: Path,
    extra: tuple[str, ...] = (),
) -> Server:
    command = [str(VENV_BIN / "credgate"), "serve", "--workers", str(workers), *extra]
    if tls is None:
        command.append("--plain-http")
    else:
        command += ["--certfile", str(tls[0]), "--keyfile", str(tls[1])]
    log = logs / f"{name}.log"
    return Server(name, command, env, tls is not None, "/healthz", log, workers == 1)


def hello_server(
    name: str, env: dict[str, str], workers: int, tls: tuple[Path, Path] | None, logs: Path
) -> Server:
    """The ceiling, with the options ``credgate serve`` gives uvicorn."""
    command = [
        str(VENV_BIN / "uvicorn"),
        "hello:app",
        "--app-dir",
        str(BENCH_DIR),
        "--host",
        "127.0.0.1",
        "--workers",
        str(workers),
        "--no-access-log",
        "--no-server-header",
        "--log-level",
        "warning",
    ]
    if tls is not None:
        command += ["--ssl-certfile", str(tls[0]), "--ssl-keyfile", str(tls[1])]
    return Server(
        name, command, env, tls is not None, "/hello", logs / f"{name}.log", workers == 1
    )


def resource_server(name: str, env: dict[str, str], logs: Path, issuer: str | None) -> Server:
    """A Starlette hello route on one uvicorn worker: behind the resource kit's JWT check when
    ``issuer`` is given, bare (the ceiling) when not."""
    app = ["--factory", "kit_app:protected"] if issuer else ["kit_app:plain"]
    command = [
        str(VENV_BIN / "uvicorn"),
        *app,
        "--app-dir",
        str(BENCH_DIR),
        "--host",
        "127.0.0.1",
        "--workers",
        "1",
        "--no-access-log",
        "--no-server-header",
        "--log-level",
        "warning",
    ]
    if issuer:
        env = {**env, "BENCH_ISSUER": issuer}
    return Server(name, command, env, False, "/healthz", logs / f"{name}.log", True)
