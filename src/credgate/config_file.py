"""The optional TOML configuration file, and showing or explaining settings to an operator.

Precedence, highest first: ``CREDGATE_*`` environment variables, then the file, then the
defaults. The file is ``CREDGATE_CONFIG_FILE`` when that is set (it must then exist), else
``credgate.toml`` in the working directory when there is one, else nothing. Its keys are the
setting names without the prefix, in lower case: ``database_url = "postgresql://..."``.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from pydantic import ValidationError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, TomlConfigSettingsSource

CONFIG_FILE_VARIABLE = "CREDGATE_CONFIG_FILE"
DEFAULT_CONFIG_FILE = Path("credgate.toml")
ENV_PREFIX = "CREDGATE_"
MASK = "***"

# Name parts that mark a setting as secret: its value is never printed.
_SECRET_PARTS = {"key", "secret", "password", "credentials"}


class ConfigurationError(ValueError):
    """A setting or the configuration file is unusable; the message names which."""


def config_file_path() -> Path | None:
    named = os.environ.get(CONFIG_FILE_VARIABLE)
    if named:
        path = Path(named)
        if not path.is_file():
            raise ConfigurationError(f"{CONFIG_FILE_VARIABLE}: no file at {path}")
        return path
    return DEFAULT_CONFIG_FILE if DEFAULT_CONFIG_FILE.is_file() else None


def config_file_source(settings_cls: type[BaseSettings]) -> PydanticBaseSettingsSource | None:
    """The TOML source for ``settings_customise_sources``, with its keys checked."""
    path = config_file_path()
    if path is None:
        return None
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigurationError(f"config file {path}: {exc}") from None
    # A misspelt key would otherwise be ignored without a word.
    unknown = sorted(set(document) - set(settings_cls.model_fields))
    if unknown:
        raise ConfigurationError(f"config file {path}: unknown setting {', '.join(unknown)}")
    return TomlConfigSettingsSource(settings_cls, toml_file=path)


def explain(error: ValidationError) -> str:
    """One line per bad setting, naming its variable; never the value, which may be secret."""
    lines = []
    for problem in error.errors():
        name = str(problem["loc"][0]) if problem["loc"] else "settings"
        message = problem["msg"].removeprefix("Value error, ")
        lines.append(f"{ENV_PREFIX}{name.upper()} ({name}): {message}")
    return "bad configuration: " + "; ".join(lines)


def is_secret_setting(name: str) -> bool:
    parts = name.lower().split("_")
    return bool(_SECRET_PARTS & set(parts)) or parts[-1] == "token"


def mask_url_password(value: str) -> str:
    """``scheme://user:***@host/db``: the password of a URL replaced, the rest kept."""
    try:
        parts = urlsplit(value)
    except ValueError:
        return MASK
    if not parts.password:
        return value
    netloc = f"{parts.username or ''}:{MASK}@{parts.hostname or ''}"
    if parts.port is not None:
        netloc += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))


def masked(name: str, value: Any) -> Any:
    if value is None:
        return None
    if is_secret_setting(name):
        return MASK
    if isinstance(value, str) and "://" in value:
        return mask_url_password(value)
    if isinstance(value, Path):
        return str(value)
    return value


def effective_settings(settings: BaseSettings) -> dict[str, Any]:
    """Every setting by name with its effective value, secrets masked."""
    values = settings.model_dump()
    database_url = getattr(settings, "resolved_database_url", None)
    if database_url is not None:
        values["database_url"] = database_url
    return {name: masked(name, value) for name, value in sorted(values.items())}
