"""The staging sensor evaluated against a real Dagster instance and warehouse."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from pulse_assets.partitions import CRAWL_PARTITIONS_NAME


def page(crawl_id: str, webhook_id: str, url: str) -> dict[str, Any]:
    return {
        "success": True,
        "type": "crawl.page",
        "id": crawl_id,
        "webhookId": webhook_id,
        "data": [{"markdown": f"# {url}", "metadata": {"sourceURL": url}}],
        "metadata": {},
    }


def max_staging_id(pipeline) -> int:  # type: ignore[no-untyped-def]
    with pipeline.engine.connect() as connection:
        return connection.execute(text("SELECT MAX(id) FROM webhook.staged_deliveries")).scalar()


def test_sensor_one_run_per_crawl(pipeline, crawl_id: str) -> None:  # type: ignore[no-untyped-def]
    other_crawl = crawl_id[::-1]
    pipeline.deliver(page(crawl_id, "wh-1", "https://acme.example/a"))
    pipeline.deliver(page(crawl_id, "wh-2", "https://acme.example/b"))
    pipeline.deliver(page(other_crawl, "wh-3", "https://acme.example/c"))

    result = pipeline.tick()

    requests = {request.partition_key: request for request in result.run_requests}
    assert set(requests) == {crawl_id, other_crawl}
    assert requests[crawl_id].run_key == f"{crawl_id}:2"
    assert requests[other_crawl].run_key == f"{other_crawl}:3"
    assert result.cursor == "3"
    partitions = pipeline.instance.get_dynamic_partitions(CRAWL_PARTITIONS_NAME)
    assert {crawl_id, other_crawl} <= set(partitions)


def test_sensor_late_page_new_run_key(pipeline, crawl_id: str) -> None:  # type: ignore[no-untyped-def]
    pipeline.deliver(page(crawl_id, "wh-1", "https://acme.example/a"))
    first = pipeline.tick()
    pipeline.deliver(page(crawl_id, "wh-2", "https://acme.example/late"))

    second = pipeline.tick()

    assert [request.run_key for request in first.run_requests] == [f"{crawl_id}:1"]
    assert [request.run_key for request in second.run_requests] == [f"{crawl_id}:2"]


def test_sensor_nothing_new_skips(pipeline, crawl_id: str) -> None:  # type: ignore[no-untyped-def]
    pipeline.deliver(page(crawl_id, "wh-1", "https://acme.example/a"))
    pipeline.tick()

    result = pipeline.tick()

    assert result.run_requests == []
    assert result.cursor == "1"


def test_sensor_ignores_extract_events(pipeline, crawl_id: str) -> None:  # type: ignore[no-untyped-def]
    extract = {"success": True, "type": "extract.completed", "id": crawl_id, "data": []}
    pipeline.deliver(extract)

    result = pipeline.tick()

    assert result.run_requests == []
    assert result.cursor == str(max_staging_id(pipeline))


def test_sensor_batch_is_bounded(pipeline, crawl_id: str, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("PULSE_SENSOR_BATCH_SIZE", "2")
    for number in range(5):
        pipeline.deliver(page(crawl_id, f"wh-{number}", f"https://acme.example/{number}"))

    cursors = [pipeline.tick().cursor for _ in range(3)]

    assert cursors == ["2", "4", "5"]


def test_sensor_waits_for_settle_window(pipeline, crawl_id: str, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("PULSE_SENSOR_SETTLE_SECONDS", "3600")
    pipeline.deliver(page(crawl_id, "wh-1", "https://acme.example/a"))

    result = pipeline.tick()

    assert result.run_requests == []
    assert pipeline.cursor is None
