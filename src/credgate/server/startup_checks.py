"""Warnings at start-up for settings that run, but run unsafely.

Each is a WARNING log event with a stable name, so that an operator's alerting can match it;
the server starts all the same, since each can be right in some setting (a test bench, a
single instance).
"""

from __future__ import annotations

import ipaddress
import logging
from dataclasses import dataclass, field
from typing import Any

from credgate.config import Settings

logger = logging.getLogger("credgate.server")

ONE_DAY = 86400
# A trusted proxy network wider than these, holding public addresses, is "the internet".
_WIDEST_PUBLIC_PREFIX = {4: 24, 6: 48}


@dataclass(frozen=True)
class UnsafeSetting:
    event: str
    fields: dict[str, Any] = field(default_factory=dict)


def find_unsafe_settings(settings: Settings, *, workers: int) -> list[UnsafeSetting]:
    found = [*_public_trusted_proxies(settings), *_long_lifetimes(settings)]
    if workers > 1 and not settings.redis_url:
        found.append(
            UnsafeSetting(
                "config.workers_without_redis",
                {
                    "workers": workers,
                    "hint": "rate limits and quotas are counted per worker; set "
                    "CREDGATE_REDIS_URL to share them",
                },
            )
        )
    if _is_postgresql(settings) and not settings.hash_key:
        found.append(
            UnsafeSetting(
                "config.hash_key_in_data_dir",
                {
                    "path": str(settings.data_dir / "hash.key"),
                    "hint": "every instance needs the same key: set CREDGATE_HASH_KEY",
                },
            )
        )
    return found


def _public_trusted_proxies(settings: Settings) -> list[UnsafeSetting]:
    """Trusted proxies may claim HTTPS and any client address: a public range lets anyone."""
    wide = []
    for entry in settings.trusted_proxies:
        network = ipaddress.ip_network(entry, strict=False)
        too_wide = network.prefixlen < _WIDEST_PUBLIC_PREFIX[network.version]
        if too_wide and not network.is_private:
            wide.append(entry)
    if not wide:
        return []
    fields = {
        "networks": wide,
        "hint": "anyone in these ranges may send plain HTTP and claim any client address",
    }
    return [UnsafeSetting("config.plain_http_beyond_loopback", fields)]


def _long_lifetimes(settings: Settings) -> list[UnsafeSetting]:
    found = []
    for name in ("default_token_ttl", "renewal_max_age"):
        seconds = getattr(settings, name)
        if seconds > ONE_DAY:
            found.append(
                UnsafeSetting(
                    "config.long_token_lifetime",
                    {"setting": name, "seconds": seconds, "hint": "a leaked token lives long"},
                )
            )
    return found


def _is_postgresql(settings: Settings) -> bool:
    return settings.resolved_database_url.startswith("postgresql")


def warn_about_unsafe_settings(settings: Settings, *, workers: int) -> list[UnsafeSetting]:
    found = find_unsafe_settings(settings, workers=workers)
    for unsafe in found:
        logger.warning(unsafe.event, extra=unsafe.fields)
    return found
