"""Queries behind the metrics API: crawl sessions and per-page operation metrics."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, text

SESSION_COLUMNS = (
    "crawl_id",
    "crawl_url",
    "started_at",
    "completed_at",
    "status",
    "success",
    "total_pages",
    "pages_indexed",
    "pages_failed",
    "total_chunking_ms",
    "total_embedding_ms",
    "total_qdrant_ms",
    "total_bm25_ms",
    "duration_ms",
    "initiated_at",
    "e2e_duration_ms",
    "extra_metadata",
    "error_message",
    "staged_through_id",
    "last_delivery_id",
    "created_at",
    "updated_at",
)

_SELECT_SESSIONS = f"SELECT {', '.join(SESSION_COLUMNS)} FROM webhook.crawl_sessions"

_SELECT_SESSION = text(f"{_SELECT_SESSIONS} WHERE crawl_id = :crawl_id")

_SELECT_PAGE_METRICS = text(
    """
    SELECT document_url AS url, operation_type, operation_name, duration_ms, success, timestamp
    FROM webhook.operation_metrics
    WHERE crawl_id = :crawl_id AND document_url IS NOT NULL
    ORDER BY timestamp, id
    """
)

_RECENT_ORDER = "ORDER BY started_at DESC NULLS LAST, created_at DESC, crawl_id LIMIT :limit"


def fetch_crawl_session(connection: Connection, crawl_id: str) -> dict[str, Any] | None:
    """Return the session row of `crawl_id` with its aggregate timing, or None if unknown."""
    row = connection.execute(_SELECT_SESSION, {"crawl_id": crawl_id}).mappings().one_or_none()
    if row is None:
        return None
    return _session_fields(row)


def fetch_page_metrics(connection: Connection, crawl_id: str) -> list[dict[str, Any]]:
    """Return the crawl's operation metrics that name a page, ordered by timestamp then id."""
    rows = connection.execute(_SELECT_PAGE_METRICS, {"crawl_id": crawl_id}).mappings()
    return [_with_floats(row) for row in rows]


def list_crawl_sessions(
    connection: Connection, limit: int, status: str | None
) -> tuple[list[dict[str, Any]], int]:
    """Return up to `limit` sessions, newest first, and the number that match `status`."""
    if status is None:
        where = ""
        filters: dict[str, Any] = {}
    else:
        where = " WHERE status = :status"
        filters = {"status": status}

    rows = connection.execute(
        text(f"{_SELECT_SESSIONS}{where} {_RECENT_ORDER}"), {**filters, "limit": limit}
    )
    sessions = [_session_fields(row) for row in rows.mappings()]
    total = connection.execute(
        text(f"SELECT count(*) FROM webhook.crawl_sessions{where}"), filters
    ).scalar_one()
    return sessions, int(total)


def _session_fields(row: Any) -> dict[str, Any]:
    fields = _with_floats(row)
    fields["aggregate_timing"] = {
        "chunking_ms": fields["total_chunking_ms"],
        "embedding_ms": fields["total_embedding_ms"],
        "qdrant_ms": fields["total_qdrant_ms"],
        "bm25_ms": fields["total_bm25_ms"],
    }
    return fields


def _with_floats(row: Any) -> dict[str, Any]:
    """Return the row as a dict with `numeric` values converted from Decimal to float."""
    return {
        key: float(value) if isinstance(value, Decimal) else value for key, value in row.items()
    }
