"""Ready-to-run integration samples for one client, made from the programs in ``examples/``.

Each program reads the base URL and the client id from the environment, with a default on one
line marked ``credgate:base-url`` or ``credgate:client-id``. Rendering puts the real values in
place of those defaults, so the sample runs as shown and still lets the environment override
them. The secret is never rendered: every program reads it from ``CLIENT_SECRET``.

    for sample in integration_samples("https://auth.example.com", "cgc_..."):
        print(sample.title, sample.filename)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from urllib.parse import urlsplit

BASE_URL_MARKER = "credgate:base-url"
CLIENT_ID_MARKER = "credgate:client-id"
BASE_URL_PLACEHOLDER = "https://credgate.example"
CLIENT_ID_PLACEHOLDER = "your-client-id"

# Rendered values land inside string literals of a dozen languages; allowing only characters
# that none of them treats specially keeps the output correct without per-language escaping.
_URL_CHARACTERS = re.compile(r"[A-Za-z0-9._~:/\[\]%-]+")
_CLIENT_ID = re.compile(r"[A-Za-z0-9._~-]{1,200}")


@dataclass(frozen=True)
class Sample:
    """One program, ready to copy: the real base URL and client id, the secret from the env."""

    key: str
    title: str
    language: str
    filename: str
    code: str


@dataclass(frozen=True)
class Program:
    """Where an example program lives under ``examples/`` and how to present it."""

    key: str
    title: str
    language: str
    path: str

    @property
    def filename(self) -> str:
        return self.path.rsplit("/", 1)[-1]


PROGRAMS: tuple[Program, ...] = (
    Program("curl", "curl", "bash", "curl/call_api.sh"),
    Program("python-requests", "Python (requests)", "python", "python-requests/call_api.py"),
    Program("python-sdk", "Python (credgate SDK)", "python", "python-sdk/call_api.py"),
    Program("node-fetch", "Node.js (fetch)", "javascript", "node-fetch/call_api.mjs"),
    Program("node-axios", "Node.js (axios)", "javascript", "node-axios/call_api.mjs"),
    Program("java", "Java (HttpClient)", "java", "java/CallApi.java"),
    Program("csharp", "C# (HttpClient)", "csharp", "csharp/CallApi.cs"),
    Program("php", "PHP (curl)", "php", "php/call_api.php"),
    Program("ruby", "Ruby (net/http)", "ruby", "ruby/call_api.rb"),
    Program("go", "Go (net/http)", "go", "go/main.go"),
    Program("rust", "Rust (ureq)", "rust", "rust/src/main.rs"),
    Program("swift", "Swift (URLSession)", "swift", "swift/main.swift"),
)


def examples_root() -> Traversable:
    """The example programs as shipped inside the package (``credgate/_examples``)."""
    return resources.files("credgate") / "_examples"


def read_program(program: Program) -> str:
    node = examples_root()
    for part in program.path.split("/"):
        node = node / part
    return node.read_text(encoding="utf-8")


def render(code: str, base_url: str, client_id: str) -> str:
    """Fill the marked defaults of one program with a base URL and a client id."""
    code = _replace_marked(code, BASE_URL_MARKER, BASE_URL_PLACEHOLDER, base_url)
    return _replace_marked(code, CLIENT_ID_MARKER, CLIENT_ID_PLACEHOLDER, client_id)


def integration_samples(base_url: str, client_id: str) -> list[Sample]:
    """Every example program, rendered for one client of the server at ``base_url``.

    Raises ``ValueError`` for a base URL that is not an absolute http(s) URL without query or
    fragment, or a client id with characters outside the unreserved URL set.
    """
    base_url = validate_base_url(base_url)
    validate_client_id(client_id)
    return [
        Sample(
            key=program.key,
            title=program.title,
            language=program.language,
            filename=program.filename,
            code=render(read_program(program), base_url, client_id),
        )
        for program in PROGRAMS
    ]


def validate_base_url(base_url: str) -> str:
    """The URL without a trailing slash, or ``ValueError``."""
    parts = urlsplit(base_url)
    if parts.scheme not in {"https", "http"} or not parts.netloc:
        raise ValueError("the base URL must be an absolute https URL")
    if parts.query or parts.fragment or not _URL_CHARACTERS.fullmatch(base_url):
        raise ValueError("the base URL holds characters a sample cannot carry")
    return base_url.rstrip("/")


def validate_client_id(client_id: str) -> None:
    if not _CLIENT_ID.fullmatch(client_id):
        raise ValueError("the client id holds characters a sample cannot carry")


def _replace_marked(code: str, marker: str, placeholder: str, value: str) -> str:
    lines = code.splitlines(keepends=True)
    marked = [index for index, line in enumerate(lines) if marker in line]
    if len(marked) != 1 or lines[marked[0]].count(placeholder) != 1:
        raise ValueError(f"a program must have one {marker} line holding {placeholder}")
    index = marked[0]
    lines[index] = lines[index].replace(placeholder, value)
    return "".join(lines)
