"""Structured logging: one JSON object per line (or plain text on a terminal).

Events carry stable names (``token.issued``, ``client.auth_failed``) and fields passed as
``extra``; nothing here ever receives a secret or a token value.
"""

from __future__ import annotations

import logging
import sys

from pythonjsonlogger.json import JsonFormatter

_TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


def configure_logging(level: str = "INFO", fmt: str = "json") -> None:
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(
            JsonFormatter(
                "%(asctime)s %(levelname)s %(name)s %(message)s",
                rename_fields={"message": "event", "levelname": "level", "asctime": "time"},
            )
        )
    else:
        handler.setFormatter(logging.Formatter(_TEXT_FORMAT))
    root = logging.getLogger("credgate")
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    root.propagate = False
