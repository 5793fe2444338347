"""BI views and queries on crawls whose ratios have no denominator.

Two crawls of two failed pages each: one indexed as usual, and one indexed with operation
metrics turned off, so that every step total is zero. The views return NULL for those ratios.
Query 2 as the users wrote it divides by total_qdrant_ms without NULLIF, so it raises.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from pipeline_harness import Pipeline
from sqlalchemy import Engine, exc, text
from warehouse_support import envelope, failed_page

from pulse_assets.resources import WarehouseResource
from warehouse_sql import migrate
from warehouse_sql.sql_files import load_sql

STEP_TYPES = ("chunking", "embedding", "qdrant", "bm25")
PER_PAGE_COLUMNS = [f"{step}_ms_per_page" for step in STEP_TYPES]
SHARE_COLUMNS = [f"{step}_share_pct" for step in STEP_TYPES]
BI_VIEWS = ["crawl_performance", "operation_summary"]
PAGE_COUNT_COLUMNS = ["status", "total_pages", "pages_indexed", "pages_failed"]

SELECT_PERFORMANCE = text("SELECT * FROM webhook.crawl_performance WHERE crawl_id = :crawl_id")
SELECT_SUMMARY = text("SELECT * FROM webhook.operation_summary WHERE crawl_id = :crawl_id")
SELECT_VIEWS = text(
    "SELECT table_name FROM information_schema.views WHERE table_schema = 'webhook'"
    " ORDER BY table_name"
)
SELECT_TABLES = text(
    "SELECT table_name FROM information_schema.tables"
    " WHERE table_schema = 'webhook' AND table_type = 'BASE TABLE'"
)


def index_failed_crawl(
    pipeline: Pipeline, warehouse_url: str, crawl_id: str, record_metrics: bool
) -> list[Any]:
    """Deliver two failed pages and `crawl.completed`, then run the pipeline.

    With `record_metrics` false, no operation_metrics row is written, so every step total
    of the crawl stays zero.
    """
    warehouse = WarehouseResource(url=warehouse_url, record_metrics=record_metrics)
    pipeline = dataclasses.replace(
        pipeline, resources={**pipeline.resources, "warehouse": warehouse}
    )
    pipeline.deliver(failed_page(crawl_id, "wh-failed-1", "https://acme.example/slow"))
    pipeline.deliver(failed_page(crawl_id, "wh-failed-2", "https://acme.example/gone"))
    pipeline.deliver(envelope(crawl_id, "crawl.completed", "wh-completed"))
    return pipeline.tick_and_run()


def performance_rows(engine: Engine, crawl_id: str) -> list[dict[str, Any]]:
    with engine.connect() as connection:
        rows = connection.execute(SELECT_PERFORMANCE, {"crawl_id": crawl_id}).mappings().all()
    return [dict(row) for row in rows]


def summary_rows(engine: Engine, crawl_id: str) -> list[dict[str, Any]]:
    with engine.connect() as connection:
        rows = connection.execute(SELECT_SUMMARY, {"crawl_id": crawl_id}).mappings().all()
    return [dict(row) for row in rows]


METRICS_CASES = pytest.mark.parametrize(
    "record_metrics", [True, False], ids=["metrics", "no-metrics"]
)


@METRICS_CASES
def test_performance_view_failed_crawl(
    pipeline: Pipeline, warehouse_url: str, crawl_id: str, record_metrics: bool
) -> None:
    results = index_failed_crawl(pipeline, warehouse_url, crawl_id, record_metrics)

    rows = performance_rows(pipeline.engine, crawl_id)

    assert [result.success for result in results] == [True]
    assert len(rows) == 1
    counts = {column: rows[0][column] for column in PAGE_COUNT_COLUMNS}
    assert counts == {
        "status": "completed",
        "total_pages": 2,
        "pages_indexed": 0,
        "pages_failed": 2,
    }


@pytest.mark.parametrize(
    ("record_metrics", "null_columns"),
    [(True, PER_PAGE_COLUMNS), (False, [*PER_PAGE_COLUMNS, *SHARE_COLUMNS])],
    ids=["metrics", "no-metrics"],
)
def test_ratios_null_without_denominator(
    pipeline: Pipeline,
    warehouse_url: str,
    crawl_id: str,
    record_metrics: bool,
    null_columns: list[str],
) -> None:
    index_failed_crawl(pipeline, warehouse_url, crawl_id, record_metrics)

    [row] = performance_rows(pipeline.engine, crawl_id)

    assert {column: row[column] for column in null_columns} == dict.fromkeys(null_columns)


def test_shares_present_with_step_time(
    pipeline: Pipeline, warehouse_url: str, crawl_id: str
) -> None:
    index_failed_crawl(pipeline, warehouse_url, crawl_id, record_metrics=True)

    [row] = performance_rows(pipeline.engine, crawl_id)

    # The BM25 build and the Qdrant clean-up are timed even when no page was indexed.
    assert row["total_step_ms"] > 0
    assert all(row[column] is not None for column in SHARE_COLUMNS)


@METRICS_CASES
def test_summary_view_failed_crawl(
    pipeline: Pipeline, warehouse_url: str, crawl_id: str, record_metrics: bool
) -> None:
    index_failed_crawl(pipeline, warehouse_url, crawl_id, record_metrics)

    rows = summary_rows(pipeline.engine, crawl_id)

    assert bool(rows) == record_metrics
    assert all(row["p95_ms"] is not None for row in rows)


def test_embedding_query_divides_by_zero(
    pipeline: Pipeline, warehouse_url: str, crawl_id: str
) -> None:
    index_failed_crawl(pipeline, warehouse_url, crawl_id, record_metrics=False)

    # The known behaviour of query 2 as the users wrote it: without Qdrant time there is no
    # ratio, and PostgreSQL raises instead of returning NULL. crawl_performance returns NULL.
    with pipeline.engine.connect() as connection:
        with pytest.raises(exc.DataError, match="division by zero"):
            connection.execute(load_sql("bi/02_embedding_vs_qdrant_timing"), {"crawl_id": crawl_id})


def test_downgrade_drops_bi_views(migrated_engine: Engine) -> None:
    try:
        migrate.downgrade(migrated_engine, "0001")
        with migrated_engine.connect() as connection:
            views_at_0001 = list(connection.execute(SELECT_VIEWS).scalars())
            tables_at_0001 = set(connection.execute(SELECT_TABLES).scalars())
    finally:
        migrate.upgrade(migrated_engine, "head")
    with migrated_engine.connect() as connection:
        views_at_head = list(connection.execute(SELECT_VIEWS).scalars())

    assert views_at_0001 == []
    assert "crawl_sessions" in tables_at_0001
    assert views_at_head == BI_VIEWS
