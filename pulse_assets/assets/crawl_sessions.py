"""The `crawl_sessions` asset: one warehouse row per crawl, rebuilt by set-based SQL."""

import json
from typing import Any

from dagster import (
    AssetCheckResult,
    AssetCheckSpec,
    AssetExecutionContext,
    MaterializeResult,
    MetadataValue,
    asset,
)
from sqlalchemy import Engine, text

from pulse_assets.assets.bm25_index import bm25_index
from pulse_assets.assets.qdrant_points import qdrant_points
from pulse_assets.metrics import MetricsRecorder
from pulse_assets.partitions import crawl_partitions
from pulse_assets.resources import WarehouseResource
from warehouse_sql.sql_files import load_sql

SELECT_SESSION = text("SELECT * FROM webhook.crawl_sessions WHERE crawl_id = :crawl_id")

COUNT_METRICS_WITHOUT_CRAWL = text(
    "SELECT COUNT(*) FROM webhook.operation_metrics WHERE run_id = :run_id AND crawl_id IS NULL"
)


def refresh_crawl_sessions(engine: Engine, crawl_ids: list[str]) -> None:
    """Rebuild the crawl_sessions rows of `crawl_ids` in one statement."""
    with engine.begin() as connection:
        connection.execute(load_sql("refresh_crawl_sessions"), {"crawl_ids": json.dumps(crawl_ids)})


def session_row(engine: Engine, crawl_id: str) -> dict[str, Any] | None:
    with engine.connect() as connection:
        row = connection.execute(SELECT_SESSION, {"crawl_id": crawl_id}).mappings().first()
    return dict(row) if row else None


@asset(
    partitions_def=crawl_partitions,
    deps=[qdrant_points, bm25_index],
    group_name="warehouse",
    kinds={"postgres", "sql"},
    check_specs=[
        AssetCheckSpec(
            "pages_add_up",
            asset="crawl_sessions",
            description="pages_indexed + pages_failed = total_pages.",
        ),
        AssetCheckSpec(
            "metrics_carry_crawl_id",
            asset="crawl_sessions",
            description="No operation_metrics row of this run lacks its crawl id.",
        ),
    ],
    description="Per-crawl totals: pages, status, durations and time spent in each step.",
)
def crawl_sessions(
    context: AssetExecutionContext, warehouse: WarehouseResource
) -> MaterializeResult:
    crawl_id = context.partition_key
    engine = warehouse.engine()
    recorder = MetricsRecorder(engine, crawl_id, context.run.run_id, warehouse.record_metrics)
    # The step's own row is written after the refresh, so the next refresh counts it.
    with recorder.timed("step", "crawl_sessions"):
        refresh_crawl_sessions(engine, [crawl_id])
    recorder.flush()
    row = session_row(engine, crawl_id)
    if row is None:
        raise RuntimeError(f"crawl_sessions has no row for crawl {crawl_id} after the refresh")

    raw_initiated = (row["extra_metadata"].get("user_metadata") or {}).get("initiated_at")
    if raw_initiated is not None and row["initiated_at"] is None:
        context.log.warning(
            "Crawl %s: user metadata initiated_at %r is not an ISO 8601 time; "
            "initiated_at and e2e_duration_ms stay empty",
            crawl_id,
            raw_initiated,
        )
    with engine.connect() as connection:
        orphans = connection.execute(
            COUNT_METRICS_WITHOUT_CRAWL, {"run_id": context.run.run_id}
        ).scalar_one()

    context.log.info(
        "Crawl %s: %s, %d pages (%d indexed, %d failed)",
        crawl_id,
        row["status"],
        row["total_pages"],
        row["pages_indexed"],
        row["pages_failed"],
    )
    return MaterializeResult(
        metadata={
            "status": row["status"],
            "total_pages": row["total_pages"],
            "pages_indexed": row["pages_indexed"],
            "pages_failed": row["pages_failed"],
            "duration_ms": MetadataValue.float(float(row["duration_ms"] or 0)),
            "total_chunking_ms": MetadataValue.float(float(row["total_chunking_ms"])),
            "total_embedding_ms": MetadataValue.float(float(row["total_embedding_ms"])),
            "total_qdrant_ms": MetadataValue.float(float(row["total_qdrant_ms"])),
            "total_bm25_ms": MetadataValue.float(float(row["total_bm25_ms"])),
        },
        check_results=[
            AssetCheckResult(
                check_name="pages_add_up",
                passed=row["pages_indexed"] + row["pages_failed"] == row["total_pages"],
                metadata={
                    "total_pages": row["total_pages"],
                    "pages_indexed": row["pages_indexed"],
                    "pages_failed": row["pages_failed"],
                },
            ),
            AssetCheckResult(
                check_name="metrics_carry_crawl_id",
                passed=orphans == 0,
                metadata={"rows_without_crawl_id": orphans},
            ),
        ],
    )
