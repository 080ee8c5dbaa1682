"""``credgate admins``: the people who sign in to the Admin Portal."""

from __future__ import annotations

import sys

import typer

from credgate.admin import auth
from credgate.cli.common import JsonOption, fail, print_json, run_with_runtime

admins = typer.Typer(
    help="Admin Portal users: operators and account admins.", no_args_is_help=True
)

ACTOR = "cli"


def _read_password() -> str:
    if sys.stdin.isatty():
        return str(typer.prompt("password", hide_input=True, confirmation_prompt=True))
    return sys.stdin.readline().rstrip("\r\n")


@admins.command("create")
def admins_create(
    email: str = typer.Option(..., "--email", help="The admin's email, used to sign in."),
    operator: bool = typer.Option(False, "--operator", help="Manage every account."),
    account: str | None = typer.Option(None, "--account", help="Manage only this account."),
    as_json: bool = JsonOption,
) -> None:
    """Create an admin; the password is read from a prompt or from standard input."""
    if operator == (account is not None):
        fail("give exactly one of --operator and --account NAME")
    password = _read_password()
    role = auth.OPERATOR if operator else auth.ACCOUNT_ADMIN
    admin = run_with_runtime(
        lambda rt: auth.create_admin(
            rt, email=email, password=password, role=role, account_name=account, actor=ACTOR
        )
    )
    if as_json:
        print_json({"id": admin.id, "email": admin.email, "role": admin.role, "account": account})
    else:
        where = "every account" if operator else f"account {account}"
        typer.echo(f"admin {admin.email} created ({role}, manages {where})")


@admins.command("list")
def admins_list(as_json: bool = JsonOption) -> None:
    """List admins."""
    rows = run_with_runtime(lambda rt: auth.list_admins(rt, None))
    if as_json:
        print_json([{"id": a.id, "email": a.email, "role": a.role} for a in rows])
        return
    for admin in rows:
        typer.echo(f"{admin.email}\t{admin.role}\t{admin.account_id or '-'}")
