"""The `crawl_pages` asset: the latest delivery of each URL of a crawl, in `webhook.pages`."""

from dagster import AssetExecutionContext, MaterializeResult, MetadataValue, asset
from sqlalchemy import Connection, text

from pulse_assets.metrics import MetricsRecorder
from pulse_assets.pages import Page, read_pages
from pulse_assets.partitions import crawl_partitions
from pulse_assets.resources import EmbedderResource, QdrantResource, WarehouseResource

# A newer delivery replaces the page; an unchanged content hash keeps the page's index state, so
# a repeated delivery does no work downstream.
UPSERT_PAGE = text(
    """
    INSERT INTO webhook.pages AS p (
        crawl_id, url, staging_id, received_at, title, status_code, scrape_success,
        error_message, markdown, content_hash, index_status, updated_at
    ) VALUES (
        :crawl_id, :url, :staging_id, :received_at, :title, :status_code, :scrape_success,
        :error_message, :markdown, :content_hash,
        CASE WHEN :scrape_success THEN 'pending' ELSE 'failed' END, now()
    )
    ON CONFLICT (crawl_id, url) DO UPDATE SET
        staging_id = EXCLUDED.staging_id,
        received_at = EXCLUDED.received_at,
        title = EXCLUDED.title,
        status_code = EXCLUDED.status_code,
        scrape_success = EXCLUDED.scrape_success,
        error_message = EXCLUDED.error_message,
        markdown = EXCLUDED.markdown,
        content_hash = EXCLUDED.content_hash,
        index_status = CASE
            WHEN NOT EXCLUDED.scrape_success THEN 'failed'
            WHEN p.scrape_success AND p.content_hash = EXCLUDED.content_hash THEN p.index_status
            ELSE 'pending'
        END,
        updated_at = now()
    WHERE p.staging_id < EXCLUDED.staging_id
    """
)

MARK_STAGED_THROUGH = text(
    """
    INSERT INTO webhook.crawl_sessions (crawl_id, staged_through_id)
    VALUES (:crawl_id, :through_id)
    ON CONFLICT (crawl_id) DO UPDATE SET staged_through_id = EXCLUDED.staged_through_id
    """
)


def upsert_pages(connection: Connection, crawl_id: str, pages: list[Page]) -> None:
    if not pages:
        return
    rows = [
        {
            "crawl_id": crawl_id,
            "url": page.url,
            "staging_id": page.staging_id,
            "received_at": page.received_at,
            "title": page.title,
            "status_code": page.status_code,
            "scrape_success": page.scrape_success,
            "error_message": page.error_message,
            "markdown": page.markdown,
            "content_hash": page.content_hash,
        }
        for page in pages
    ]
    connection.execute(UPSERT_PAGE, rows)


@asset(
    partitions_def=crawl_partitions,
    group_name="indexing",
    kinds={"postgres"},
    pool="qdrant",
    description="Pages of the crawl: the latest staged delivery per URL, failed pages kept.",
)
def crawl_pages(
    context: AssetExecutionContext,
    warehouse: WarehouseResource,
    qdrant: QdrantResource,
    embedder: EmbedderResource,
) -> MaterializeResult:
    crawl_id = context.partition_key
    engine = warehouse.engine()
    recorder = MetricsRecorder(engine, crawl_id, context.run.run_id, warehouse.record_metrics)

    # A collection built for a model of another vector size fails the run here, before any
    # partition work, and is never dropped or recreated.
    model = embedder.load()
    qdrant.check_collection(model.dim, model.model_name)

    with recorder.timed("step", "crawl_pages") as step:
        with engine.begin() as connection:
            read = read_pages(connection, crawl_id)
            pages, through_id = read.pages, read.through_id
            upsert_pages(connection, crawl_id, pages)
            connection.execute(
                MARK_STAGED_THROUGH, {"crawl_id": crawl_id, "through_id": through_id}
            )
        failed = sum(1 for page in pages if not page.scrape_success)
        step.metadata.update(
            pages=len(pages),
            failed=failed,
            staged_through_id=through_id,
            unreadable_deliveries=read.unreadable[:100],
        )
    recorder.flush()

    if read.unreadable:
        context.log.warning(
            "Crawl %s: %d page deliveries carry no document with a source URL and were left "
            "out, staging ids %s",
            crawl_id,
            len(read.unreadable),
            read.unreadable[:20],
        )

    context.log.info(
        "Crawl %s: %d pages (%d failed) from deliveries up to staging id %s",
        crawl_id,
        len(pages),
        failed,
        through_id,
    )
    return MaterializeResult(
        metadata={
            "pages": len(pages),
            "pages_failed": failed,
            "unreadable_deliveries": len(read.unreadable),
            "staged_through_id": MetadataValue.int(through_id or 0),
            "duration_ms": MetadataValue.float(recorder.totals_ms.get("step", 0.0)),
        }
    )
