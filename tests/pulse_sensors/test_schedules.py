"""The crawl_sessions refresh schedule evaluated against a real Dagster instance."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from dagster import SkipReason, build_schedule_context
from sqlalchemy import text

from pulse_assets.assets.crawl_sessions import session_row
from pulse_sensors.schedules import refresh_sessions_schedule


def delivery(crawl_id: str, event_type: str, webhook_id: str) -> dict:
    return {
        "success": True,
        "type": event_type,
        "id": crawl_id,
        "webhookId": webhook_id,
        "data": [],
    }


def evaluate(pipeline, scheduled: datetime):  # type: ignore[no-untyped-def]
    context = build_schedule_context(
        instance=pipeline.instance,
        scheduled_execution_time=scheduled,
        resources={"warehouse": pipeline.resources["warehouse"]},
    )
    return refresh_sessions_schedule(context)


def test_schedule_refreshes_in_progress_crawl(pipeline, crawl_id: str) -> None:  # type: ignore[no-untyped-def]
    pipeline.deliver(delivery(crawl_id, "crawl.started", "wh-start"))
    pipeline.tick()

    requests = evaluate(pipeline, datetime.now(UTC))

    assert [request.partition_key for request in requests] == [crawl_id]


def test_schedule_skips_old_finished_crawl(pipeline, crawl_id: str) -> None:  # type: ignore[no-untyped-def]
    pipeline.deliver(delivery(crawl_id, "crawl.started", "wh-start"))
    pipeline.deliver(delivery(crawl_id, "crawl.completed", "wh-done"))
    pipeline.tick_and_run()
    with pipeline.engine.begin() as connection:
        connection.execute(
            text("UPDATE webhook.staged_deliveries SET received_at = now() - interval '1 day'")
        )
        connection.execute(
            text("UPDATE webhook.operation_metrics SET timestamp = now() - interval '1 day'")
        )

    result = evaluate(pipeline, datetime.now(UTC))

    assert isinstance(result, SkipReason)


def test_schedule_run_rebuilds_session(pipeline, crawl_id: str) -> None:  # type: ignore[no-untyped-def]
    pipeline.deliver(delivery(crawl_id, "crawl.started", "wh-start"))
    pipeline.deliver(delivery(crawl_id, "crawl.completed", "wh-done"))
    pipeline.tick_and_run()
    with pipeline.engine.begin() as connection:
        connection.execute(
            text("UPDATE webhook.crawl_sessions SET status = 'in_progress', total_pages = 99")
        )
    requests = evaluate(pipeline, datetime.now(UTC) + timedelta(minutes=1))

    results = [pipeline.run(r.partition_key, "refresh_crawl_sessions") for r in requests]

    assert [result.success for result in results] == [True]
    row = session_row(pipeline.engine, crawl_id)
    assert row["status"] == "completed"
    assert row["total_pages"] == 0
