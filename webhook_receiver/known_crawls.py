"""The crawl ids whose `webhook.crawl_sessions` row a receiver process has already ensured."""

from __future__ import annotations

import threading
from collections import OrderedDict

__all__ = ["KNOWN_CRAWLS_CAPACITY", "KnownCrawls"]

# Crawl ids remembered per process. A forgotten id costs one more session insert, no more.
KNOWN_CRAWLS_CAPACITY = 10_000


class KnownCrawls:
    """A bounded, thread-safe set of crawl ids, which evicts the least recently used id first.

    The receiver adds a crawl id once the transaction that inserted or found its session row
    has committed, and skips the session insert for the crawl's later deliveries. A row deleted
    while the process runs is not recreated by the receiver; the pipeline creates it again
    when it records the crawl's first metrics.
    """

    def __init__(self, capacity: int = KNOWN_CRAWLS_CAPACITY) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be at least 1, got {capacity}")
        self._capacity = capacity
        self._ids: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    def __contains__(self, crawl_id: object) -> bool:
        with self._lock:
            if crawl_id not in self._ids:
                return False
            self._ids.move_to_end(crawl_id)  # type: ignore[arg-type]
            return True

    def __len__(self) -> int:
        with self._lock:
            return len(self._ids)

    def add(self, crawl_id: str) -> None:
        """Add the crawl id, evicting the least recently used id when full."""
        with self._lock:
            self._ids[crawl_id] = None
            self._ids.move_to_end(crawl_id)
            while len(self._ids) > self._capacity:
                self._ids.popitem(last=False)
