"""Delivery bodies and numeric helpers shared by the warehouse tests."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import Engine, text

CENT = Decimal("0.01")

SELECT_RECEIVED_AT = text(
    """
    SELECT webhook_id, received_at FROM webhook.staged_deliveries
    WHERE crawl_id = :crawl_id ORDER BY id
    """
)


def envelope(crawl_id: str, event_type: str, webhook_id: str, **fields: Any) -> dict[str, Any]:
    """Return a Firecrawl webhook body; `fields` replace or add top-level keys."""
    return {
        "success": True,
        "type": event_type,
        "id": crawl_id,
        "webhookId": webhook_id,
        "data": [],
        "metadata": {},
        **fields,
    }


def page(
    crawl_id: str, webhook_id: str, url: str, markdown: str, event_type: str = "crawl.page"
) -> dict[str, Any]:
    return envelope(
        crawl_id,
        event_type,
        webhook_id,
        data=[{"markdown": markdown, "metadata": {"sourceURL": url, "statusCode": 200}}],
    )


def failed_page(crawl_id: str, webhook_id: str, url: str) -> dict[str, Any]:
    """Return a `crawl.page` body of a page that Firecrawl failed to scrape."""
    return envelope(
        crawl_id,
        "crawl.page",
        webhook_id,
        success=False,
        error="Request timed out",
        data=[{"metadata": {"sourceURL": url}}],
    )


def received_at(engine: Engine, crawl_id: str) -> dict[str, datetime]:
    """Return the received_at of each staged delivery of the crawl, by webhook id."""
    with engine.connect() as connection:
        rows = connection.execute(SELECT_RECEIVED_AT, {"crawl_id": crawl_id}).all()
    return {row.webhook_id: row.received_at for row in rows}


def rounded(value: Decimal) -> Decimal:
    """Round to two places, half away from zero, as PostgreSQL's round(numeric, 2) does."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def ms_between(start: datetime, end: datetime) -> Decimal:
    """Return end - start in ms as the refresh SQL stores it: numeric(14, 2)."""
    microseconds = (end - start) // timedelta(microseconds=1)
    return rounded(Decimal(microseconds) / 1000)
