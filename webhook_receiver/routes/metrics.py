"""The metrics API: crawl sessions and their per-page timings, behind `X-API-Secret`."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query
from sqlalchemy.exc import SQLAlchemyError

from webhook_receiver.crawl_metrics import (
    fetch_crawl_session,
    fetch_page_metrics,
    list_crawl_sessions,
)
from webhook_receiver.delivery import RETRY_AFTER_S
from webhook_receiver.deps import ReceiverStateDep
from webhook_receiver.repeat_limiter import RepeatLimiter
from webhook_receiver.schemas import CrawlList, CrawlMetrics, CrawlStatus, ErrorDetail
from webhook_receiver.security import require_api_secret
from webhook_receiver.warehouse import database_error_summary, set_statement_timeout

log = logging.getLogger(__name__)

router = APIRouter(
    prefix="/api/metrics",
    tags=["metrics"],
    dependencies=[Depends(require_api_secret)],
    responses={
        401: {"model": ErrorDetail, "description": "X-API-Secret is missing or invalid."},
        503: {"model": ErrorDetail, "description": "The warehouse or the API is unavailable."},
    },
)

MAX_LIST_LIMIT = 1000


@router.get(
    "/crawls",
    response_model=CrawlList,
    summary="List recent crawl sessions",
)
def get_recent_crawls(
    state: ReceiverStateDep,
    limit: Annotated[int, Query(ge=1, le=MAX_LIST_LIMIT, description="Maximum crawls.")] = 10,
    status: Annotated[CrawlStatus | None, Query(description="Only crawls in this status.")] = None,
) -> CrawlList:
    """Return crawl sessions ordered by start time, newest first, then by creation time."""
    try:
        with state.engine.connect() as connection:
            set_statement_timeout(connection)
            sessions, total = list_crawl_sessions(connection, limit, status)
    except SQLAlchemyError as error:
        raise _warehouse_unavailable(state.log_limiter, error) from error
    return CrawlList.model_validate(
        {"crawls": sessions, "total": total, "limit": limit, "status": status}
    )


@router.get(
    "/crawls/{crawl_id}",
    response_model=CrawlMetrics,
    responses={404: {"model": ErrorDetail, "description": "No crawl session has this id."}},
    summary="Get the metrics of one crawl",
)
def get_crawl_metrics(
    crawl_id: str,
    state: ReceiverStateDep,
    include_per_page: Annotated[
        bool, Query(description="Also return each page operation's timing.")
    ] = False,
) -> CrawlMetrics:
    """Return the crawl's session row, its aggregate timing and optionally per-page timings."""
    # PostgreSQL text cannot hold NUL and the receiver strips it from stored ids, so no crawl
    # has such an id, and psycopg2 would raise on it as a parameter.
    if "\x00" in crawl_id:
        raise HTTPException(status_code=404, detail=f"crawl {crawl_id!r} not found")
    try:
        with state.engine.connect() as connection:
            set_statement_timeout(connection)
            session = fetch_crawl_session(connection, crawl_id)
            if session is not None and include_per_page:
                session["per_page_metrics"] = fetch_page_metrics(connection, crawl_id)
    except SQLAlchemyError as error:
        raise _warehouse_unavailable(state.log_limiter, error) from error

    if session is None:
        raise HTTPException(status_code=404, detail=f"crawl {crawl_id!r} not found")
    return CrawlMetrics.model_validate(session)


def _warehouse_unavailable(limiter: RepeatLimiter, error: SQLAlchemyError) -> HTTPException:
    suppressed = limiter.allow(f"metrics:{error.__class__.__name__}")
    if suppressed is not None:
        log.error(
            "Metrics query failed, warehouse %s: %s (%d similar messages suppressed)",
            error.__class__.__name__,
            database_error_summary(error),
            suppressed,
        )
    return HTTPException(
        status_code=503,
        detail=f"warehouse unavailable ({error.__class__.__name__}), retry later",
        headers={"Retry-After": str(RETRY_AFTER_S)},
    )
