"""Firecrawl webhook event types and how the receiver classifies them."""

from __future__ import annotations

from enum import StrEnum

# Crawl and batch scrape events, including the legacy `crawl.failed`.
PIPELINE_EVENT_TYPES = frozenset(
    {
        "crawl.started",
        "crawl.page",
        "crawl.completed",
        "crawl.cancelled",
        "crawl.failed",
        "batch_scrape.started",
        "batch_scrape.page",
        "batch_scrape.completed",
    }
)

# Event families that the receiver stores but the pipeline does not process.
IGNORED_EVENT_PREFIXES = ("extract.", "monitor.")


class EventKind(StrEnum):
    """Treatment of an event type: processed by the pipeline, stored but ignored, or unknown."""

    PIPELINE = "pipeline"
    IGNORED = "ignored"
    UNKNOWN = "unknown"


def classify_event_type(event_type: str | None) -> EventKind:
    """Return the kind of `event_type`, where a missing type is unknown."""
    if event_type in PIPELINE_EVENT_TYPES:
        return EventKind.PIPELINE
    if event_type is not None and event_type.startswith(IGNORED_EVENT_PREFIXES):
        return EventKind.IGNORED
    return EventKind.UNKNOWN


def unknown_event_detail(event_type: str | None) -> str:
    """Return why a delivery of an unknown event type is stored but not indexed."""
    if event_type is None:
        return (
            "the delivery has no event type in `type`, so it is stored but not indexed; "
            "Firecrawl sends types such as 'crawl.page'"
        )
    known = event_type.strip().lower()
    if known in PIPELINE_EVENT_TYPES:
        return (
            f"event type {event_type!r} is stored but not indexed: event types are "
            f"lowercase, so send {known!r}"
        )
    return (
        f"event type {event_type!r} is not a Firecrawl crawl or batch scrape event, so the "
        "delivery is stored but not indexed"
    )
