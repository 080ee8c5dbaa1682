"""Structured logging: one JSON object per line, or readable text on a terminal.

Events carry stable names (``token.issued``, ``client.auth_failed``) and fields passed as
``extra``; nothing here ever receives a secret or a token value. Uvicorn's own messages go
through the same formatter, so an operator reads one format. Every line logged while a
request is served carries that request's id.
"""

from __future__ import annotations

import logging.config
import sys
from contextvars import ContextVar
from typing import Any

REQUEST_ID: ContextVar[str | None] = ContextVar("credgate_request_id", default=None)

_JSON_FORMATTER = {
    "()": "pythonjsonlogger.json.JsonFormatter",
    "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
    "rename_fields": {"message": "event", "levelname": "level", "asctime": "time"},
}
_TEXT_FORMATTER = {
    "()": "credgate.logs.TextFormatter",
    "format": "%(asctime)s %(levelname)s %(name)s %(message)s",
}

# Attributes every LogRecord has; anything else on a record came in through ``extra``.
_RECORD_ATTRIBUTES = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}
# uvicorn's copy of its message with terminal colours: the plain message is already there.
_TEXT_SKIPPED = _RECORD_ATTRIBUTES | {"color_message"}


class RequestIdFilter(logging.Filter):
    """Put the id of the request being served, if any, on each record as ``request_id``."""

    def filter(self, record: logging.LogRecord) -> bool:
        request_id = REQUEST_ID.get()
        if request_id is not None and not hasattr(record, "request_id"):
            record.request_id = request_id
        return True


class TextFormatter(logging.Formatter):
    """The event line followed by its fields as ``key=value``, for a person at a terminal."""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        fields = [
            f"{key}={_text_value(value)}"
            for key, value in vars(record).items()
            if key not in _TEXT_SKIPPED and not key.startswith("_")
        ]
        return " ".join([line, *fields])


def _text_value(value: object) -> str:
    text = str(value)
    return repr(text) if not text or any(char.isspace() for char in text) else text


def resolve_format(fmt: str | None) -> str:
    """``json`` or ``text``: when unset, text for a person at a terminal, JSON for machines."""
    if fmt is not None:
        return fmt
    return "text" if sys.stderr.isatty() else "json"


def logging_config(level: str = "INFO", fmt: str | None = "json") -> dict[str, Any]:
    """A ``logging.config.dictConfig`` document for credgate and the uvicorn server."""
    level = level.upper()
    formatter = _JSON_FORMATTER if resolve_format(fmt) == "json" else _TEXT_FORMATTER
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": "credgate.logs.RequestIdFilter"}},
        "formatters": {"credgate": formatter},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "credgate",
                "filters": ["request_id"],
                "stream": "ext://sys.stderr",
            }
        },
        "loggers": {
            "credgate": {"handlers": ["stderr"], "level": level, "propagate": False},
            "uvicorn": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
            # The access log prints query strings, where a careless client may put a secret.
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
        },
    }


def configure_logging(level: str = "INFO", fmt: str | None = "json") -> None:
    logging.config.dictConfig(logging_config(level, fmt))
