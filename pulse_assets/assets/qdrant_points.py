"""The `qdrant_points` asset: embed the chunks that changed and keep Qdrant in step with them."""

from dataclasses import dataclass

from dagster import (
    AssetCheckResult,
    AssetCheckSpec,
    AssetExecutionContext,
    Backoff,
    MaterializeResult,
    MetadataValue,
    RetryPolicy,
    asset,
)
from sqlalchemy import text

from pulse_assets.assets.page_chunks import page_chunks
from pulse_assets.indexing.embedding import Embedder
from pulse_assets.indexing.vector_store import PointRecord, VectorStore
from pulse_assets.metrics import MetricsRecorder
from pulse_assets.partitions import crawl_partitions
from pulse_assets.resources import EmbedderResource, QdrantResource, WarehouseResource

# Chunks embedded and upserted together. Ordered by length, so each embedding batch pads little.
WINDOW_CHUNKS = 512

SELECT_PENDING_CHUNKS = text(
    """
    SELECT c.url, c.chunk_index, c.point_id, c.text, c.token_count, c.content_hash, p.title
    FROM webhook.chunks AS c
    JOIN webhook.pages AS p ON p.crawl_id = c.crawl_id AND p.url = c.url
    WHERE c.crawl_id = :crawl_id
      AND (c.embedded_hash IS DISTINCT FROM c.content_hash
           OR c.embedding_model IS DISTINCT FROM :model)
    ORDER BY c.token_count, c.url, c.chunk_index
    """
)

SELECT_UNCHANGED_PAGES = text(
    """
    SELECT p.url, COUNT(c.chunk_index) AS chunks
    FROM webhook.pages AS p
    JOIN webhook.chunks AS c ON c.crawl_id = p.crawl_id AND c.url = p.url
    WHERE p.crawl_id = :crawl_id AND p.scrape_success AND p.index_status = 'indexed'
    GROUP BY p.url
    HAVING bool_and(c.embedded_hash = c.content_hash AND c.embedding_model = :model)
    """
)

MARK_EMBEDDED = text(
    """
    UPDATE webhook.chunks SET embedded_hash = content_hash, embedding_model = :model
    WHERE crawl_id = :crawl_id AND point_id = ANY(CAST(:point_ids AS uuid[]))
    """
)

MARK_PAGE_FAILED = text(
    """
    UPDATE webhook.pages SET index_status = 'failed', error_message = :error
    WHERE crawl_id = :crawl_id AND url = :url
    """
)

# A page is indexed once it is chunked and every chunk's vector is current.
MARK_INDEXED = text(
    """
    UPDATE webhook.pages AS p SET index_status = 'indexed', error_message = NULL
    WHERE p.crawl_id = :crawl_id AND p.scrape_success
      AND p.chunked_hash = p.content_hash
      AND p.url <> ALL(CAST(:failed_urls AS text[]))
      AND NOT EXISTS (
          SELECT 1 FROM webhook.chunks AS c
          WHERE c.crawl_id = p.crawl_id AND c.url = p.url
            AND (c.embedded_hash IS DISTINCT FROM c.content_hash
                 OR c.embedding_model IS DISTINCT FROM :model)
      )
    """
)

# The points Qdrant must hold: chunks whose vector from this model is current.
SELECT_POINT_IDS = text(
    """
    SELECT CAST(point_id AS text) FROM webhook.chunks
    WHERE crawl_id = :crawl_id AND embedded_hash = content_hash AND embedding_model = :model
    """
)


@dataclass
class PendingChunk:
    url: str
    chunk_index: int
    point_id: str
    text: str
    token_count: int
    title: str | None


def to_point(crawl_id: str, chunk: PendingChunk, vector: list[float]) -> PointRecord:
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


class PointWriter:
    """Embed windows of chunks and upsert them; a page whose chunks fail is set aside."""

    def __init__(
        self, crawl_id: str, model: Embedder, store: VectorStore, recorder: MetricsRecorder
    ):
        self.crawl_id = crawl_id
        self.model = model
        self.store = store
        self.recorder = recorder
        self.failed: dict[str, str] = {}
        self.written: list[str] = []
        self.batches = 0

    def write(self, window: list[PendingChunk]) -> None:
        try:
            self._write(window, document_url=None)
        except Exception as error:  # noqa: BLE001 - retried page by page to isolate the cause
            self._write_page_by_page(window, error)

    def _write(self, chunks: list[PendingChunk], document_url: str | None) -> None:
        with self.recorder.timed("embedding", "embed_batch", document_url) as operation:
            vectors = self.model.embed([chunk.text for chunk in chunks])
            operation.metadata.update(
                chunks=len(chunks), tokens=sum(chunk.token_count for chunk in chunks)
            )
        points = [
            to_point(self.crawl_id, chunk, vector.tolist())
            for chunk, vector in zip(chunks, vectors, strict=True)
        ]
        with self.recorder.timed("qdrant", "upsert", document_url) as operation:
            batch_sizes = self.store.upsert(points)
            operation.metadata.update(points=len(points), batches=len(batch_sizes))
        self.batches += len(batch_sizes)
        self.written.extend(chunk.point_id for chunk in chunks)

    def _write_page_by_page(self, window: list[PendingChunk], window_error: Exception) -> None:
        by_url: dict[str, list[PendingChunk]] = {}
        for chunk in window:
            by_url.setdefault(chunk.url, []).append(chunk)
        for url, chunks in by_url.items():
            try:
                self._write(chunks, document_url=url)
            except Exception as error:  # noqa: BLE001 - one bad page must not stop the crawl
                self.failed[url] = f"{type(error).__name__}: {error}"
        if not self.failed:
            raise window_error


@asset(
    partitions_def=crawl_partitions,
    deps=[page_chunks],
    group_name="indexing",
    kinds={"qdrant", "python"},
    pool="qdrant",
    retry_policy=RetryPolicy(max_retries=2, delay=5, backoff=Backoff.EXPONENTIAL),
    check_specs=[
        AssetCheckSpec(
            "points_match_chunks",
            asset="qdrant_points",
            blocking=True,
            description="Qdrant holds exactly one point per chunk row of the crawl.",
        )
    ],
    description="Vectors of the crawl's chunks in Qdrant, one point per chunk row.",
)
def qdrant_points(
    context: AssetExecutionContext,
    warehouse: WarehouseResource,
    qdrant: QdrantResource,
    embedder: EmbedderResource,
) -> MaterializeResult:
    crawl_id = context.partition_key
    engine = warehouse.engine()
    recorder = MetricsRecorder(engine, crawl_id, context.run.run_id, warehouse.record_metrics)
    model = embedder.load()
    params = {"crawl_id": crawl_id, "model": model.model_name}

    with recorder.timed("step", "qdrant_points") as step, qdrant.open() as store:
        store.ensure_collection(model.dim, model.model_name)
        with engine.connect() as connection:
            pending = [
                PendingChunk(r.url, r.chunk_index, str(r.point_id), r.text, r.token_count, r.title)
                for r in connection.execute(SELECT_PENDING_CHUNKS, params)
            ]
            for row in connection.execute(SELECT_UNCHANGED_PAGES, params):
                recorder.record(
                    "embedding",
                    "skip_unchanged",
                    0.0,
                    document_url=row.url,
                    metadata={"chunks": row.chunks},
                )

        writer = PointWriter(crawl_id, model, store, recorder)
        for start in range(0, len(pending), WINDOW_CHUNKS):
            writer.write(pending[start : start + WINDOW_CHUNKS])
            with engine.begin() as connection:
                connection.execute(MARK_EMBEDDED, {**params, "point_ids": writer.written})
            writer.written = []
            context.log.info(
                "Crawl %s: embedded %d of %d pending chunks",
                crawl_id,
                min(start + WINDOW_CHUNKS, len(pending)),
                len(pending),
            )

        with engine.begin() as connection:
            for url, error in writer.failed.items():
                connection.execute(MARK_PAGE_FAILED, {**params, "url": url, "error": error})
                recorder.record(
                    "embedding",
                    "page_failed",
                    0.0,
                    success=False,
                    error_message=error,
                    document_url=url,
                )
            connection.execute(MARK_INDEXED, {**params, "failed_urls": list(writer.failed)})
            wanted = {row[0] for row in connection.execute(SELECT_POINT_IDS, params)}

        with recorder.timed("qdrant", "delete_stale") as operation:
            stale = store.point_ids(crawl_id) - wanted
            if stale:
                store.delete(sorted(stale))
            operation.metadata.update(points=len(stale))
        point_count = store.count(crawl_id)
        step.metadata.update(chunks=len(pending), failed_pages=len(writer.failed))
    recorder.flush()

    for url, error in writer.failed.items():
        context.log.error("Crawl %s: page %s failed to index: %s", crawl_id, url, error)
    context.log.info(
        "Crawl %s: %d chunks embedded, %d stale points deleted, %d points in Qdrant",
        crawl_id,
        len(pending),
        len(stale),
        point_count,
    )
    return MaterializeResult(
        metadata={
            "chunks_embedded": len(pending),
            "points": point_count,
            "stale_points_deleted": len(stale),
            "pages_failed": len(writer.failed),
            "upsert_batches": writer.batches,
            "embedding_ms": MetadataValue.float(recorder.totals_ms.get("embedding", 0.0)),
            "qdrant_ms": MetadataValue.float(recorder.totals_ms.get("qdrant", 0.0)),
        },
        check_results=[
            AssetCheckResult(
                check_name="points_match_chunks",
                passed=point_count == len(wanted),
                metadata={"points": point_count, "chunk_rows": len(wanted)},
            )
        ],
    )
