"""Telling "the database is away" and "the value was unfit" apart from a bug."""

from __future__ import annotations

from sqlalchemy.exc import DataError, DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

# SQLSTATE classes and codes that mean the server cannot serve us right now: 08 connection
# exceptions, 53 insufficient resources (too many connections), 57P01-57P03 shutdown and
# start-up (PostgreSQL appendix A).
_UNAVAILABLE_CLASSES = ("08", "53")
_UNAVAILABLE_CODES = {"57P01", "57P02", "57P03"}


def _sqlstate(error: DBAPIError) -> str | None:
    for source in (error.orig, getattr(error.orig, "__cause__", None)):
        code = getattr(source, "sqlstate", None) or getattr(source, "pgcode", None)
        if isinstance(code, str):
            return code
    return None


def is_database_unavailable(error: BaseException) -> bool:
    """True for errors that go away when the database comes back, not for bad queries."""
    if isinstance(error, OSError | PoolTimeout | OperationalError | InterfaceError):
        return True
    if isinstance(error, DBAPIError):
        if error.connection_invalidated:
            return True
        code = _sqlstate(error) or ""
        return code.startswith(_UNAVAILABLE_CLASSES) or code in _UNAVAILABLE_CODES
    return False


def is_unacceptable_value(error: BaseException) -> bool:
    """True when the database refused a value sent to it (SQLSTATE class 22, data exception),
    such as NUL in PostgreSQL text: the request's fault, not the server's."""
    if isinstance(error, DataError):
        return True
    return isinstance(error, DBAPIError) and (_sqlstate(error) or "").startswith("22")
