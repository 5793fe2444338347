"""The `qdrant_points` asset: embed the chunks that changed and keep Qdrant in step with them."""

from dagster import (
    AssetCheckResult,
    AssetCheckSpec,
    AssetExecutionContext,
    MaterializeResult,
    MetadataValue,
    asset,
)
from sqlalchemy import Engine, text

from pulse_assets.assets.page_chunks import page_chunks
from pulse_assets.indexing.vector_store import PointRecord
from pulse_assets.metrics import MetricsRecorder
from pulse_assets.partitions import crawl_partitions
from pulse_assets.point_writer import PendingChunk, PointWriter
from pulse_assets.resources import EmbedderResource, QdrantResource, WarehouseResource

# Chunks embedded together. Ordered by length, so each embedding batch pads little.
WINDOW_CHUNKS = 512
# Embedded points kept in memory before they are written to Qdrant, which bounds the memory a
# large crawl takes and how often a run opens the embedded Qdrant folder.
FLUSH_POINTS = 4096

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


def flush_points(
    qdrant: QdrantResource,
    engine: Engine,
    writer: PointWriter,
    points: list[tuple[PendingChunk, PointRecord]],
    params: dict[str, object],
) -> None:
    with qdrant.open() as store:
        written = writer.upsert(store, points)
    with engine.begin() as connection:
        connection.execute(MARK_EMBEDDED, {**params, "point_ids": written})


@asset(
    partitions_def=crawl_partitions,
    deps=[page_chunks],
    group_name="indexing",
    kinds={"qdrant", "python"},
    # NOTE: the pool is held for the whole step, embedding included, so one very large crawl
    # (a 12 MB page took 26 min on a busy 2-core machine) makes other crawls' steps wait.
    pool="qdrant",
    check_specs=[
        AssetCheckSpec(
            "points_match_chunks",
            asset="qdrant_points",
            blocking=True,
            description="Qdrant has exactly one point per chunk row of the crawl.",
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

    with recorder.timed("step", "qdrant_points") as step:
        # Checked before any embedding work: a collection of another vector size fails the run.
        qdrant.check_collection(model.dim, model.model_name)
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

        writer = PointWriter(crawl_id, model, recorder)
        buffered: list[tuple[PendingChunk, PointRecord]] = []
        for start in range(0, len(pending), WINDOW_CHUNKS):
            buffered.extend(writer.embed(pending[start : start + WINDOW_CHUNKS]))
            context.log.info(
                "Crawl %s: embedded %d of %d pending chunks",
                crawl_id,
                min(start + WINDOW_CHUNKS, len(pending)),
                len(pending),
            )
            if len(buffered) >= FLUSH_POINTS:
                flush_points(qdrant, engine, writer, buffered, params)
                buffered = []

        # In local mode Qdrant is held only here and in the flushes, so searches and other
        # runs wait seconds rather than the whole embedding time.
        with qdrant.open() as store:
            written = writer.upsert(store, buffered)
            with engine.begin() as connection:
                connection.execute(MARK_EMBEDDED, {**params, "point_ids": written})
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
                expected_ids = {row[0] for row in connection.execute(SELECT_POINT_IDS, params)}

            with recorder.timed("qdrant", "delete_stale") as operation:
                stale = store.point_ids(crawl_id) - expected_ids
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
                passed=point_count == len(expected_ids),
                metadata={"points": point_count, "chunk_rows": len(expected_ids)},
            )
        ],
    )
