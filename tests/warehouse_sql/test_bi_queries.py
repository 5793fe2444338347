"""The BI query files and views on the whole demo crawl, indexed once by the real pipeline.

Every expected value is computed in Python from the warehouse tables that the pipeline wrote
(staged deliveries, pages and operation metrics), not read back from crawl_sessions, so a wrong
value in the refresh SQL or in a view fails here.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from pipeline_harness import Pipeline
from sqlalchemy import Engine, text
from warehouse_support import ms_between, rounded

from pulse_assets.demo import DEMO_DELIVERIES, read_deliveries
from warehouse_sql.sql_files import load_sql

DEMO_CRAWL_ID = "6513270e-269e-4d37-b2a7-4de452e6b438"
# `initiated_at` in the user metadata of every delivery of the demo crawl.
DEMO_INITIATED_AT = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
STEP_TYPES = ("chunking", "embedding", "qdrant", "bm25")

SELECT_DELIVERY_TIMES = text(
    """
    SELECT received_at, event_type FROM webhook.staged_deliveries
    WHERE crawl_id = :crawl_id AND status = 'accepted' ORDER BY id
    """
)
SELECT_METRICS = text(
    """
    SELECT operation_type, operation_name, duration_ms, success
    FROM webhook.operation_metrics WHERE crawl_id = :crawl_id
    """
)
COUNT_INDEXED_PAGES = text(
    """
    SELECT COUNT(*) FROM webhook.pages
    WHERE crawl_id = :crawl_id AND index_status = 'indexed'
    """
)
SELECT_PERFORMANCE = text("SELECT * FROM webhook.crawl_performance WHERE crawl_id = :crawl_id")
SELECT_SUMMARY = text("SELECT * FROM webhook.operation_summary WHERE crawl_id = :crawl_id")


def percentile_cont(values: list[Decimal], fraction: float) -> Decimal:
    """Interpolate like PostgreSQL's percentile_cont, then round like the view.

    percentile_cont interpolates in double precision. PostgreSQL's cast to numeric
    (`float8_numeric` in numeric.c) formats the double with "%.*g" and DBL_DIG, 15 significant
    digits, so this repeats the same float steps and the same formatting.
    """
    ordered = sorted(float(value) for value in values)
    position = fraction * (len(ordered) - 1)
    lower = ordered[math.floor(position)]
    upper = ordered[math.ceil(position)]
    interpolated = lower + (position - math.floor(position)) * (upper - lower)
    return rounded(Decimal(f"{interpolated:.15g}"))


@dataclass
class DemoCrawl:
    """The demo crawl after one pass through the pipeline, and the values read from its tables."""

    engine: Engine
    delivery_statuses: list[int]
    run_results: list[Any]
    started_at: datetime
    completed_at: datetime
    metrics: list[Any]
    pages_indexed: int

    def query(self, name: str, **params: Any) -> list[dict[str, Any]]:
        """Run `queries/<name>.sql` and return its rows as dicts."""
        with self.engine.connect() as connection:
            rows = connection.execute(load_sql(name), params).mappings().all()
        return [dict(row) for row in rows]

    def step_total_ms(self, operation_type: str) -> Decimal:
        return sum(
            (row.duration_ms for row in self.metrics if row.operation_type == operation_type),
            Decimal(0),
        )


@pytest.fixture(scope="module")
def demo(module_pipeline: Pipeline) -> DemoCrawl:
    """Deliver every line of the demo crawl, run the pipeline once, and read the tables."""
    statuses = [module_pipeline.deliver(body) for body in read_deliveries(DEMO_DELIVERIES)]
    results = module_pipeline.tick_and_run()

    params = {"crawl_id": DEMO_CRAWL_ID}
    with module_pipeline.engine.connect() as connection:
        deliveries = connection.execute(SELECT_DELIVERY_TIMES, params).all()
        metrics = connection.execute(SELECT_METRICS, params).all()
        pages_indexed = connection.execute(COUNT_INDEXED_PAGES, params).scalar_one()
    completed = [row.received_at for row in deliveries if row.event_type == "crawl.completed"]
    return DemoCrawl(
        engine=module_pipeline.engine,
        delivery_statuses=statuses,
        run_results=results,
        started_at=deliveries[0].received_at,
        completed_at=completed[0],
        metrics=metrics,
        pages_indexed=pages_indexed,
    )


@pytest.fixture(scope="module")
def session(demo: DemoCrawl) -> dict[str, Any]:
    with demo.engine.connect() as connection:
        row = (
            connection.execute(
                text("SELECT * FROM webhook.crawl_sessions WHERE crawl_id = :crawl_id"),
                {"crawl_id": DEMO_CRAWL_ID},
            )
            .mappings()
            .one()
        )
    return dict(row)


def test_demo_deliveries_accepted(demo: DemoCrawl) -> None:
    assert len(demo.delivery_statuses) == 161
    assert all(200 <= status < 300 for status in demo.delivery_statuses)


def test_demo_run_succeeds(demo: DemoCrawl) -> None:
    assert len(demo.run_results) == 1
    assert demo.run_results[0].success


@pytest.mark.parametrize(
    ("column", "expected"),
    [
        ("total_pages", 158),
        ("pages_indexed", 155),
        ("pages_failed", 3),
        ("status", "completed"),
        ("success", True),
        ("initiated_at", DEMO_INITIATED_AT),
    ],
)
def test_demo_session_known_values(session: dict[str, Any], column: str, expected: Any) -> None:
    assert session[column] == expected


def test_duration_query_spans_deliveries(demo: DemoCrawl) -> None:
    [row] = demo.query("bi/01_total_crawl_duration", crawl_id=DEMO_CRAWL_ID)

    assert row["crawl_id"] == DEMO_CRAWL_ID
    assert row["duration_ms"] == ms_between(demo.started_at, demo.completed_at)
    assert row["duration_ms"] > 0


def test_duration_query_e2e_from_initiated(demo: DemoCrawl) -> None:
    [row] = demo.query("bi/01_total_crawl_duration", crawl_id=DEMO_CRAWL_ID)

    assert row["e2e_duration_ms"] == ms_between(DEMO_INITIATED_AT, demo.completed_at)


@pytest.mark.parametrize("operation_type", STEP_TYPES)
def test_session_step_totals_match_metrics(
    session: dict[str, Any], demo: DemoCrawl, operation_type: str
) -> None:
    expected = demo.step_total_ms(operation_type)

    assert session[f"total_{operation_type}_ms"] == expected
    assert expected > 0


def test_embedding_query_pct_is_ratio(demo: DemoCrawl) -> None:
    [row] = demo.query("bi/02_embedding_vs_qdrant_timing", crawl_id=DEMO_CRAWL_ID)
    embedding_ms = demo.step_total_ms("embedding")
    qdrant_ms = demo.step_total_ms("qdrant")

    assert row["total_embedding_ms"] == embedding_ms
    assert row["total_qdrant_ms"] == qdrant_ms
    assert row["embedding_pct"] == rounded(embedding_ms / qdrant_ms * 100)


def test_page_average_query_divides_duration(demo: DemoCrawl) -> None:
    [row] = demo.query("bi/03_average_time_per_page", crawl_id=DEMO_CRAWL_ID)
    duration_ms = ms_between(demo.started_at, demo.completed_at)

    assert row["total_pages"] == 158
    assert row["avg_ms_per_page"] == rounded(duration_ms / 158)


def test_operations_query_sums_to_metrics(demo: DemoCrawl) -> None:
    rows = demo.query("bi/04_crawl_operations", crawl_id=DEMO_CRAWL_ID)

    assert sum(row["count"] for row in rows) == len(demo.metrics)
    assert sum(row["total_ms"] for row in rows) == sum(row.duration_ms for row in demo.metrics)
    assert {row["operation_type"] for row in rows} >= set(STEP_TYPES)


def test_operations_query_sorted_by_total(demo: DemoCrawl) -> None:
    rows = demo.query("bi/04_crawl_operations", crawl_id=DEMO_CRAWL_ID)
    totals = [row["total_ms"] for row in rows]

    assert totals == sorted(totals, reverse=True)


@pytest.mark.parametrize("operation_type", STEP_TYPES)
def test_operations_query_matches_session(
    demo: DemoCrawl, session: dict[str, Any], operation_type: str
) -> None:
    rows = demo.query("bi/04_crawl_operations", crawl_id=DEMO_CRAWL_ID)

    total = sum(row["total_ms"] for row in rows if row["operation_type"] == operation_type)

    assert total == session[f"total_{operation_type}_ms"]


def test_recent_query_lists_demo_crawl(demo: DemoCrawl) -> None:
    rows = {row["crawl_id"]: row for row in demo.query("bi/05_recent_crawl_performance")}
    duration_ms = ms_between(demo.started_at, demo.completed_at)

    assert DEMO_CRAWL_ID in rows
    row = rows[DEMO_CRAWL_ID]
    assert row["status"] == "completed"
    assert row["total_pages"] == 158
    assert row["duration_sec"] == rounded(duration_ms / 1000)
    assert row["embedding_sec"] == rounded(demo.step_total_ms("embedding") / 1000)
    assert row["qdrant_sec"] == rounded(demo.step_total_ms("qdrant") / 1000)


def expected_performance(demo: DemoCrawl) -> dict[str, Any]:
    """Compute the crawl_performance columns of the demo crawl from the tables."""
    totals = {step: demo.step_total_ms(step) for step in STEP_TYPES}
    step_ms = sum(totals.values(), Decimal(0))
    duration_ms = ms_between(demo.started_at, demo.completed_at)
    e2e_ms = ms_between(DEMO_INITIATED_AT, demo.completed_at)
    expected: dict[str, Any] = {
        "status": "completed",
        "total_pages": 158,
        "pages_indexed": demo.pages_indexed,
        "pages_failed": 3,
        "duration_ms": duration_ms,
        "duration_sec": rounded(duration_ms / 1000),
        "e2e_duration_ms": e2e_ms,
        "e2e_duration_sec": rounded(e2e_ms / 1000),
        "total_step_ms": step_ms,
    }
    for step, total in totals.items():
        expected[f"total_{step}_ms"] = total
        expected[f"{step}_ms_per_page"] = rounded(total / demo.pages_indexed)
        expected[f"{step}_share_pct"] = rounded(100 * total / step_ms)
    return expected


PERFORMANCE_COLUMNS = [
    "status",
    "total_pages",
    "pages_indexed",
    "pages_failed",
    "duration_ms",
    "duration_sec",
    "e2e_duration_ms",
    "e2e_duration_sec",
    "total_step_ms",
    *(f"total_{step}_ms" for step in STEP_TYPES),
    *(f"{step}_ms_per_page" for step in STEP_TYPES),
    *(f"{step}_share_pct" for step in STEP_TYPES),
]


@pytest.fixture(scope="module")
def performance(demo: DemoCrawl) -> dict[str, Any]:
    with demo.engine.connect() as connection:
        row = connection.execute(SELECT_PERFORMANCE, {"crawl_id": DEMO_CRAWL_ID}).mappings().one()
    return dict(row)


@pytest.mark.parametrize("column", PERFORMANCE_COLUMNS)
def test_performance_view_matches_tables(
    demo: DemoCrawl, performance: dict[str, Any], column: str
) -> None:
    assert performance[column] == expected_performance(demo)[column]


def test_performance_view_shares_add_up(performance: dict[str, Any]) -> None:
    shares = sum(performance[f"{step}_share_pct"] for step in STEP_TYPES)

    # Each of the four shares is rounded to 0.01, so the sum is off by at most 0.02.
    assert abs(shares - 100) <= Decimal("0.02")


def expected_summary(demo: DemoCrawl) -> dict[tuple[str, str], dict[str, Any]]:
    """Compute the operation_summary rows of the demo crawl from its metric rows."""
    groups: dict[tuple[str, str], list[Any]] = defaultdict(list)
    for row in demo.metrics:
        groups[(row.operation_type, row.operation_name)].append(row)
    summary = {}
    for key, rows in groups.items():
        durations = [row.duration_ms for row in rows]
        total = sum(durations, Decimal(0))
        summary[key] = {
            "operation_count": len(rows),
            "failure_count": sum(1 for row in rows if not row.success),
            "total_ms": total,
            "avg_ms": rounded(total / len(rows)),
            "p50_ms": percentile_cont(durations, 0.5),
            "p95_ms": percentile_cont(durations, 0.95),
            "max_ms": max(durations),
        }
    return summary


@pytest.fixture(scope="module")
def summary(demo: DemoCrawl) -> dict[tuple[str, str], dict[str, Any]]:
    with demo.engine.connect() as connection:
        rows = connection.execute(SELECT_SUMMARY, {"crawl_id": DEMO_CRAWL_ID}).mappings().all()
    return {(row["operation_type"], row["operation_name"]): dict(row) for row in rows}


def test_summary_view_has_every_operation(
    demo: DemoCrawl, summary: dict[tuple[str, str], dict[str, Any]]
) -> None:
    assert set(summary) == set(expected_summary(demo))
    assert {operation_type for operation_type, _ in summary} >= set(STEP_TYPES)


@pytest.mark.parametrize(
    "column",
    ["operation_count", "failure_count", "total_ms", "avg_ms", "p50_ms", "p95_ms", "max_ms"],
)
def test_summary_view_matches_metrics(
    demo: DemoCrawl, summary: dict[tuple[str, str], dict[str, Any]], column: str
) -> None:
    expected = {key: values[column] for key, values in expected_summary(demo).items()}

    assert {key: values[column] for key, values in summary.items()} == expected
