"""`GET /health`: liveness of the receiver and reachability of the warehouse."""

from __future__ import annotations

import logging

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from webhook_receiver.deps import ReceiverStateDep
from webhook_receiver.schemas import HealthStatus
from webhook_receiver.warehouse import database_error_summary, set_statement_timeout

log = logging.getLogger(__name__)

router = APIRouter(tags=["health"])


@router.get(
    "/health",
    response_model=HealthStatus,
    responses={503: {"model": HealthStatus, "description": "The warehouse is unreachable."}},
)
def get_health(state: ReceiverStateDep) -> JSONResponse:
    """Run `SELECT 1` on the warehouse and report `ok`, or `degraded` with the error class."""
    try:
        with state.engine.connect() as connection:
            set_statement_timeout(connection)
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError as error:
        error_class = error.__class__.__name__
        suppressed = state.log_limiter.allow(f"health:{error_class}")
        if suppressed is not None:
            log.error(
                "Health check failed, warehouse %s: %s (%d similar messages suppressed)",
                error_class,
                database_error_summary(error),
                suppressed,
            )
        body = HealthStatus(status="degraded", warehouse=error_class)
        return JSONResponse(body.model_dump(), status_code=503)

    return JSONResponse(HealthStatus(status="ok", warehouse="ok").model_dump())
