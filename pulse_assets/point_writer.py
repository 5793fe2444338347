"""Embed pending chunks and upsert their points, isolating the pages that fail."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

from pulse_assets.indexing.embedding import Embedder
from pulse_assets.indexing.vector_store import PointRecord, VectorStore
from pulse_assets.metrics import MetricsRecorder

T = TypeVar("T")


@dataclass
class PendingChunk:
    url: str
    chunk_index: int
    point_id: str
    text: str
    token_count: int
    title: str | None


def to_point(crawl_id: str, chunk: PendingChunk, vector: np.ndarray) -> PointRecord:
    return PointRecord(
        point_id=chunk.point_id,
        vector=vector,
        payload={
            "crawl_id": crawl_id,
            "url": chunk.url,
            "title": chunk.title,
            "chunk_index": chunk.chunk_index,
            "chunk_key": f"{crawl_id}:{chunk.url}#{chunk.chunk_index}",
            "text": chunk.text,
        },
    )


def by_url(chunks: list[PendingChunk]) -> dict[str, list[PendingChunk]]:
    pages: dict[str, list[PendingChunk]] = {}
    for chunk in chunks:
        pages.setdefault(chunk.url, []).append(chunk)
    return pages


class PointWriter:
    """Embed windows of chunks and upsert them; a page whose chunks fail is set aside.

    A failed window or upsert is retried page by page, so one bad page is recorded as failed
    while the crawl's other pages still index.
    """

    def __init__(self, crawl_id: str, model: Embedder, recorder: MetricsRecorder):
        self.crawl_id = crawl_id
        self.model = model
        self.recorder = recorder
        self.failed: dict[str, str] = {}
        self.batches = 0

    def embed(self, window: list[PendingChunk]) -> list[tuple[PendingChunk, PointRecord]]:
        try:
            return self._embed(window, document_url=None)
        except Exception as error:  # noqa: BLE001 - retried page by page to isolate the cause
            return self._page_by_page(window, error, self._embed)

    def upsert(
        self, store: VectorStore, points: list[tuple[PendingChunk, PointRecord]]
    ) -> list[str]:
        """Upsert the points and return the ids of those written."""
        chunks = [chunk for chunk, _ in points]
        records = dict((chunk.point_id, point) for chunk, point in points)

        def write(part: list[PendingChunk], document_url: str | None) -> list[str]:
            with self.recorder.timed("qdrant", "upsert", document_url) as operation:
                sizes = store.upsert([records[chunk.point_id] for chunk in part])
                operation.metadata.update(points=len(part), batches=len(sizes))
            self.batches += len(sizes)
            return [chunk.point_id for chunk in part]

        try:
            return write(chunks, None)
        except Exception as error:  # noqa: BLE001 - retried page by page to isolate the cause
            return self._page_by_page(chunks, error, write)

    def _embed(
        self, chunks: list[PendingChunk], document_url: str | None
    ) -> list[tuple[PendingChunk, PointRecord]]:
        with self.recorder.timed("embedding", "embed_batch", document_url) as operation:
            vectors = self.model.embed([chunk.text for chunk in chunks])
            operation.metadata.update(
                chunks=len(chunks), tokens=sum(chunk.token_count for chunk in chunks)
            )
        return [
            (chunk, to_point(self.crawl_id, chunk, vector))
            for chunk, vector in zip(chunks, vectors, strict=True)
        ]

    def _page_by_page(
        self,
        chunks: list[PendingChunk],
        window_error: Exception,
        step: Callable[[list[PendingChunk], str | None], list[T]],
    ) -> list[T]:
        results: list[T] = []
        for url, chunks_of_page in by_url(chunks).items():
            if url in self.failed:
                continue
            try:
                results.extend(step(chunks_of_page, url))
            except Exception as error:  # noqa: BLE001 - one bad page must not stop the crawl
                self.failed[url] = f"{type(error).__name__}: {error}"
        if not results:
            # Every page failed alone too, so the cause is not one page (for example Qdrant is
            # down): raise, so the step's RetryPolicy runs it again.
            raise window_error
        return results
