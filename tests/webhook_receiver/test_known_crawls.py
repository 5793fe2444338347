"""KnownCrawls: a bounded set of crawl ids that evicts the least recently used first."""

from __future__ import annotations

import pytest

from webhook_receiver.known_crawls import KnownCrawls


def test_known_crawls_remembers_added_id() -> None:
    known = KnownCrawls(capacity=2)

    known.add("crawl-a")

    assert "crawl-a" in known
    assert "crawl-b" not in known


def test_known_crawls_forgets_least_recent() -> None:
    known = KnownCrawls(capacity=2)
    known.add("crawl-a")
    known.add("crawl-b")
    assert "crawl-a" in known  # crawl-a is now the most recently used

    known.add("crawl-c")

    assert "crawl-a" in known
    assert "crawl-b" not in known
    assert "crawl-c" in known
    assert len(known) == 2


def test_known_crawls_none_is_never_known() -> None:
    assert None not in KnownCrawls()


def test_known_crawls_rejects_zero_capacity() -> None:
    with pytest.raises(ValueError, match="capacity must be at least 1, got 0"):
        KnownCrawls(capacity=0)
