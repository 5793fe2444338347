"""Warehouse reads for search: the stored BM25 indexes, chunk rows and crawl existence."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, text

from pulse_assets.indexing.bm25 import Bm25Index

__all__ = [
    "Bm25IndexCache",
    "ChunkRow",
    "LoadedIndexes",
    "crawl_exists",
    "crawl_has_chunks",
    "fetch_chunks",
]

logger = logging.getLogger(__name__)

SELECT_INDEX_VERSIONS = text(
    """
    SELECT crawl_id, built_at FROM webhook.bm25_indexes
    WHERE CAST(:crawl_id AS text) IS NULL OR crawl_id = :crawl_id
    ORDER BY crawl_id
    """
)

SELECT_CORPUS = text("SELECT corpus, built_at FROM webhook.bm25_indexes WHERE crawl_id = :crawl_id")

# A crawl is known once any delivery of it opened a session row or produced a page.
SELECT_CRAWL_EXISTS = text(
    """
    SELECT EXISTS (SELECT 1 FROM webhook.crawl_sessions WHERE crawl_id = :crawl_id)
        OR EXISTS (SELECT 1 FROM webhook.pages WHERE crawl_id = :crawl_id)
    """
)

SELECT_HAS_CHUNKS = text("SELECT EXISTS (SELECT 1 FROM webhook.chunks WHERE crawl_id = :crawl_id)")

SELECT_CHUNKS = text(
    """
    SELECT CAST(c.point_id AS text) AS point_id, c.crawl_id, c.url, c.chunk_index, c.text,
           p.title
    FROM webhook.chunks AS c
    JOIN webhook.pages AS p ON p.crawl_id = c.crawl_id AND p.url = c.url
    WHERE c.point_id = ANY(CAST(:point_ids AS uuid[]))
    """
)


@dataclass(frozen=True)
class ChunkRow:
    """A `webhook.chunks` row with its page's title."""

    point_id: str
    crawl_id: str
    url: str
    chunk_index: int
    text: str
    title: str | None


@dataclass(frozen=True)
class LoadedIndexes:
    """The BM25 indexes of the requested crawls, and the errors of those that failed to load."""

    indexes: dict[str, Bm25Index]
    errors: dict[str, str]


class Bm25IndexCache:
    """Stored BM25 indexes by crawl id, each reloaded when its `built_at` changes.

    Each load reads only the `built_at` of the requested crawls, and the corpus of an index
    that is new or was rebuilt since. Safe to share between threads.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[datetime, Bm25Index]] = {}

    def load(self, engine: Engine, crawl_id: str | None) -> LoadedIndexes:
        """Return the index of `crawl_id`, or of every crawl when it is None.

        A crawl with no stored index is left out. An index that does not parse, for example one
        built with another tokenizer, is left out and its error is returned and logged.
        """
        indexes: dict[str, Bm25Index] = {}
        errors: dict[str, str] = {}
        with engine.connect() as connection:
            versions = connection.execute(SELECT_INDEX_VERSIONS, {"crawl_id": crawl_id}).all()
            for row in versions:
                with self._lock:
                    entry = self._entries.get(row.crawl_id)
                if entry is not None and entry[0] == row.built_at:
                    indexes[row.crawl_id] = entry[1]
                    continue
                stored = connection.execute(SELECT_CORPUS, {"crawl_id": row.crawl_id}).one()
                try:
                    index = Bm25Index.from_bytes(bytes(stored.corpus))
                except ValueError as error:
                    logger.error("BM25 index of crawl %s not loaded: %s", row.crawl_id, error)
                    errors[row.crawl_id] = str(error)
                    continue
                with self._lock:
                    self._entries[row.crawl_id] = (stored.built_at, index)
                indexes[row.crawl_id] = index
        if crawl_id is None:
            self._forget_all_but({row.crawl_id for row in versions})
        return LoadedIndexes(indexes, errors)

    def _forget_all_but(self, crawl_ids: set[str]) -> None:
        """Drop the cached indexes of crawls whose index is no longer stored."""
        with self._lock:
            for cached in set(self._entries) - crawl_ids:
                del self._entries[cached]


def crawl_exists(engine: Engine, crawl_id: str) -> bool:
    """Return whether the warehouse has a session row or a page of the crawl."""
    with engine.connect() as connection:
        return bool(connection.execute(SELECT_CRAWL_EXISTS, {"crawl_id": crawl_id}).scalar_one())


def crawl_has_chunks(engine: Engine, crawl_id: str) -> bool:
    """Return whether the warehouse has at least one chunk row of the crawl."""
    with engine.connect() as connection:
        return bool(connection.execute(SELECT_HAS_CHUNKS, {"crawl_id": crawl_id}).scalar_one())


def fetch_chunks(engine: Engine, point_ids: Sequence[str]) -> dict[str, ChunkRow]:
    """Return the chunk rows with these point ids, by point id; ids without a row are left out."""
    if not point_ids:
        return {}
    with engine.connect() as connection:
        rows = connection.execute(SELECT_CHUNKS, {"point_ids": list(point_ids)}).all()
    return {
        row.point_id: ChunkRow(
            row.point_id, row.crawl_id, row.url, row.chunk_index, row.text, row.title
        )
        for row in rows
    }
