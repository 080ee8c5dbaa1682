"""Which language toolchains are here, and how a test that needs a missing one ends.

Outside CI a missing toolchain skips the test with the reason, so it shows as not run. In CI
(``CI=true``) a toolchain that ``scripts/client-toolchains`` installs must be present: its
absence fails the test instead of hiding behind a skip.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
CACHE = REPO / ".cache"
NPM_PACKAGES = CACHE / "npm-examples"
CARGO_TARGET = CACHE / "cargo-target"
DEBIAN_CRATES = Path("/usr/share/cargo/registry")
DEBIAN_GOPATH = Path("/usr/share/gocode")

CI_INSTALL_HINT = "scripts/client-toolchains installs it"


@dataclass(frozen=True)
class Toolchain:
    """A toolchain a test needs: how to tell it is here, and whether CI installs it."""

    name: str
    commands: tuple[str, ...] = ()
    paths: tuple[Path, ...] = ()
    probe: tuple[str, ...] = ()
    installed_by_ci: bool = True
    unavailable: str = ""

    def missing(self) -> str | None:
        """What is missing, in words, or None when everything is here."""
        absent = [command for command in self.commands if shutil.which(command) is None]
        absent += [str(path) for path in self.paths if not path.exists()]
        if absent:
            return f"{self.name}: {', '.join(absent)} not found"
        if self.probe and subprocess.run(self.probe, capture_output=True).returncode != 0:
            return f"{self.name}: '{' '.join(self.probe)}' failed"
        return None

    def require(self) -> None:
        missing = self.missing()
        if missing is None:
            return
        if self.installed_by_ci and os.environ.get("CI") == "true":
            pytest.fail(f"{missing}, though {CI_INSTALL_HINT}")
        reason = f"{missing} ({self.unavailable})" if self.unavailable else missing
        if self.installed_by_ci:
            reason = f"{reason}; {CI_INSTALL_HINT}"
        pytest.skip(reason)


CURL = Toolchain("curl", ("curl", "python3"))
NODE = Toolchain("Node.js", ("node",))
NODE_PACKAGES = Toolchain("npm packages", ("node",), (NPM_PACKAGES / "node_modules",))
JAVA = Toolchain("Java", ("java",))
PHP = Toolchain(
    "PHP with curl", ("php",), probe=("php", "-r", "exit(function_exists('curl_init') ? 0 : 1);")
)
RUBY = Toolchain("Ruby", ("ruby",))
GO = Toolchain("Go", ("go",))
GO_OAUTH2 = Toolchain("Go x/oauth2", ("go",), (DEBIAN_GOPATH / "src/golang.org/x/oauth2",))
RUBY_OAUTH2 = Toolchain("Ruby oauth2", ("ruby",), probe=("ruby", "-e", "require 'oauth2'"))
RUST = Toolchain(
    "Rust",
    ("cargo",),
    (DEBIAN_CRATES / "ureq-2.6.2", DEBIAN_CRATES / "native-tls-0.2.11"),
)
# Debian packages no .NET SDK; Mono's compiler builds the C# program, which targets both.
CSHARP = Toolchain("C# (Mono)", ("mcs", "mono", "cert-sync"))
SWIFT = Toolchain(
    "Swift",
    ("swiftc",),
    installed_by_ci=False,
    unavailable="Debian 12 packages no Swift compiler; its 'swift' package is OpenStack Swift",
)


def tool_env(**extra: str) -> dict[str, str]:
    """A minimal environment for a program under test: no credentials leak in from ours."""
    keep = ("PATH", "HOME", "LANG", "TMPDIR", "GOCACHE", "CARGO_HOME", "RUSTUP_HOME")
    env = {name: os.environ[name] for name in keep if name in os.environ}
    env.setdefault("HOME", str(CACHE / "home"))
    return {**env, **extra}


def cargo_env() -> dict[str, str]:
    """Cargo builds offline against the crates Debian ships, never reaching crates.io."""
    home = CACHE / "cargo-home"
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text(
        "[source.crates-io]\n"
        'replace-with = "debian"\n'
        "[source.debian]\n"
        f'directory = "{DEBIAN_CRATES}"\n'
        "[net]\n"
        "offline = true\n"
    )
    rustup_home = os.environ.get("RUSTUP_HOME", str(Path.home() / ".rustup"))
    path = os.environ.get("PATH", "")
    cargo_bin = str(Path.home() / ".cargo" / "bin")
    return tool_env(
        CARGO_HOME=str(home),
        RUSTUP_HOME=rustup_home,
        CARGO_TARGET_DIR=str(CARGO_TARGET),
        PATH=f"{path}:{cargo_bin}",
    )
