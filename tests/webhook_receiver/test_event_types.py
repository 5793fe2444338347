"""Tests of the classification of Firecrawl event types."""

from __future__ import annotations

import pytest

from webhook_receiver.event_types import EventKind, classify_event_type


@pytest.mark.parametrize(
    ("event_type", "kind"),
    [
        ("crawl.started", EventKind.PIPELINE),
        ("crawl.page", EventKind.PIPELINE),
        ("crawl.completed", EventKind.PIPELINE),
        ("crawl.cancelled", EventKind.PIPELINE),
        ("crawl.failed", EventKind.PIPELINE),
        ("batch_scrape.started", EventKind.PIPELINE),
        ("batch_scrape.page", EventKind.PIPELINE),
        ("batch_scrape.completed", EventKind.PIPELINE),
        ("extract.started", EventKind.IGNORED),
        ("extract.completed", EventKind.IGNORED),
        ("extract.failed", EventKind.IGNORED),
        ("monitor.page", EventKind.IGNORED),
        ("crawl.exploded", EventKind.UNKNOWN),
        ("Crawl.Page", EventKind.UNKNOWN),
        ("extract", EventKind.UNKNOWN),
        ("", EventKind.UNKNOWN),
        (None, EventKind.UNKNOWN),
    ],
)
def test_classify_event_type(event_type: str | None, kind: EventKind) -> None:
    assert classify_event_type(event_type) is kind
