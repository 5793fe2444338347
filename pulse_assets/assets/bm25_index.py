"""The `bm25_index` asset: one BM25 index over all chunks of a crawl, built once per run."""

from dagster import (
    AssetCheckResult,
    AssetCheckSpec,
    AssetExecutionContext,
    MaterializeResult,
    MetadataValue,
    asset,
)
from sqlalchemy import text

from pulse_assets.assets.page_chunks import page_chunks
from pulse_assets.indexing.bm25 import TOKENIZER_NAME, Bm25Index
from pulse_assets.metrics import MetricsRecorder
from pulse_assets.partitions import crawl_partitions
from pulse_assets.resources import WarehouseResource

SELECT_CHUNKS = text(
    """
    SELECT CAST(point_id AS text) AS point_id, text FROM webhook.chunks
    WHERE crawl_id = :crawl_id ORDER BY url, chunk_index
    """
)

UPSERT_INDEX = text(
    """
    INSERT INTO webhook.bm25_indexes (crawl_id, chunk_count, tokenizer, corpus, built_at)
    VALUES (:crawl_id, :chunk_count, :tokenizer, :corpus, now())
    ON CONFLICT (crawl_id) DO UPDATE SET
        chunk_count = EXCLUDED.chunk_count,
        tokenizer = EXCLUDED.tokenizer,
        corpus = EXCLUDED.corpus,
        built_at = EXCLUDED.built_at
    """
)

COUNT_CHUNKS = text("SELECT COUNT(*) FROM webhook.chunks WHERE crawl_id = :crawl_id")


@asset(
    partitions_def=crawl_partitions,
    deps=[page_chunks],
    group_name="indexing",
    kinds={"python", "postgres"},
    check_specs=[
        AssetCheckSpec(
            "index_covers_chunks",
            asset="bm25_index",
            blocking=True,
            description="The stored BM25 index contains exactly the crawl's chunk rows.",
        )
    ],
    description="A BM25 index (rank-bm25) over every chunk of the crawl, stored in the warehouse.",
)
def bm25_index(context: AssetExecutionContext, warehouse: WarehouseResource) -> MaterializeResult:
    crawl_id = context.partition_key
    engine = warehouse.engine()
    recorder = MetricsRecorder(engine, crawl_id, context.run.run_id, warehouse.record_metrics)

    with recorder.timed("step", "bm25_index"), recorder.timed("bm25", "build_index") as operation:
        # One snapshot for the read, the write and the check, so they see the same chunks.
        with engine.connect().execution_options(isolation_level="REPEATABLE READ") as connection:
            with connection.begin():
                rows = connection.execute(SELECT_CHUNKS, {"crawl_id": crawl_id}).all()
                index = Bm25Index.build([row.point_id for row in rows], [row.text for row in rows])
                corpus = index.to_bytes()
                connection.execute(
                    UPSERT_INDEX,
                    {
                        "crawl_id": crawl_id,
                        "chunk_count": len(index),
                        "tokenizer": TOKENIZER_NAME,
                        "corpus": corpus,
                    },
                )
                chunk_rows = connection.execute(COUNT_CHUNKS, {"crawl_id": crawl_id}).scalar_one()
        operation.metadata.update(chunks=len(index), bytes=len(corpus))
    recorder.flush()

    context.log.info("Crawl %s: BM25 index over %d chunks", crawl_id, len(index))
    return MaterializeResult(
        metadata={
            "chunks": len(index),
            "index_bytes": len(corpus),
            "bm25_ms": MetadataValue.float(recorder.totals_ms.get("bm25", 0.0)),
        },
        check_results=[
            AssetCheckResult(
                check_name="index_covers_chunks",
                passed=len(index) == chunk_rows,
                metadata={"indexed_chunks": len(index), "chunk_rows": chunk_rows},
            )
        ],
    )
