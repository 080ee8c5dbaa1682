"""Structured logging: one JSON object per line, or plain text when asked.

Events carry stable names (``token.issued``, ``client.auth_failed``) and fields passed as
``extra``; nothing here ever receives a secret or a token value. Uvicorn's own messages go
through the same formatter, so an operator reads one format.
"""

from __future__ import annotations

import logging.config
from typing import Any

_JSON_FORMATTER = {
    "()": "pythonjsonlogger.json.JsonFormatter",
    "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
    "rename_fields": {"message": "event", "levelname": "level", "asctime": "time"},
}
_TEXT_FORMATTER = {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}


def logging_config(level: str = "INFO", fmt: str = "json") -> dict[str, Any]:
    """A ``logging.config.dictConfig`` document for credgate and the uvicorn server."""
    level = level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"credgate": _JSON_FORMATTER if fmt == "json" else _TEXT_FORMATTER},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "credgate",
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


def configure_logging(level: str = "INFO", fmt: str = "json") -> None:
    logging.config.dictConfig(logging_config(level, fmt))
