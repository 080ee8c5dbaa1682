"""``credgate``: serve, migrate, and manage accounts, clients and tokens from a shell."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import typer

from credgate import management
from credgate.cli.admins import admins
from credgate.cli.common import (
    JsonOption,
    fail,
    load_settings,
    migrate_database,
    prepare_database,
    print_json,
    run_with_runtime,
    timestamp,
)
from credgate.cli.config import config
from credgate.cli.demo import run_demo
from credgate.cli.keys import keys
from credgate.cli.purge import tokens_purge
from credgate.cli.quickstart import create_quickstart_client, quickstart_banner, quickstart_json
from credgate.cli.serve import serve_forever
from credgate.server.tls import ensure_dev_certificate
from credgate.storage.migrate import head_revision
from credgate.storage.models import AccessToken, Client

app = typer.Typer(
    help="Credgate: OAuth 2.0 client credentials for server-to-server APIs.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
accounts = typer.Typer(help="Accounts: the partners that own clients.", no_args_is_help=True)
clients = typer.Typer(help="Clients and their secrets.", no_args_is_help=True)
tokens = typer.Typer(help="Live access tokens.", no_args_is_help=True)
app.add_typer(accounts, name="accounts")
app.add_typer(clients, name="clients")
app.add_typer(tokens, name="tokens")
tokens.command("purge")(tokens_purge)
app.add_typer(config, name="config")
app.add_typer(admins, name="admins")
app.add_typer(keys, name="keys")

ACTOR = "cli"


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8443, help="Port to listen on."),
    certfile: Path | None = typer.Option(None, help="TLS certificate chain (PEM)."),
    keyfile: Path | None = typer.Option(None, help="TLS private key (PEM)."),
    workers: int = typer.Option(1, min=1, help="Worker processes."),
    plain_http: bool = typer.Option(
        False, "--plain-http", help="Serve plain HTTP, for use behind a TLS-terminating proxy."
    ),
    as_json: bool = typer.Option(
        False, "--json", help="Log JSON lines whatever CREDGATE_LOG_FORMAT says."
    ),
) -> None:
    """Run the server over HTTPS (a development certificate is made if none is given)."""
    if (certfile is None) != (keyfile is None):
        fail("--certfile and --keyfile go together")
    if as_json:
        # The workers read their settings from the environment, so set it there.
        os.environ["CREDGATE_LOG_FORMAT"] = "json"
    settings = load_settings()
    prepare_database(settings)
    serve_forever(settings, host, port, certfile, keyfile, workers, plain_http)


@app.command()
def migrate(as_json: bool = JsonOption) -> None:
    """Upgrade the database schema to this version of credgate; safe on a live database."""
    migrate_database(load_settings())
    if as_json:
        print_json({"database": "up to date", "revision": head_revision()})
    else:
        typer.echo("database is up to date")


@app.command()
def demo(
    port: int = typer.Option(0, help="Port for the demo server; 0 picks a free one."),
    as_json: bool = JsonOption,
) -> None:
    """Start a throwaway server and walk the whole flow with real HTTPS calls."""
    raise typer.Exit(code=run_demo(port, as_json))


@app.command()
def quickstart(
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8443, help="Port to listen on."),
    as_json: bool = typer.Option(
        False, "--json", help="Print the client as one JSON line, then serve."
    ),
) -> None:
    """Set up a 'demo' account with a new client and a user, print them, and serve."""
    settings = load_settings()
    prepare_database(settings)
    setup = run_with_runtime(create_quickstart_client)
    base_url = f"https://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"  # noqa: S104
    ca_file = ensure_dev_certificate(settings.tls_dir).ca_file
    if as_json:
        typer.echo(quickstart_json(setup, base_url, ca_file))
    else:
        typer.echo(quickstart_banner(setup, base_url, ca_file))
    serve_forever(settings, host, port, None, None, 1, plain_http=False)


@accounts.command("create")
def accounts_create(name: str, as_json: bool = JsonOption) -> None:
    """Create an account."""
    account = run_with_runtime(lambda rt: management.create_account(rt, name, actor=ACTOR))
    if as_json:
        print_json({"id": account.id, "name": account.name, "created_at": account.created_at})
    else:
        typer.echo(f"account {account.name} created (id {account.id})")


@accounts.command("list")
def accounts_list(as_json: bool = JsonOption) -> None:
    """List accounts."""
    rows = run_with_runtime(management.list_accounts)
    if as_json:
        print_json([{"id": a.id, "name": a.name, "status": a.status} for a in rows])
        return
    for account in rows:
        typer.echo(f"{account.name}\t{account.status}\t{account.id}")


def _read_imported_secret() -> str:
    if sys.stdin.isatty():
        return str(typer.prompt("secret to import", hide_input=True))
    return sys.stdin.readline().rstrip("\r\n")


def _client_dict(client: Client) -> dict[str, object]:
    return {
        "client_id": client.client_id,
        "name": client.name,
        "scope": client.scope,
        "token_ttl": client.token_ttl,
        "status": client.status,
        "created_at": client.created_at,
        "last_used_at": client.last_used_at,
        "token_format": client.token_format,
        "introspect": client.introspect,
        "token_quota_per_hour": client.token_quota_per_hour,
        "allowed_networks": client.allowed_networks,
    }


def _print_secret(result: management.NewSecret, as_json: bool, generated: bool) -> None:
    if as_json:
        print_json({**_client_dict(result.client), "client_secret": result.client_secret})
        return
    typer.echo(f"client_id:     {result.client.client_id}")
    if generated:
        typer.echo(f"client_secret: {result.client_secret}")
        typer.echo("Store the secret now: it is shown only this once.")
    else:
        typer.echo("client_secret: (the imported secret)")


@clients.command("create")
def clients_create(
    account: str = typer.Option(..., help="Account that owns the client."),
    name: str = typer.Option(..., help="A label for the integration."),
    scope: str = typer.Option("users:read", help="Space-separated scopes the client may get."),
    token_ttl: int | None = typer.Option(None, help="Token lifetime in seconds."),
    import_secret: bool = typer.Option(
        False, "--import-secret", help="Read an existing secret from standard input."
    ),
    as_json: bool = JsonOption,
    token_format: str | None = typer.Option(
        None, help="jwt or opaque; defaults to CREDGATE_TOKEN_FORMAT."
    ),
    introspect: bool = typer.Option(
        False, "--introspect", help="Allow the client to introspect tokens (resource servers)."
    ),
    token_quota: int | None = typer.Option(
        None, min=1, help="Successful token requests per hour (default: the server's)."
    ),
    allowed_network: list[str] = typer.Option(
        [], help="CIDR network the client may request tokens from; repeatable."
    ),
) -> None:
    """Create a client and print its id and secret (the secret is shown only once)."""
    imported = _read_imported_secret() if import_secret else None
    result = run_with_runtime(
        lambda rt: management.create_client(
            rt,
            account_name=account,
            name=name,
            scope=scope,
            token_ttl=token_ttl,
            imported_secret=imported,
            actor=ACTOR,
            token_format=token_format,
            introspect=introspect,
            token_quota=token_quota,
            allowed_networks=allowed_network,
        )
    )
    _print_secret(result, as_json, generated=imported is None)


@clients.command("list")
def clients_list(
    account: str = typer.Option(..., help="Account whose clients to list."),
    as_json: bool = JsonOption,
) -> None:
    """List an account's clients."""
    rows = run_with_runtime(lambda rt: management.list_clients(rt, account))
    if as_json:
        print_json([_client_dict(client) for client in rows])
        return
    for client in rows:
        typer.echo(
            f"{client.client_id}\t{client.status}\t{client.scope}\t"
            f"ttl={client.token_ttl}s\t{client.name}"
        )


@clients.command("revoke")
def clients_revoke(client_id: str, as_json: bool = JsonOption) -> None:
    """Revoke a client: its secrets stop working and its live tokens end at once."""
    count = run_with_runtime(lambda rt: management.revoke_client(rt, client_id, actor=ACTOR))
    if as_json:
        print_json({"client_id": client_id, "status": "revoked", "tokens_revoked": count})
    else:
        typer.echo(f"client {client_id} revoked; {count} live token(s) ended")


@clients.command("rotate-secret")
def clients_rotate_secret(
    client_id: str,
    grace: int = typer.Option(0, min=0, help="Seconds the old secret keeps working."),
    import_secret: bool = typer.Option(
        False, "--import-secret", help="Read the new secret from standard input."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Give a client a new secret; the old one ends after the grace period."""
    imported = _read_imported_secret() if import_secret else None
    result = run_with_runtime(
        lambda rt: management.rotate_secret(
            rt, client_id, grace=grace, imported_secret=imported, actor=ACTOR
        )
    )
    _print_secret(result, as_json, generated=imported is None)


def _token_dict(token: AccessToken) -> dict[str, object]:
    return {
        "token_id": token.token_id,
        "client_id": token.client_id,
        "scope": token.scope,
        "issued_at": token.issued_at,
        "expires_at": token.expires_at,
    }


@tokens.command("list")
def tokens_list(
    client: str = typer.Option(..., "--client", help="Client whose live tokens to list."),
    as_json: bool = JsonOption,
) -> None:
    """List a client's live tokens (never their values)."""
    rows = run_with_runtime(lambda rt: management.list_live_tokens(rt, client))
    if as_json:
        print_json([_token_dict(token) for token in rows])
        return
    for token in rows:
        typer.echo(
            f"{token.token_id}\t{token.scope}\tissued {timestamp(token.issued_at)}\t"
            f"expires {timestamp(token.expires_at)}"
        )


@tokens.command("revoke")
def tokens_revoke(token_id: str, as_json: bool = JsonOption) -> None:
    """Revoke one token by its token id."""
    run_with_runtime(lambda rt: management.revoke_token(rt, token_id, actor=ACTOR))
    if as_json:
        print_json({"token_id": token_id, "revoked": True})
    else:
        typer.echo(f"token {token_id} revoked")


def main() -> None:
    app()
