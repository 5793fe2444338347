"""The crawl_sessions refresh through the real pipeline: idempotence, status and timestamps."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import pytest
from pipeline_harness import Pipeline
from sqlalchemy import Engine, text
from warehouse_support import envelope, ms_between, page, received_at

from pulse_assets.assets.crawl_sessions import refresh_crawl_sessions, session_row

PAGE_URL = "https://acme.example/guide"
PAGE_MARKDOWN = "# Guide\n\nOne short page."
FAILED_ERROR = "Crawl timed out after 3600 s"

SELECT_COLUMN_TYPES = text(
    """
    SELECT column_name, data_type FROM information_schema.columns
    WHERE table_schema = 'webhook' AND table_name = 'crawl_sessions'
    """
)


def deliver_crawl(
    pipeline: Pipeline,
    crawl_id: str,
    terminal: dict[str, Any] | None = None,
    metadata: dict[str, Any] | None = None,
    kind: str = "crawl",
) -> list[Any]:
    """Deliver `<kind>.started`, one page and `terminal`, then run the pipeline."""
    metadata = metadata or {}
    started = envelope(crawl_id, f"{kind}.started", "wh-started", metadata=metadata)
    pipeline.deliver(started)
    body = page(crawl_id, "wh-page", PAGE_URL, PAGE_MARKDOWN, event_type=f"{kind}.page")
    pipeline.deliver({**body, "metadata": metadata})
    if terminal is not None:
        pipeline.deliver({**terminal, "metadata": metadata})
    return pipeline.tick_and_run()


def warning_messages(pipeline: Pipeline, run_id: str, step_key: str) -> list[str]:
    """Return the WARNING log messages of one step of a run, from the instance's event log."""
    return [
        entry.user_message
        for entry in pipeline.instance.all_logs(run_id)
        if entry.level == logging.WARNING and entry.step_key == step_key
    ]


def test_refresh_twice_keeps_row(pipeline: Pipeline, crawl_id: str) -> None:
    deliver_crawl(pipeline, crawl_id, envelope(crawl_id, "crawl.completed", "wh-done"))
    after_run = session_row(pipeline.engine, crawl_id)

    refresh_crawl_sessions(pipeline.engine, [crawl_id])
    after_first = session_row(pipeline.engine, crawl_id)
    refresh_crawl_sessions(pipeline.engine, [crawl_id])
    after_second = session_row(pipeline.engine, crawl_id)

    assert after_first == after_run
    assert after_second == after_first
    assert after_second["updated_at"] == after_run["updated_at"]


@pytest.mark.parametrize(
    ("kind", "terminal_type", "fields", "status", "success", "error_message"),
    [
        ("crawl", "crawl.completed", {}, "completed", True, None),
        ("batch_scrape", "batch_scrape.completed", {}, "completed", True, None),
        ("crawl", "crawl.cancelled", {}, "cancelled", False, None),
        (
            "crawl",
            "crawl.failed",
            {"success": False, "error": FAILED_ERROR},
            "failed",
            False,
            FAILED_ERROR,
        ),
    ],
    ids=["crawl-completed", "batch-scrape-completed", "crawl-cancelled", "crawl-failed"],
)
def test_terminal_event_sets_status(
    pipeline: Pipeline,
    crawl_id: str,
    kind: str,
    terminal_type: str,
    fields: dict[str, Any],
    status: str,
    success: bool,
    error_message: str | None,
) -> None:
    terminal = envelope(crawl_id, terminal_type, "wh-terminal", **fields)
    results = deliver_crawl(pipeline, crawl_id, terminal, kind=kind)

    row = session_row(pipeline.engine, crawl_id)

    assert [result.success for result in results] == [True]
    assert row["status"] == status
    assert row["success"] is success
    assert row["error_message"] == error_message
    assert row["completed_at"] == received_at(pipeline.engine, crawl_id)["wh-terminal"]
    assert row["total_pages"] == 1


def test_in_progress_without_terminal(pipeline: Pipeline, crawl_id: str) -> None:
    deliver_crawl(pipeline, crawl_id)

    row = session_row(pipeline.engine, crawl_id)

    assert row["status"] == "in_progress"
    assert row["success"] is None
    assert row["completed_at"] is None
    assert row["duration_ms"] is None


def test_first_terminal_event_decides(pipeline: Pipeline, crawl_id: str) -> None:
    deliver_crawl(pipeline, crawl_id, envelope(crawl_id, "crawl.completed", "wh-done"))
    pipeline.deliver(envelope(crawl_id, "crawl.cancelled", "wh-cancelled"))
    pipeline.tick_and_run()

    row = session_row(pipeline.engine, crawl_id)

    assert row["status"] == "completed"
    assert row["completed_at"] == received_at(pipeline.engine, crawl_id)["wh-done"]


def test_page_before_started_starts_crawl(pipeline: Pipeline, crawl_id: str) -> None:
    pipeline.deliver(page(crawl_id, "wh-early-page", PAGE_URL, PAGE_MARKDOWN))
    pipeline.deliver(envelope(crawl_id, "crawl.started", "wh-started"))
    pipeline.deliver(envelope(crawl_id, "crawl.completed", "wh-done"))
    results = pipeline.tick_and_run()

    row = session_row(pipeline.engine, crawl_id)
    times = received_at(pipeline.engine, crawl_id)

    assert [result.success for result in results] == [True]
    assert row["started_at"] == times["wh-early-page"]
    assert row["duration_ms"] == ms_between(times["wh-early-page"], times["wh-done"])
    assert row["status"] == "completed"
    assert row["total_pages"] == 1
    assert row["pages_indexed"] == 1


@pytest.mark.parametrize("initiated_at", ["not-a-date", "2026-13-45T99:00:00Z"])
def test_unparseable_initiated_at_stays_null(
    pipeline: Pipeline, crawl_id: str, initiated_at: str
) -> None:
    done = envelope(crawl_id, "crawl.completed", "wh-done")
    results = deliver_crawl(pipeline, crawl_id, done, metadata={"initiated_at": initiated_at})

    row = session_row(pipeline.engine, crawl_id)
    warnings = warning_messages(pipeline, results[0].run_id, "crawl_sessions")

    assert [result.success for result in results] == [True]
    assert row["initiated_at"] is None
    assert row["e2e_duration_ms"] is None
    assert row["extra_metadata"]["user_metadata"]["initiated_at"] == initiated_at
    assert row["duration_ms"] is not None
    assert len(warnings) == 1
    assert repr(initiated_at) in warnings[0]


@pytest.mark.parametrize(
    ("initiated_at", "expected"),
    [
        ("2026-11-20T08:00:00Z", datetime(2026, 11, 20, 8, 0, tzinfo=UTC)),
        ("2026-11-20T08:00:00.000Z", datetime(2026, 11, 20, 8, 0, tzinfo=UTC)),
        ("2026-11-20T09:30:00+01:30", datetime(2026, 11, 20, 8, 0, tzinfo=UTC)),
        ("2026-11-19T21:00:00-11:00", datetime(2026, 11, 20, 8, 0, tzinfo=UTC)),
    ],
)
def test_initiated_at_read_as_utc(
    pipeline: Pipeline, crawl_id: str, initiated_at: str, expected: datetime
) -> None:
    done = envelope(crawl_id, "crawl.completed", "wh-done")
    results = deliver_crawl(pipeline, crawl_id, done, metadata={"initiated_at": initiated_at})

    row = session_row(pipeline.engine, crawl_id)
    completed_at = received_at(pipeline.engine, crawl_id)["wh-done"]

    assert row["initiated_at"] == expected
    assert row["e2e_duration_ms"] == ms_between(expected, completed_at)
    assert warning_messages(pipeline, results[0].run_id, "crawl_sessions") == []


@pytest.mark.parametrize(
    "column", ["started_at", "completed_at", "initiated_at", "created_at", "updated_at"]
)
def test_session_timestamps_are_timestamptz(migrated_engine: Engine, column: str) -> None:
    with migrated_engine.connect() as connection:
        types = dict(connection.execute(SELECT_COLUMN_TYPES).all())

    assert types[column] == "timestamp with time zone"
