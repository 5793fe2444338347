"""Pages of a crawl, read from its staged deliveries: the latest delivery per URL wins."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, text

from pulse_assets.indexing.text import clean_text, content_hash

# Deliveries whose `data` contains documents. A v0 `crawl.completed` carries all of the crawl's
# pages, and a v1/v2 one carries `data: []`, so reading completions too covers both.
PAGE_EVENTS = (
    "crawl.page",
    "batch_scrape.page",
    "crawl.completed",
    "batch_scrape.completed",
)

SELECT_DELIVERIES = text(
    """
    SELECT id, received_at, event_type, payload
    FROM webhook.staged_deliveries
    WHERE crawl_id = :crawl_id AND status = 'accepted' AND id <= :through_id
      AND event_type = ANY(CAST(:event_types AS text[]))
    ORDER BY id
    """
)

MAX_DELIVERY_ID = text(
    "SELECT MAX(id) FROM webhook.staged_deliveries WHERE crawl_id = :crawl_id"
    " AND status = 'accepted'"
)


@dataclass(frozen=True)
class Page:
    """One URL of a crawl as its latest delivery describes it."""

    url: str
    staging_id: int
    received_at: datetime
    title: str | None
    status_code: int | None
    scrape_success: bool
    error_message: str | None
    markdown: str

    @property
    def content_hash(self) -> str:
        return content_hash(self.markdown)


@dataclass
class CrawlPages:
    """The latest page per URL, the highest staging id read, and what could not be read."""

    pages: list[Page]
    through_id: int | None
    unreadable: list[int]


def read_pages(connection: Connection, crawl_id: str) -> CrawlPages:
    """Read the crawl's page deliveries; `unreadable` lists staging ids that gave no page."""
    through_id = connection.execute(MAX_DELIVERY_ID, {"crawl_id": crawl_id}).scalar()
    if through_id is None:
        return CrawlPages([], None, [])
    rows = connection.execute(
        SELECT_DELIVERIES,
        {"crawl_id": crawl_id, "through_id": through_id, "event_types": list(PAGE_EVENTS)},
    )
    latest: dict[str, Page] = {}
    unreadable: list[int] = []
    for row in rows:
        pages = list(pages_of_delivery(row.id, row.received_at, row.payload))
        # A completion may carry no documents (v1 and v2); a page event must carry one.
        if not pages and row.event_type.endswith(".page"):
            unreadable.append(row.id)
        for page in pages:
            latest[page.url] = page
    return CrawlPages(sorted(latest.values(), key=lambda page: page.url), through_id, unreadable)


def pages_of_delivery(
    staging_id: int, received_at: datetime, payload: Mapping[str, Any] | None
) -> Iterable[Page]:
    """Yield the pages of one delivery; items without a source URL are skipped."""
    if not isinstance(payload, Mapping):
        return
    data = payload.get("data")
    if not isinstance(data, list):
        return
    delivery_success = payload.get("success") is not False
    delivery_error = _text_or_none(payload.get("error"))
    for item in data:
        if not isinstance(item, Mapping):
            continue
        metadata = item.get("metadata")
        metadata = metadata if isinstance(metadata, Mapping) else {}
        url = _text_or_none(metadata.get("sourceURL")) or _text_or_none(metadata.get("url"))
        if not url:
            continue
        markdown = item.get("markdown")
        markdown = clean_text(markdown) if isinstance(markdown, str) else ""
        status_code = _int32_or_none(metadata.get("statusCode"))
        item_error = _text_or_none(metadata.get("error"))
        yield Page(
            url=url,
            staging_id=staging_id,
            received_at=received_at,
            title=_text_or_none(metadata.get("title")),
            status_code=status_code,
            scrape_success=delivery_success and item_error is None,
            error_message=delivery_error or item_error,
            markdown=markdown,
        )


def _int32_or_none(value: object) -> int | None:
    """Return an integer that fits `pages.status_code`, else None, so no value fails the run."""
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value if -(2**31) <= value < 2**31 else None


def _text_or_none(value: object) -> str | None:
    if isinstance(value, str) and value.strip():
        return clean_text(value)
    return None
