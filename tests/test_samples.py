"""The portal's integration samples: rendered from examples/, shipped inside the package."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from credgate import samples

REPO = Path(__file__).resolve().parent.parent
BASE_URL = "https://auth.partner.example:8443"
CLIENT_ID = "cgc_5xQhT0aZ3mYkR7uWc1LbN9"
KEYS = [
    "curl",
    "python-requests",
    "python-sdk",
    "node-fetch",
    "node-axios",
    "java",
    "csharp",
    "php",
    "ruby",
    "go",
    "rust",
    "swift",
]


def test_every_language_has_a_sample_in_a_stable_order() -> None:
    rendered = samples.integration_samples(BASE_URL, CLIENT_ID)

    assert [sample.key for sample in rendered] == KEYS
    assert len({sample.title for sample in rendered}) == len(KEYS)
    by_key = {sample.key: sample for sample in rendered}
    assert by_key["python-requests"].title == "Python (requests)"
    assert by_key["python-requests"].language == "python"
    assert by_key["curl"].language == "bash"
    assert by_key["curl"].filename == "call_api.sh"
    assert by_key["java"].filename == "CallApi.java"


@pytest.mark.parametrize("key", KEYS)
def test_sample_is_the_example_file_with_base_url_and_client_id_filled_in(key: str) -> None:
    program = next(p for p in samples.PROGRAMS if p.key == key)
    original = (REPO / "examples" / program.path).read_text()
    (sample,) = [s for s in samples.integration_samples(BASE_URL + "/", CLIENT_ID) if s.key == key]

    assert samples.BASE_URL_PLACEHOLDER not in sample.code
    assert samples.CLIENT_ID_PLACEHOLDER not in sample.code
    assert sample.code.count(BASE_URL) == 1
    assert BASE_URL + '/"' not in sample.code
    assert sample.code.count(CLIENT_ID) == 1
    # Only the two marked lines differ from the file in examples/.
    changed = [
        (before, after)
        for before, after in zip(original.splitlines(), sample.code.splitlines(), strict=True)
        if before != after
    ]
    assert len(changed) == 2
    assert samples.BASE_URL_MARKER in changed[0][0]
    assert samples.CLIENT_ID_MARKER in changed[1][0]
    assert "CLIENT_SECRET" in sample.code


def test_a_sample_never_carries_a_secret() -> None:
    rendered = samples.integration_samples(BASE_URL, CLIENT_ID)

    for sample in rendered:
        assert "cgs_" not in sample.code


@pytest.mark.parametrize(
    "base_url",
    [
        "auth.partner.example",
        "ftp://auth.partner.example",
        "https://",
        'https://auth.partner.example/"; rm -rf ~; "',
        "https://auth.partner.example/$(id)",
        "https://auth.partner.example/?x=1",
        "https://auth.partner.example/#top",
        "https://auth.partner.example/a b",
        "https://auth.partner.example/`id`",
        "https://auth.partner.example/\\",
    ],
)
def test_a_base_url_that_would_break_out_of_a_string_is_refused(base_url: str) -> None:
    with pytest.raises(ValueError, match="base URL"):
        samples.integration_samples(base_url, CLIENT_ID)


@pytest.mark.parametrize("client_id", ["", "cgc_x'y", 'cgc_"', "cgc ${HOME}", "a" * 201, "cgc_\n"])
def test_a_client_id_that_would_break_out_of_a_string_is_refused(client_id: str) -> None:
    with pytest.raises(ValueError, match="client id"):
        samples.integration_samples(BASE_URL, client_id)


def test_a_program_without_exactly_one_marked_line_is_refused() -> None:
    line = f'URL = "{samples.BASE_URL_PLACEHOLDER}"  # {samples.BASE_URL_MARKER}\n'

    with pytest.raises(ValueError, match="credgate:base-url"):
        samples.render(line + line, BASE_URL, CLIENT_ID)
    with pytest.raises(ValueError, match="credgate:client-id"):
        samples.render(line, BASE_URL, CLIENT_ID)


def test_the_wheel_ships_every_example_and_the_docs_assets(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
            "--no-build-isolation", "--wheel-dir", str(tmp_path), str(REPO),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )  # fmt: skip
    (wheel,) = tmp_path.glob("credgate-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())

    for program in samples.PROGRAMS:
        assert f"credgate/_examples/{program.path}" in names
    assert "credgate/_examples/rust/Cargo.toml" in names
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css", "docs.js", "LICENSE", "NOTICE"):
        assert f"credgate/server/static/docs/{asset}" in names
    assert not any("__pycache__" in name or "node_modules" in name for name in names)
