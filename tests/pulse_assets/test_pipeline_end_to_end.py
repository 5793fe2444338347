"""The whole path on part of the demo crawl: receiver, sensor, runs, warehouse and index."""

from __future__ import annotations

from pathlib import Path

from pulse_assets.indexing.bm25 import Bm25Index
from qdrant_client import QdrantClient
from sqlalchemy import text

from pulse_assets.assets.crawl_sessions import session_row
from pulse_assets.demo import DEMO_DELIVERIES, read_deliveries

DEMO_CRAWL_ID = "6513270e-269e-4d37-b2a7-4de452e6b438"
# crawl.started, eight pages, one page sent twice under the same webhookId, two failed pages
# and crawl.completed: 11 distinct URLs, 9 of them indexed.
SUBSET_LINES = [0, 1, 2, 3, 7, 9, 11, 14, 19, 53, 58, 74, 98, 160]


def demo_subset() -> list[bytes]:
    lines = list(read_deliveries(DEMO_DELIVERIES))
    return [lines[index] for index in SUBSET_LINES]


def scalar(pipeline, sql: str, **params):  # type: ignore[no-untyped-def]
    with pipeline.engine.connect() as connection:
        return connection.execute(text(sql), params).scalar()


def test_demo_subset_end_to_end(pipeline, resources) -> None:  # type: ignore[no-untyped-def]
    statuses = [pipeline.deliver(body) for body in demo_subset()]
    assert all(200 <= status < 300 for status in statuses)
    assert scalar(pipeline, "SELECT COUNT(*) FROM webhook.staged_deliveries") == 13

    results = pipeline.tick_and_run()
    assert len(results) == 1
    assert results[0].success

    row = session_row(pipeline.engine, DEMO_CRAWL_ID)
    assert row is not None
    assert row["status"] == "completed"
    assert row["success"] is True
    assert row["total_pages"] == 11
    assert row["pages_indexed"] == 9
    assert row["pages_failed"] == 2
    assert row["initiated_at"] is not None
    assert row["e2e_duration_ms"] > 0
    assert row["total_chunking_ms"] > 0
    assert row["total_embedding_ms"] > 0
    assert row["total_qdrant_ms"] > 0
    assert row["total_bm25_ms"] > 0

    chunk_rows = scalar(
        pipeline, "SELECT COUNT(*) FROM webhook.chunks WHERE crawl_id = :c", c=DEMO_CRAWL_ID
    )
    assert chunk_rows > 9
    client = QdrantClient(path=str(Path(resources["qdrant"].path)))
    try:
        assert client.count("pulse_chunks", exact=True).count == chunk_rows
    finally:
        client.close()

    with pipeline.engine.connect() as connection:
        corpus = connection.execute(
            text("SELECT corpus FROM webhook.bm25_indexes WHERE crawl_id = :c"),
            {"c": DEMO_CRAWL_ID},
        ).scalar_one()
        chunk_ids = {
            str(value)
            for value in connection.execute(
                text("SELECT point_id FROM webhook.chunks WHERE crawl_id = :c"),
                {"c": DEMO_CRAWL_ID},
            ).scalars()
        }
        metric_types = set(
            connection.execute(
                text(
                    "SELECT DISTINCT operation_type FROM webhook.operation_metrics"
                    " WHERE crawl_id = :c"
                ),
                {"c": DEMO_CRAWL_ID},
            ).scalars()
        )
    assert set(Bm25Index.from_bytes(corpus).point_ids) == chunk_ids
    assert {"step", "chunking", "embedding", "qdrant", "bm25"} <= metric_types
    assert (
        scalar(pipeline, "SELECT COUNT(*) FROM webhook.operation_metrics WHERE crawl_id IS NULL")
        == 0
    )


def test_demo_subset_rerun_keeps_points(pipeline, resources) -> None:  # type: ignore[no-untyped-def]
    for body in demo_subset():
        pipeline.deliver(body)
    pipeline.tick_and_run()
    first = _point_ids(resources)

    result = pipeline.run(DEMO_CRAWL_ID)

    assert result.success
    assert _point_ids(resources) == first
    assert (
        scalar(
            pipeline,
            "SELECT COUNT(*) FROM webhook.operation_metrics"
            " WHERE operation_name = 'skip_unchanged' AND run_id = :r",
            r=result.run_id,
        )
        == 9
    )


def _point_ids(resources) -> set[str]:  # type: ignore[no-untyped-def]
    client = QdrantClient(path=str(Path(resources["qdrant"].path)))
    try:
        points, _ = client.scroll("pulse_chunks", limit=10_000, with_payload=False)
        return {str(point.id) for point in points}
    finally:
        client.close()
