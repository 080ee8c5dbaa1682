"""``/readyz``: may the load balancer send this instance traffic?

Ready means the database answers and its schema is the one this version needs. Redis is
reported but never decides: without it, or while it is away, credgate answers correctly
from the database alone, only with more database reads.
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy.exc import SQLAlchemyError
from starlette.requests import Request
from starlette.responses import JSONResponse

from credgate.oauth2.endpoints import NO_STORE, runtime_of
from credgate.runtime import Runtime
from credgate.storage.schema import engine_schema_state

logger = logging.getLogger("credgate.server")

# Shorter than a load balancer's usual probe timeout, so a hung database reads as not ready.
CHECK_TIMEOUT_SECONDS = 2.0


async def _database_checks(runtime: Runtime) -> tuple[str, str]:
    """(database, schema): ``up``/``unreachable`` and ``current``/``outdated``/``unknown``."""
    try:
        state = await asyncio.wait_for(
            engine_schema_state(runtime.engine), timeout=CHECK_TIMEOUT_SECONDS
        )
    except (SQLAlchemyError, OSError, TimeoutError) as exc:
        logger.warning("readiness.database_unreachable", extra={"error": type(exc).__name__})
        return "unreachable", "unknown"
    if state.is_current:
        return "up", "current"
    return "up", "outdated"


async def readyz(request: Request) -> JSONResponse:
    runtime = runtime_of(request)
    database, schema = await _database_checks(runtime)
    if runtime.redis is not None:
        # A failed ping marks Redis degraded (and logs it), so the state below is current.
        await runtime.redis.call(lambda redis: redis.ping())
    ready = database == "up" and schema == "current"
    body = {
        "status": "ready" if ready else "unavailable",
        "database": database,
        "schema": schema,
        "redis": runtime.redis_state,
    }
    return JSONResponse(body, status_code=200 if ready else 503, headers=NO_STORE)
