"""The benchmark run: servers up, scenarios interleaved over rounds, a Markdown table out.

Run through ``scripts/bench`` (or ``make bench``), which installs what is missing first.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import platform
import shlex
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from probes import jwt_verification, revocation_lag, sdk_overhead
from seed import (
    BenchClient,
    create_database,
    drop_database,
    fill_for_scale,
    postgres_version,
    prepare,
)
from servers import (
    BENCH_DIR,
    ROOT,
    Server,
    cpu_seconds,
    credgate_server,
    hello_server,
    peak_resident_mb,
    resource_server,
)

from credgate.config import Settings
from credgate.server.tls import ensure_dev_certificate

SCENARIOS = ("token-16", "token-64", "token-tls", "bearer", "revocation", "jwt", "sdk", "scale")
UNAVAILABLE = "not available in this build"
KIT_CEILING = "ceiling GET, Starlette, 1 worker, 64 conn"


@dataclass(frozen=True)
class Load:
    """One wrk load: which server, which script, how many connections."""

    name: str
    server: str
    lua: str
    path: str
    connections: int
    close: bool = False
    ceiling: str | None = None


@dataclass
class Result:
    rps: list[float] = field(default_factory=list)
    p50_ms: list[float] = field(default_factory=list)
    p99_ms: list[float] = field(default_factory=list)
    errors: int = 0
    cpu_us: list[float] = field(default_factory=list)
    rss_mb: float = 0.0


def wrk_load(
    load: Load, server: Server, duration: float, env: dict[str, str], logs: Path
) -> Result:
    threads = min(load.connections, os.cpu_count() or 1)
    command = [
        "wrk",
        f"-t{threads}",
        f"-c{load.connections}",
        f"-d{duration}s",
        "--timeout",
        "10s",
        "-s",
        str(BENCH_DIR / "lua" / load.lua),
        server.base_url + load.path,
    ]
    run_env = {**os.environ, **env, "BENCH_LUA_DIR": str(BENCH_DIR / "lua")}
    run_env["BENCH_CLOSE"] = "1" if load.close else "0"
    pids = server.pids()
    before = cpu_seconds(pids)
    output = subprocess.run(command, env=run_env, capture_output=True, text=True, check=True)
    after = cpu_seconds(pids)
    (logs / "wrk.log").open("a").write(f"$ {shlex.join(command)}\n{output.stdout}\n")
    line = next(x for x in output.stdout.splitlines() if x.startswith("BENCH_JSON "))
    figures = json.loads(line.removeprefix("BENCH_JSON "))
    requests = max(1, figures["requests"])
    errors = sum(figures[key] for key in ("connect", "read", "write", "status", "timeout"))
    return Result(
        rps=[figures["requests"] / (figures["duration_us"] / 1e6)],
        p50_ms=[figures["p50_us"] / 1000],
        p99_ms=[figures["p99_us"] / 1000],
        errors=errors,
        cpu_us=[(after - before) / requests * 1e6],
        rss_mb=peak_resident_mb(server.workers()),
    )


def merge(into: Result, one: Result) -> None:
    into.rps += one.rps
    into.p50_ms += one.p50_ms
    into.p99_ms += one.p99_ms
    into.errors += one.errors
    into.cpu_us += one.cpu_us
    into.rss_mb = max(into.rss_mb, one.rss_mb)


def basic_value(client: BenchClient) -> str:
    return base64.b64encode(f"{client.client_id}:{client.client_secret}".encode()).decode()


def fetch_token(server: Server, client: BenchClient) -> str:
    with httpx.Client(verify=False) as api:  # noqa: S501 - loopback dev certificate
        answer = api.post(
            server.base_url + "/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(client.client_id, client.client_secret),
        )
    answer.raise_for_status()
    return str(answer.json()["access_token"])


def check_bearer(server: Server, path: str, token: str) -> None:
    """One GET before the load: the token is accepted, and caches (a verifier's JWKS) are warm."""
    with httpx.Client(verify=False) as api:  # noqa: S501 - loopback dev certificate
        api.get(
            server.base_url + path, headers={"Authorization": f"Bearer {token}"}
        ).raise_for_status()


def supports_jwt() -> bool:
    """Whether this build can issue JWTs (``CREDGATE_TOKEN_FORMAT``, ``--token-format``)."""
    help_text = subprocess.run(
        [str(Path(sys.executable).parent / "credgate"), "clients", "create", "--help"],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
        check=False,
    ).stdout
    return "--token-format" in help_text


@dataclass
class Run:
    args: argparse.Namespace
    workdir: Path
    workers: int
    servers: dict[str, Server] = field(default_factory=dict)
    clients: dict[str, BenchClient] = field(default_factory=dict)
    databases: dict[str, str] = field(default_factory=dict)
    results: dict[str, Result] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)
    ceilings: dict[str, str | None] = field(default_factory=dict)
    # The server whose tokens a server accepts, where that is another one (the resource kit's).
    token_from: dict[str, str] = field(default_factory=dict)
    jwt: bool = False
    tls: tuple[Path, Path] | None = None

    def wanted(self, scenario: str) -> bool:
        return not self.args.scenario or scenario in self.args.scenario

    def base_env(self, kind: str) -> dict[str, str]:
        return {
            **os.environ,
            "CREDGATE_DATA_DIR": str(self.workdir / kind),
            "CREDGATE_DATABASE_URL": self.databases[kind],
            "CREDGATE_HASH_KEY": "ab" * 32,
            "CREDGATE_PURGE_INTERVAL": "0",
            # One client's token drives the whole bearer load, far past the default API limit
            # per client: the limiter still runs on every request, it just never refuses.
            "CREDGATE_API_RATE_LIMIT": "100000000/minute",
        }

    def start(self) -> None:
        dev = ensure_dev_certificate(self.workdir / "tls")
        self.tls = (dev.cert_file, dev.key_file)
        logs = self.workdir
        env = dict(os.environ)
        self.servers["hello"] = hello_server("hello", env, self.workers, None, logs)
        self.servers["hello-tls"] = hello_server("hello-tls", env, self.workers, self.tls, logs)
        for kind in self.args.databases:
            self.databases[kind] = create_database(kind, self.workdir)
            env = self.base_env(kind)
            settings = Settings(
                data_dir=self.workdir / kind,
                database_url=self.databases[kind],
                hash_key="ab" * 32,
            )
            self.clients[kind] = prepare(settings)
            self.servers[kind] = credgate_server(kind, env, self.workers, None, logs)
            if self.wanted("jwt") and self.jwt:
                jwt_env = {**env, "CREDGATE_TOKEN_FORMAT": "jwt"}
                self.servers[f"{kind}-jwt"] = credgate_server(
                    f"{kind}-jwt", jwt_env, self.workers, None, logs
                )
            if self.wanted("token-tls"):
                self.servers[f"{kind}-tls"] = credgate_server(
                    f"{kind}-tls", env, self.workers, self.tls, logs
                )
        if self.wanted("jwt") and self.jwt:
            self.start_resource_servers(logs)
        # One server at a time: uvicorn kills a worker that does not answer its supervisor
        # within 5 s, and a dozen processes importing at once on a busy machine take longer.
        for server in self.servers.values():
            server.start()
            server.wait_ready(1 if server.single_process else self.workers)

    def start_resource_servers(self, logs: Path) -> None:
        """A resource server of the user's own on one worker, bare and behind the kit's check
        of the JWTs the first database's JWT server issues."""
        issuer = f"{self.args.databases[0]}-jwt"
        env = dict(os.environ)
        self.servers["resource"] = resource_server("resource", env, logs, None)
        self.servers["resource-jwt"] = resource_server(
            "resource-jwt", env, logs, self.servers[issuer].base_url
        )
        self.token_from["resource-jwt"] = issuer

    def stop(self) -> None:
        for server in self.servers.values():
            server.stop()
        for url in self.databases.values():
            drop_database(url)

    def loads(self, scale: bool = False) -> list[Load]:
        loads: list[Load] = []
        if not scale:
            if self.wanted("token-16"):
                loads.append(Load("ceiling POST, 16 conn", "hello", "token.lua", "/hello", 16))
            if self.wanted("token-64") or self.wanted("scale"):
                loads.append(Load("ceiling POST, 64 conn", "hello", "token.lua", "/hello", 64))
            if self.wanted("token-tls"):
                loads.append(
                    Load(
                        "ceiling POST, new TLS conn",
                        "hello-tls",
                        "token.lua",
                        "/hello",
                        16,
                        close=True,
                    )
                )
            if self.wanted("bearer") or self.wanted("scale"):
                loads.append(Load("ceiling GET, 64 conn", "hello", "bearer.lua", "/hello", 64))
        if self.wanted("jwt") and self.jwt and not scale:
            loads.append(Load("ceiling GET, 64 conn", "hello", "bearer.lua", "/hello", 64))
            loads += [
                Load(KIT_CEILING, "resource", "bearer.lua", "/hello", 64),
                Load(
                    "resource kit: JWT GET, 1 worker, 64 conn",
                    "resource-jwt",
                    "bearer.lua",
                    "/hello",
                    64,
                    ceiling=KIT_CEILING,
                ),
            ]
        prefix = "1M tokens: " if scale else ""
        for kind in self.args.databases:
            user = self.clients[kind].user_id
            if self.wanted("token-16") and not scale:
                loads.append(
                    Load(
                        f"{kind}: token, 16 conn",
                        kind,
                        "token.lua",
                        "/oauth/token",
                        16,
                        ceiling="ceiling POST, 16 conn",
                    )
                )
            if self.wanted("token-64") or (scale and self.wanted("scale")):
                loads.append(
                    Load(
                        f"{prefix}{kind}: token, 64 conn",
                        kind,
                        "token.lua",
                        "/oauth/token",
                        64,
                        ceiling="ceiling POST, 64 conn",
                    )
                )
            if self.wanted("token-tls") and not scale:
                loads.append(
                    Load(
                        f"{kind}: token, new TLS conn",
                        f"{kind}-tls",
                        "token.lua",
                        "/oauth/token",
                        16,
                        close=True,
                        ceiling="ceiling POST, new TLS conn",
                    )
                )
            if self.wanted("jwt") and self.jwt and not scale:
                loads.append(
                    Load(
                        f"{kind}: JWT bearer GET, 64 conn",
                        f"{kind}-jwt",
                        "bearer.lua",
                        f"/api/users/{user}",
                        64,
                        ceiling="ceiling GET, 64 conn",
                    )
                )
            if self.wanted("bearer") or (scale and self.wanted("scale")):
                loads.append(
                    Load(
                        f"{prefix}{kind}: bearer GET, 64 conn",
                        kind,
                        "bearer.lua",
                        f"/api/users/{user}",
                        64,
                        ceiling="ceiling GET, 64 conn",
                    )
                )
        return list(dict.fromkeys(loads))  # a ceiling two groups share runs once

    def load_env(self, load: Load) -> dict[str, str]:
        issuer = self.token_from.get(load.server, load.server)
        kind = issuer.removesuffix("-tls").removesuffix("-jwt")
        client = self.clients.get(kind) or next(iter(self.clients.values()))
        env = {"BENCH_BASIC": basic_value(client)}
        if load.lua == "bearer.lua":
            if kind in self.clients:
                # A JWT server issues JWTs: the token comes from the server under load.
                env["BENCH_TOKEN"] = fetch_token(self.servers[issuer], client)
                check_bearer(self.servers[load.server], load.path, env["BENCH_TOKEN"])
            else:
                env["BENCH_TOKEN"] = "cgt_ceiling_does_not_check_it"
        return env

    def run_loads(self, loads: list[Load]) -> None:
        if not loads:  # only probes were asked for (revocation, jwt, sdk)
            return
        envs = {load.name: self.load_env(load) for load in loads}
        for round_number in range(self.args.rounds):
            # Each round starts one step further along, so drift hits every scenario alike.
            shift = round_number % len(loads)
            for load in loads[shift:] + loads[:shift]:
                print(f"round {round_number + 1}: {load.name}", flush=True)
                server = self.servers[load.server]
                one = wrk_load(load, server, self.args.duration, envs[load.name], self.workdir)
                merge(self.results.setdefault(load.name, Result()), one)
        self.ceilings.update({load.name: load.ceiling for load in loads})

    def run_revocation(self) -> None:
        for kind in self.args.databases:
            server = self.servers[kind]
            client = self.clients[kind]
            lags = revocation_lag(
                server.base_url,
                server.port,
                (client.client_id, client.client_secret),
                client.user_id,
                connections=8 * self.workers,
                rounds=self.args.rounds,
            )
            self.notes[f"{kind}: revoked token refused by every worker"] = (
                f"after {statistics.median(lags) * 1000:.0f} ms (median), "
                f"{max(lags) * 1000:.0f} ms (worst) over {len(lags)} rounds, "
                f"{8 * self.workers} keep-alive connections spread over {self.workers} workers"
            )

    def run_sdk(self) -> None:
        kind = self.args.databases[0]
        client = self.clients[kind]
        measured = sdk_overhead(
            self.servers["hello"].base_url + "/hello",
            self.servers[kind].base_url + "/oauth/token",
            (client.client_id, client.client_secret),
            calls=self.args.sdk_calls,
            rounds=max(5, self.args.rounds),
        )
        difference = measured.sdk_get_us - measured.bare_get_us
        self.notes["SDK overhead per call, token cached"] = (
            f"{measured.own_us:.1f} µs of the SDK's own work (the cached token's check and "
            f"its header); end to end, {difference:+.0f} µs of client CPU per GET against "
            f"bare httpx ({measured.sdk_get_us:.0f} against {measured.bare_get_us:.0f} µs, "
            "sequential, against the hello-world server)"
        )

    def run_jwt(self) -> None:
        # The JWT GET rows (credgate's own API, and a resource server behind the kit) run
        # among the other loads; this is the kit's verification alone, without HTTP.
        if not self.jwt:
            self.notes["JWT: bearer GET, and local verification per core"] = UNAVAILABLE
            return
        kind = self.args.databases[0]
        client = self.clients[kind]
        server = self.servers[f"{kind}-jwt"]
        token = fetch_token(server, client)
        seconds, rounds = self.args.jwt_seconds, self.args.rounds
        figures = jwt_verification(server.base_url, token, client.client_id, seconds, rounds)
        self.notes["JWT: local verification per core (resource kit)"] = (
            f"{1e6 / figures.sync_us:,.0f} verifications/s: {figures.sync_us:.0f} µs of CPU "
            f"each with `verify_sync`, {figures.async_us:.0f} µs with `await verify`; "
            f"{figures.remembered_us:.1f} µs per later call of a token it remembers; "
            f"{figures.algorithm}, one token, one process, median of {rounds} rounds of "
            f"{seconds} s"
        )

    def run_scale(self) -> None:
        for kind in self.args.databases:
            started = time.monotonic()
            fill_for_scale(self.databases[kind], self.args.scale_clients, self.args.scale_tokens)
            self.notes[f"{kind}: scale fill"] = (
                f"{self.args.scale_clients:,} clients and {self.args.scale_tokens:,} live tokens "
                f"in {time.monotonic() - started:.0f} s"
            )
        self.run_loads(self.loads(scale=True))


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def versions() -> str:
    names = ("credgate", "fastapi", "starlette", "uvicorn", "sqlalchemy", "uvloop", "httptools")
    parts = [f"Python {platform.python_version()}"]
    parts += [f"{name} {version(name)}" for name in names]
    wrk = subprocess.run(["wrk", "-v"], capture_output=True, text=True, check=False)
    parts.append((wrk.stdout or wrk.stderr).split(" [")[0].strip())
    parts.append(f"SQLite {sqlite3.sqlite_version}")
    try:
        parts.append(f"PostgreSQL {postgres_version()}")
    except OSError:
        parts.append("PostgreSQL unreachable")
    return ", ".join(parts)


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def render(run: Run, command: str, elapsed: float) -> str:
    lines = [
        f"Run on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores "
        f"({cpu_model()}), {run.workers} workers per server, "
        f"{run.args.rounds} rounds of {run.args.duration} s per load, medians shown; "
        f"took {elapsed / 60:.1f} min.",
        "",
        f"Versions: {versions()}.",
        "",
        f"Command: `{command}`",
        "",
        "| scenario | req/s | × ceiling | p50 ms | p99 ms | errors | server CPU µs/req "
        "| peak RSS/worker MB |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, result in run.results.items():
        ceiling_name = run.ceilings.get(name)
        ratio = "1.00" if ceiling_name is None else "-"
        if ceiling_name in run.results:
            ratio = f"{median(result.rps) / median(run.results[ceiling_name].rps):.2f}"
        lines.append(
            f"| {name} | {median(result.rps):,.0f} | {ratio} | {median(result.p50_ms):.2f} "
            f"| {median(result.p99_ms):.2f} | {result.errors} | {median(result.cpu_us):,.0f} "
            f"| {result.rss_mb:.0f} |"
        )
    if run.notes:
        lines += ["", "| measurement | result |", "| --- | --- |"]
        lines += [f"| {name} | {text} |" for name, text in run.notes.items()]
    return "\n".join(lines) + "\n"


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="scripts/bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smoke run: seconds, 1 round")
    parser.add_argument("--scenario", action="append", choices=SCENARIOS)
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--output", type=Path, default=ROOT / "BENCHMARKS.md")
    parser.add_argument("--duration", type=int, help="seconds per load")
    parser.add_argument("--rounds", type=int)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args(argv)
    args.databases = [kind for kind in args.databases.split(",") if kind]
    quick = args.quick
    args.duration = args.duration or (1 if quick else 6)
    args.rounds = args.rounds or (1 if quick else 3)
    args.sdk_calls = 50 if quick else 1000
    args.jwt_seconds = 0.5 if quick else 2.5
    args.scale_clients = 100 if quick else 10_000
    args.scale_tokens = 1_000 if quick else 1_000_000
    return args


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="credgate-bench-") as workdir:
        run = Run(args, Path(workdir), args.workers, jwt=supports_jwt())
        try:
            run.start()
            run.run_loads(run.loads())
            if run.wanted("revocation"):
                run.run_revocation()
            if run.wanted("jwt"):
                run.run_jwt()
            if run.wanted("sdk"):
                run.run_sdk()
            if run.wanted("scale"):
                run.run_scale()
        finally:
            run.stop()
            for log in Path(workdir).glob("*.log"):
                keep = args.output.parent / "bench-logs"
                keep.mkdir(exist_ok=True)
                log.replace(keep / log.name)
    command = shlex.join(["scripts/bench", *argv])
    table = render(run, command, time.monotonic() - started)
    write_table(args.output, table)
    print(table)
    errors = sum(result.errors for result in run.results.values())
    return 1 if errors else 0


def write_table(path: Path, table: str) -> None:
    """Replace the generated part of the file, keeping the prose around the markers."""
    begin, end = "<!-- bench:begin -->", "<!-- bench:end -->"
    text = path.read_text() if path.exists() else f"{begin}\n{end}\n"
    if begin not in text:
        text += f"\n{begin}\n{end}\n"
    head, rest = text.split(begin, 1)
    tail = rest.split(end, 1)[1] if end in rest else "\n"
    path.write_text(f"{head}{begin}\n{table}{end}{tail}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
