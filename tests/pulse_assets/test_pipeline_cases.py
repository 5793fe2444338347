"""Crawls no demo shows: failed pages only, NUL bytes, v0 completions, late and changed pages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from pulse_assets.assets.crawl_sessions import session_row


def envelope(crawl_id: str, event_type: str, webhook_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "success": True,
        "type": event_type,
        "id": crawl_id,
        "webhookId": webhook_id,
        "data": [],
        "metadata": {},
        **fields,
    }


def page(crawl_id: str, webhook_id: str, url: str, markdown: str) -> dict[str, Any]:
    return envelope(
        crawl_id,
        "crawl.page",
        webhook_id,
        data=[{"markdown": markdown, "metadata": {"sourceURL": url, "statusCode": 200}}],
    )


def chunk_texts(pipeline, crawl_id: str) -> list[str]:  # type: ignore[no-untyped-def]
    with pipeline.engine.connect() as connection:
        return list(
            connection.execute(
                text(
                    "SELECT text FROM webhook.chunks WHERE crawl_id = :c ORDER BY url, chunk_index"
                ),
                {"c": crawl_id},
            ).scalars()
        )


def test_failed_page_only_crawl(pipeline, crawl_id: str) -> None:  # type: ignore[no-untyped-def]
    failed = {
        "success": False,
        "type": "crawl.page",
        "id": crawl_id,
        "webhookId": "wh-0003",
        "error": "Request timed out",
        "data": [{"metadata": {"sourceURL": "https://acme.example/slow"}}],
    }
    assert pipeline.deliver(failed) == 200

    results = pipeline.tick_and_run()

    assert [result.success for result in results] == [True]
    row = session_row(pipeline.engine, crawl_id)
    assert row["total_pages"] == 1
    assert row["pages_failed"] == 1
    assert row["pages_indexed"] == 0
    assert row["status"] == "in_progress"
    assert chunk_texts(pipeline, crawl_id) == []


def test_empty_markdown_crawl_indexes_nothing(pipeline, crawl_id: str) -> None:  # type: ignore[no-untyped-def]
    pipeline.deliver(page(crawl_id, "wh-e1", "https://acme.example/empty", ""))
    pipeline.deliver(page(crawl_id, "wh-e2", "https://acme.example/blank", "  \n\n "))

    results = pipeline.tick_and_run()

    assert results[0].success
    row = session_row(pipeline.engine, crawl_id)
    assert row["total_pages"] == 2
    assert row["pages_indexed"] == 2
    assert chunk_texts(pipeline, crawl_id) == []


def test_nul_in_markdown_is_cleaned(pipeline, crawl_id: str) -> None:  # type: ignore[no-untyped-def]
    body = page(crawl_id, "wh-nul", "https://acme.example/total", "Total:\u0000 42")
    assert pipeline.deliver(body) == 200

    pipeline.tick_and_run()

    assert chunk_texts(pipeline, crawl_id) == ["Total: 42"]


def test_v0_completed_stages_its_pages(pipeline) -> None:  # type: ignore[no-untyped-def]
    crawl_id = "c0ffee00-0000-4000-8000-000000000006"
    body = {
        "success": True,
        "type": "crawl.completed",
        "jobId": crawl_id,
        "data": [
            {"markdown": "# A", "metadata": {"sourceURL": "https://acme.example/a"}},
            {"markdown": "# B", "metadata": {"sourceURL": "https://acme.example/b"}},
        ],
    }
    assert pipeline.deliver(body) == 200

    pipeline.tick_and_run()

    row = session_row(pipeline.engine, crawl_id)
    assert row["status"] == "completed"
    assert row["total_pages"] == 2
    assert row["pages_indexed"] == 2
    assert chunk_texts(pipeline, crawl_id) == ["# A", "# B"]


def test_late_pages_keep_completed_at(pipeline, crawl_id: str) -> None:  # type: ignore[no-untyped-def]
    # The deliveries are dated ten minutes back, so every one is past the sensor's settle window.
    started_at = datetime.now(UTC) - timedelta(minutes=10)
    pipeline.deliver(envelope(crawl_id, "crawl.started", "wh-start"))
    _date_latest_delivery(pipeline, started_at)
    pipeline.deliver(envelope(crawl_id, "crawl.completed", "wh-done"))
    _date_latest_delivery(pipeline, started_at + timedelta(seconds=30))
    pipeline.tick_and_run()
    completed_at = session_row(pipeline.engine, crawl_id)["completed_at"]

    pipeline.deliver(page(crawl_id, "wh-a", "https://acme.example/a", "# Page A\n\nfirst"))
    _date_latest_delivery(pipeline, completed_at + timedelta(seconds=1))
    pipeline.tick_and_run()
    pipeline.deliver(page(crawl_id, "wh-b", "https://acme.example/b", "# Page B\n\nsecond"))
    _date_latest_delivery(pipeline, completed_at + timedelta(minutes=1))
    results = pipeline.tick_and_run()

    assert [result.success for result in results] == [True]
    row = session_row(pipeline.engine, crawl_id)
    assert row["total_pages"] == 2
    assert row["pages_indexed"] == 2
    assert row["completed_at"] == started_at + timedelta(seconds=30)
    assert row["duration_ms"] == 30_000
    assert row["status"] == "completed"


def _date_latest_delivery(pipeline, received_at) -> None:  # type: ignore[no-untyped-def]
    with pipeline.engine.begin() as connection:
        connection.execute(
            text(
                "UPDATE webhook.staged_deliveries SET received_at = :t"
                " WHERE id = (SELECT MAX(id) FROM webhook.staged_deliveries)"
            ),
            {"t": received_at},
        )


def test_shorter_page_drops_extra_chunks(pipeline, crawl_id: str, resources) -> None:  # type: ignore[no-untyped-def]
    long_page = "\n\n".join(
        f"## Section {number}\n\n" + " ".join(f"word{number}x{i}" for i in range(120))
        for number in range(6)
    )
    pipeline.deliver(page(crawl_id, "wh-long", "https://acme.example/doc", long_page))
    pipeline.tick_and_run()
    before = len(chunk_texts(pipeline, crawl_id))

    pipeline.deliver(page(crawl_id, "wh-short", "https://acme.example/doc", "# Short now"))
    results = pipeline.tick_and_run()

    assert results[0].success
    assert before > 1
    assert chunk_texts(pipeline, crawl_id) == ["# Short now"]
    with resources["qdrant"].open() as store:
        assert store.count(crawl_id) == 1


def test_same_page_two_webhook_ids_counts_once(pipeline, crawl_id: str) -> None:  # type: ignore[no-untyped-def]
    markdown = "# Retry\n\nThe same page sent twice."
    pipeline.deliver(page(crawl_id, "wh-first-send", "https://acme.example/retry", markdown))
    pipeline.deliver(page(crawl_id, "wh-second-send", "https://acme.example/retry", markdown))

    pipeline.tick_and_run()

    row = session_row(pipeline.engine, crawl_id)
    assert row["total_pages"] == 1
    assert len(chunk_texts(pipeline, crawl_id)) == 1


def test_out_of_range_status_code_indexes(pipeline, crawl_id: str) -> None:  # type: ignore[no-untyped-def]
    body = page(crawl_id, "wh-big", "https://acme.example/big-status", "# Big\n\nstatus")
    body["data"][0]["metadata"]["statusCode"] = 10**30
    pipeline.deliver(body)

    results = pipeline.tick_and_run()

    assert [result.success for result in results] == [True]
    with pipeline.engine.connect() as connection:
        status_code = connection.execute(
            text("SELECT status_code FROM webhook.pages WHERE crawl_id = :c"), {"c": crawl_id}
        ).scalar_one()
    assert status_code is None
    assert session_row(pipeline.engine, crawl_id)["pages_indexed"] == 1


@pytest.mark.parametrize("data", ["x", {}, [5], None, [{"metadata": "x"}], [{"markdown": "# A"}]])
def test_page_without_document_is_reported(pipeline, crawl_id: str, data) -> None:  # type: ignore[no-untyped-def]
    body = envelope(crawl_id, "crawl.page", "wh-odd", data=data)
    assert pipeline.deliver(body) == 200

    results = pipeline.tick_and_run()

    assert [result.success for result in results] == [True]
    materialization = results[0].asset_materializations_for_node("crawl_pages")[0]
    assert materialization.metadata["unreadable_deliveries"].value == 1
    assert session_row(pipeline.engine, crawl_id)["total_pages"] == 0
