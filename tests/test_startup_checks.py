"""Warnings at start-up for unsafe settings: stable event names an operator can alert on."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import start_server, stop_server
from credgate.config import Settings
from credgate.server.startup_checks import find_unsafe_settings

PG_URL = "postgresql://credgate@db.internal:5432/credgate"


def events(settings: Settings, workers: int = 1) -> list[str]:
    return [unsafe.event for unsafe in find_unsafe_settings(settings, workers=workers)]


def test_safe_defaults_start_without_a_warning(tmp_path: Path) -> None:
    assert events(Settings(data_dir=tmp_path)) == []


@pytest.mark.parametrize(
    ("proxies", "warned"),
    [
        (["0.0.0.0/0"], True),
        (["::/0"], True),
        (["8.0.0.0/8"], True),
        (["10.0.0.0/8", "192.168.0.0/16"], False),
        (["203.0.113.7"], False),
        (["203.0.113.0/24"], False),
        (["127.0.0.1"], False),
    ],
)
def test_trusted_proxies_that_span_public_ranges_warn_of_plain_http(
    tmp_path: Path, proxies: list[str], warned: bool
) -> None:
    settings = Settings(data_dir=tmp_path, trusted_proxies=proxies)

    assert ("config.plain_http_beyond_loopback" in events(settings)) is warned


@pytest.mark.parametrize(
    ("overrides", "warned"),
    [
        ({"default_token_ttl": 86401}, True),
        ({"renewal_max_age": 7 * 86400}, True),
        ({"default_token_ttl": 86400, "renewal_max_age": 86400}, False),
    ],
)
def test_token_lifetimes_over_a_day_warn(
    tmp_path: Path, overrides: dict[str, int], warned: bool
) -> None:
    settings = Settings(data_dir=tmp_path, **overrides)

    assert ("config.long_token_lifetime" in events(settings)) is warned


@pytest.mark.parametrize(
    ("workers", "redis_url", "warned"),
    [(2, None, True), (1, None, False), (4, "redis://127.0.0.1:6379/0", False)],
)
def test_several_workers_without_redis_warn(
    tmp_path: Path, workers: int, redis_url: str | None, warned: bool
) -> None:
    settings = Settings(data_dir=tmp_path, redis_url=redis_url)

    assert ("config.workers_without_redis" in events(settings, workers)) is warned


@pytest.mark.parametrize(
    ("database_url", "hash_key", "warned"),
    [(PG_URL, None, True), (PG_URL, "ab" * 32, False), (None, None, False)],
)
def test_a_postgresql_deployment_with_the_hash_key_in_the_data_dir_warns(
    tmp_path: Path, database_url: str | None, hash_key: str | None, warned: bool
) -> None:
    settings = Settings(data_dir=tmp_path, database_url=database_url, hash_key=hash_key)

    assert ("config.hash_key_in_data_dir" in events(settings)) is warned


def test_credgate_serve_logs_the_warnings_as_structured_events(tmp_path: Path) -> None:
    process, live = start_server(
        tmp_path,
        {"CREDGATE_TRUSTED_PROXIES": "0.0.0.0/0", "CREDGATE_DEFAULT_TOKEN_TTL": "172800"},
    )
    stop_server(process)

    logged = [
        json.loads(line)
        for line in live.log_file.read_text().splitlines()
        if line.startswith("{") and '"config.' in line
    ]
    assert {(entry["event"], entry["level"]) for entry in logged} >= {
        ("config.plain_http_beyond_loopback", "WARNING"),
        ("config.long_token_lifetime", "WARNING"),
    }
