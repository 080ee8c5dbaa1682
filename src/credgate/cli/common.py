"""What every CLI command shares: settings, a migrated database, and output as text or JSON."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, NoReturn, TypeVar

import typer
from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError

from credgate.config import Settings
from credgate.config_file import ConfigurationError, explain
from credgate.logs import configure_logging
from credgate.management import ManagementError
from credgate.runtime import Runtime
from credgate.storage.database import is_sqlite
from credgate.storage.migrate import SchemaOutOfDate, check_schema, upgrade

T = TypeVar("T")

JsonOption = typer.Option(False, "--json", help="Print machine-readable JSON.")


def load_settings() -> Settings:
    try:
        settings = Settings()
    except ValidationError as exc:
        fail(explain(exc))
    except ConfigurationError as exc:
        fail(f"bad configuration: {exc}")
    configure_logging(settings.log_level, settings.log_format)
    return settings


def prepare_database(settings: Settings) -> None:
    """SQLite is created and migrated on first use; other databases must be migrated first.

    Either way a schema newer than this version, or one it does not know, stops the command
    with the fix named, before anything reads or writes it.
    """
    url = settings.resolved_database_url
    try:
        if is_sqlite(url):
            upgrade(url)
        else:
            check_schema(url)
    except SchemaOutOfDate as exc:
        fail(str(exc))
    except (OSError, SQLAlchemyError) as exc:
        fail(f"cannot reach the database ({type(exc).__name__}); check CREDGATE_DATABASE_URL")


def migrate_database(settings: Settings) -> None:
    try:
        upgrade(settings.resolved_database_url)
    except SchemaOutOfDate as exc:
        fail(str(exc))
    except (OSError, SQLAlchemyError) as exc:
        fail(f"cannot reach the database ({type(exc).__name__}); check CREDGATE_DATABASE_URL")


def run_with_runtime(operation: Callable[[Runtime], Awaitable[T]]) -> T:
    settings = load_settings()
    prepare_database(settings)

    async def main() -> T:
        runtime = Runtime.start(settings)
        try:
            return await operation(runtime)
        finally:
            await runtime.close()

    try:
        return asyncio.run(main())
    except ManagementError as exc:
        fail(str(exc))


def fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code=1)


def _default(value: object) -> Any:
    if isinstance(value, datetime):
        return int(value.timestamp())
    raise TypeError(type(value).__name__)


def print_json(document: Any) -> None:
    sys.stdout.write(json.dumps(document, indent=2, default=_default) + "\n")


def timestamp(value: datetime | None) -> str:
    return "-" if value is None else value.strftime("%Y-%m-%d %H:%M:%SZ")
