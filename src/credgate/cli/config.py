"""``credgate config show``: the effective settings, with every secret masked."""

from __future__ import annotations

import json

import typer

from credgate.cli.common import JsonOption, load_settings, print_json
from credgate.config_file import config_file_path, effective_settings

config = typer.Typer(help="The effective configuration.", no_args_is_help=True)


@config.command("show")
def config_show(as_json: bool = JsonOption) -> None:
    """Print every setting as it takes effect (environment over file over default).

    Secrets (the hashing key, passwords in URLs, any key) are shown as ***.
    """
    settings = effective_settings(load_settings())
    path = config_file_path()
    if as_json:
        print_json({"config_file": str(path) if path else None, "settings": settings})
        return
    typer.echo(f"# config file: {path or 'none'}")
    for name, value in settings.items():
        # TOML lines, so the output can start a config file of its own.
        typer.echo(f"{name} = {json.dumps(value)}" if value is not None else f"# {name} unset")
