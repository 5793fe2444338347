"""Pydantic models of the receiver's JSON responses, which /docs documents."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

CrawlStatus = Literal["in_progress", "completed", "cancelled", "failed"]


class ErrorDetail(BaseModel):
    """The body of every error response."""

    detail: str


class DeliveryReceipt(BaseModel):
    """The response to a stored delivery or to a repeat of one."""

    status: Literal["stored", "duplicate"]
    delivery_id: int | None = Field(
        description="Id of the webhook.staged_deliveries row, the original's for a duplicate."
    )
    dedupe_key: str
    crawl_id: str | None
    event_type: str | None
    webhook_id: str | None
    detail: str | None = Field(
        default=None,
        description="Why the delivery is stored but not indexed, for an unknown event type.",
    )


class HealthStatus(BaseModel):
    """Service status, where `warehouse` is `ok` or the class name of the connection error."""

    status: Literal["ok", "degraded"]
    warehouse: str


class AggregateTiming(BaseModel):
    """Total time in milliseconds that the pipeline spent in each indexing step of a crawl."""

    chunking_ms: float
    embedding_ms: float
    qdrant_ms: float
    bm25_ms: float


class PageOperationMetric(BaseModel):
    """One timed pipeline operation on one page, from webhook.operation_metrics."""

    url: str
    operation_type: str
    operation_name: str
    duration_ms: float
    success: bool
    timestamp: datetime


class CrawlSession(BaseModel):
    """One webhook.crawl_sessions row with its aggregate timing, durations in milliseconds."""

    crawl_id: str
    crawl_url: str | None
    started_at: datetime | None
    completed_at: datetime | None
    status: CrawlStatus
    success: bool | None
    total_pages: int
    pages_indexed: int
    pages_failed: int
    total_chunking_ms: float
    total_embedding_ms: float
    total_qdrant_ms: float
    total_bm25_ms: float
    duration_ms: float | None
    initiated_at: datetime | None
    e2e_duration_ms: float | None
    extra_metadata: Any = Field(description="A JSON value, an empty object by default.")
    error_message: str | None
    staged_through_id: int | None
    last_delivery_id: int | None
    created_at: datetime
    updated_at: datetime
    aggregate_timing: AggregateTiming


class CrawlMetrics(CrawlSession):
    """A crawl session with, on request, the per-page operation metrics."""

    per_page_metrics: list[PageOperationMetric] | None = Field(
        default=None,
        description="Page operations by timestamp, or null unless include_per_page=true.",
    )


class CrawlList(BaseModel):
    """The most recent crawl sessions, newest first, and how many match the filter."""

    crawls: list[CrawlSession]
    total: int = Field(description="Number of crawl sessions that match the status filter.")
    limit: int
    status: CrawlStatus | None
