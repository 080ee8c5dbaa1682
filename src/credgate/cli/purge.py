"""``credgate tokens purge``: delete what has outlived its retention, now."""

from __future__ import annotations

import typer

from credgate.cli.common import JsonOption, print_json, run_with_runtime
from credgate.server.purge import purge_once


def tokens_purge(
    older_than: int | None = typer.Option(
        None,
        "--older-than",
        min=0,
        help="Seconds since a token ended; defaults to CREDGATE_TOKEN_RETENTION.",
    ),
    as_json: bool = JsonOption,
) -> None:
    """Delete tokens expired or revoked longer ago than the retention, and old audit events.

    Audit events go after CREDGATE_AUDIT_RETENTION_DAYS. The server runs the same purge every
    CREDGATE_PURGE_INTERVAL seconds.
    """
    result = run_with_runtime(lambda rt: purge_once(rt, token_retention=older_than))
    if as_json:
        print_json({"tokens": result.tokens, "audit_events": result.audit_events})
    else:
        typer.echo(f"purged {result.tokens} tokens and {result.audit_events} audit events")
