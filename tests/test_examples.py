"""Every program in examples/ runs against a live server, as written and as the portal shows it.

Each sample gets a fresh client and a user of its account, trades the secret for a token,
reads the user and prints it. It must also fail (exit non-zero, the secret nowhere in its
output) when the secret is wrong. A sample whose toolchain is missing here is skipped with the
reason, so it is reported as not run, never as passed.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

import toolchains
from conftest import LiveServer, Seeded
from credgate import samples
from toolchains import REPO, Toolchain, tool_env

# Client compatibility: the same in both passes, so run in the SQLite pass only.
pytestmark = pytest.mark.database_independent

EXAMPLES = REPO / "examples"
RUN_TIMEOUT = 120


@dataclass(frozen=True)
class Run:
    """How to run one sample: its toolchain, and the command for a copy of its program."""

    toolchain: Toolchain
    command: Callable[[Path], list[str]]
    env: Callable[[LiveServer, Path], dict[str, str]] = lambda server, workdir: {}
    build: Callable[[Path], Path] | None = None
    by_hostname: bool = False

    def base_url(self, server: LiveServer) -> str:
        if self.by_hostname:
            return server.base_url.replace("//127.0.0.1:", "//localhost:")
        return server.base_url


def _python_sdk_available() -> None:
    if importlib.util.find_spec("credgate.client") is None:
        pytest.skip("credgate.client not installed")


def _node_modules(program: Path) -> list[str]:
    # ESM imports resolve from the program's folder up, so the npm packages are linked there.
    link = program.parent / "node_modules"
    if not link.exists():
        link.symlink_to(toolchains.NPM_PACKAGES / "node_modules")
    return ["node", str(program)]


def _build_go(program: Path) -> Path:
    binary = program.parent / "call-api-go"
    subprocess.run(
        ["go", "build", "-o", str(binary), str(program)],
        env=tool_env(GO111MODULE="off", GOFLAGS="", GOPROXY="off"),
        check=True,
        capture_output=True,
        timeout=RUN_TIMEOUT,
    )
    return binary


def _build_rust(program: Path) -> Path:
    # program is src/main.rs of a copy of examples/rust.
    project = program.parent.parent
    manifest = project / "Cargo.toml"
    subprocess.run(
        ["cargo", "build", "--quiet", "--release", "--manifest-path", str(manifest)],
        env=toolchains.cargo_env(),
        check=True,
        capture_output=True,
        timeout=600,
    )
    return toolchains.CARGO_TARGET / "release" / "credgate-call-api"


def _build_csharp(program: Path) -> Path:
    assembly = program.with_suffix(".exe")
    subprocess.run(
        ["mcs", "-r:System.Net.Http.dll", f"-out:{assembly}", str(program)],
        check=True,
        capture_output=True,
        timeout=RUN_TIMEOUT,
    )
    return assembly


def _ca(server: LiveServer, workdir: Path) -> dict[str, str]:
    return {"CREDGATE_CA": str(server.ca_file)}


def _mono_trust(server: LiveServer, workdir: Path) -> dict[str, str]:
    """Mono cannot read the EC key of the development CA in managed code, so the program's
    CREDGATE_CA check cannot run there; the CA goes into a Mono trust store of its own
    instead, which Mono's native TLS verifies against."""
    home = workdir / "home"
    home.mkdir()
    subprocess.run(
        ["cert-sync", "--quiet", "--user", str(server.ca_file)],
        env=tool_env(HOME=str(home)),
        check=True,
        capture_output=True,
        timeout=RUN_TIMEOUT,
    )
    return {"HOME": str(home)}


RUNS: dict[str, Run] = {
    "curl": Run(toolchains.CURL, lambda p: ["bash", str(p)], _ca),
    "python-requests": Run(Toolchain("Python"), lambda p: [sys.executable, str(p)], _ca),
    "python-sdk": Run(
        Toolchain("Python"),
        lambda p: [sys.executable, str(p)],
        lambda server, _: {**_ca(server, _), "SSL_CERT_FILE": str(server.ca_file)},
    ),
    # Built-in fetch trusts extra CAs only through NODE_EXTRA_CA_CERTS, read at start-up.
    "node-fetch": Run(
        toolchains.NODE,
        lambda p: ["node", str(p)],
        lambda server, _: {"NODE_EXTRA_CA_CERTS": str(server.ca_file)},
    ),
    "node-axios": Run(toolchains.NODE_PACKAGES, _node_modules, _ca),
    "java": Run(toolchains.JAVA, lambda p: ["java", str(p)], _ca),
    # Mono's TLS does not match certificates to IP addresses: it connects by name.
    "csharp": Run(
        toolchains.CSHARP, lambda p: ["mono", str(p)], _mono_trust, _build_csharp, by_hostname=True
    ),
    "php": Run(toolchains.PHP, lambda p: ["php", str(p)], _ca),
    "ruby": Run(toolchains.RUBY, lambda p: ["ruby", str(p)], _ca),
    "go": Run(toolchains.GO, lambda p: [str(p)], _ca, _build_go),
    "rust": Run(toolchains.RUST, lambda p: [str(p)], _ca, _build_rust),
    "swift": Run(
        toolchains.SWIFT,
        lambda p: ["swift", str(p)],
        lambda server, _: {"SSL_CERT_FILE": str(server.ca_file)},
    ),
}


@dataclass
class Target:
    seeded: Seeded
    user_id: str
    email: str


@pytest.fixture()
def target(server: LiveServer) -> Target:
    seeded = server.client(scope="users:read")
    email = f"{uuid.uuid4().hex[:10]}@example.com"
    return Target(seeded, server.user(seeded.account, email=email, name="Ada Lovelace"), email)


def _program_copy(program: samples.Program, code: str, workdir: Path) -> Path:
    """A copy of the sample's folder with the program text replaced by ``code``."""
    folder = program.path.split("/", 1)[0]
    project = workdir / folder
    shutil.copytree(EXAMPLES / folder, project)
    path = workdir / program.path
    path.write_text(code)
    return path


def _run(
    key: str, code: str, workdir: Path, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    program = next(p for p in samples.PROGRAMS if p.key == key)
    run = RUNS[key]
    path = _program_copy(program, code, workdir)
    if run.build is not None:
        path = run.build(path)
    return subprocess.run(
        run.command(path),
        env=tool_env(**env),
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
    )


def _prepare(key: str) -> Run:
    run = RUNS[key]
    run.toolchain.require()
    if key == "python-sdk":
        _python_sdk_available()
    return run


def _user_printed(result: subprocess.CompletedProcess[str], target: Target) -> None:
    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout)
    assert printed["id"] == target.user_id
    assert printed["email"] == target.email
    assert printed["name"] == "Ada Lovelace"


KEYS = [program.key for program in samples.PROGRAMS]


def test_every_sample_has_a_way_to_run() -> None:
    assert set(RUNS) == set(KEYS)


@pytest.mark.parametrize("key", KEYS)
def test_sample_reads_a_user_with_credentials_from_the_environment(
    server: LiveServer, target: Target, tmp_path: Path, key: str
) -> None:
    run = _prepare(key)
    program = next(p for p in samples.PROGRAMS if p.key == key)
    env = {
        **run.env(server, tmp_path),
        "CREDGATE_URL": run.base_url(server),
        "CLIENT_ID": target.seeded.client_id,
        "CLIENT_SECRET": target.seeded.client_secret,
        "USER_ID": target.user_id,
    }

    result = _run(key, samples.read_program(program), tmp_path, env)

    _user_printed(result, target)


@pytest.mark.parametrize("key", KEYS)
def test_portal_sample_runs_with_only_the_secret_in_the_environment(
    server: LiveServer, target: Target, tmp_path: Path, key: str
) -> None:
    run = _prepare(key)
    (sample,) = [
        s
        for s in samples.integration_samples(run.base_url(server), target.seeded.client_id)
        if s.key == key
    ]
    env = {
        **run.env(server, tmp_path),
        "CLIENT_SECRET": target.seeded.client_secret,
        "USER_ID": target.user_id,
    }

    result = _run(key, sample.code, tmp_path, env)

    _user_printed(result, target)


@pytest.mark.parametrize("key", KEYS)
def test_sample_exits_non_zero_on_a_wrong_secret_without_printing_it(
    server: LiveServer, target: Target, tmp_path: Path, key: str
) -> None:
    run = _prepare(key)
    program = next(p for p in samples.PROGRAMS if p.key == key)
    secret = target.seeded.client_secret
    wrong = secret[:-4] + ("AAAA" if not secret.endswith("AAAA") else "BBBB")
    env = {
        **run.env(server, tmp_path),
        "CREDGATE_URL": run.base_url(server),
        "CLIENT_ID": target.seeded.client_id,
        "CLIENT_SECRET": wrong,
        "USER_ID": target.user_id,
    }

    result = _run(key, samples.read_program(program), tmp_path, env)

    assert result.returncode != 0
    assert target.email not in result.stdout
    output = result.stdout + result.stderr
    assert wrong not in output
    assert secret not in output
    if key != "python-sdk":
        assert "invalid_client" in result.stderr
