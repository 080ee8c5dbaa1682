"""Running the server under uvicorn, over TLS unless told it sits behind a TLS proxy."""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import typer
import uvicorn

from credgate.config import Settings
from credgate.logs import logging_config
from credgate.metrics import MULTIPROCESS_ENV
from credgate.server.graceful import run_server
from credgate.server.https import is_loopback
from credgate.server.request_limits import GuardedHttpToolsProtocol
from credgate.server.startup_checks import warn_about_unsafe_settings
from credgate.server.tls import ensure_dev_certificate

logger = logging.getLogger("credgate.server")


def tls_files(
    settings: Settings, certfile: Path | None, keyfile: Path | None
) -> tuple[Path, Path]:
    if certfile is not None and keyfile is not None:
        return certfile, keyfile
    dev = ensure_dev_certificate(settings.tls_dir)
    typer.echo(
        f"Serving with a development certificate. Trust it with: curl --cacert {dev.ca_file}",
        err=True,
    )
    return dev.cert_file, dev.key_file


def serve_forever(
    settings: Settings,
    host: str,
    port: int,
    certfile: Path | None,
    keyfile: Path | None,
    workers: int,
    plain_http: bool,
) -> None:
    warn_about_unsafe_settings(settings, workers=workers)
    ssl: dict[str, str] = {}
    if plain_http:
        if not is_loopback(host) and not settings.trusted_proxies:
            logger.warning(
                "server.plain_http_without_proxy",
                extra={"host": host, "hint": "set CREDGATE_TRUSTED_PROXIES to the TLS proxy"},
            )
    else:
        cert, key = tls_files(settings, certfile, keyfile)
        ssl = {"ssl_certfile": str(cert), "ssl_keyfile": str(key)}
    config = uvicorn.Config(
        "credgate.server.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        proxy_headers=False,  # credgate applies its own trusted-proxy list
        server_header=False,
        access_log=False,  # uvicorn's access log prints query strings, which may hold secrets
        timeout_graceful_shutdown=10,
        # Against slow and greedy clients: see credgate.server.request_limits.
        http=GuardedHttpToolsProtocol,
        timeout_keep_alive=settings.keep_alive_timeout,
        limit_concurrency=settings.max_concurrency,
        log_config=logging_config(settings.log_level, settings.log_format),
        **ssl,  # type: ignore[arg-type]
    )
    with metrics_directory(settings, workers):
        run_server(config)


@contextmanager
def metrics_directory(settings: Settings, workers: int) -> Iterator[None]:
    """A directory of this run where worker processes write their metrics, removed at exit.

    Set before any worker starts, so each one's prometheus-client writes its samples there
    and ``/metrics`` in any worker adds up all of them. One process needs none of this.
    """
    if not settings.metrics or workers < 2 or os.environ.get(MULTIPROCESS_ENV):
        yield
        return
    directory = tempfile.mkdtemp(prefix="credgate-metrics-")
    os.environ[MULTIPROCESS_ENV] = directory
    try:
        yield
    finally:
        os.environ.pop(MULTIPROCESS_ENV, None)
        shutil.rmtree(directory, ignore_errors=True)
