"""Tests of the staging insert: concurrent duplicates, the payload fallback and the crawl
session savepoint."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest
from receiver_support import PostDelivery, crawl_sessions, staged_rows
from sqlalchemy import Engine, text

from webhook_receiver import warehouse
from webhook_receiver.envelope import DeliveryIds, body_sha256
from webhook_receiver.known_crawls import KnownCrawls
from webhook_receiver.staging import StagingRow, StagingStatus, stage_delivery


def accepted_row(
    raw_body: bytes, payload_json: str | None = None, webhook_id: str = "wh-1"
) -> StagingRow:
    return StagingRow(
        raw_body=raw_body,
        body_sha256=body_sha256(raw_body),
        payload_json=payload_json if payload_json is not None else raw_body.decode("utf-8"),
        ids=DeliveryIds(crawl_id="job-1", event_type="crawl.page", webhook_id=webhook_id),
        dedupe_key=f"webhook:{webhook_id}",
        signature_verified=True,
        status=StagingStatus.ACCEPTED,
        parse_error=None,
        opens_crawl_session=True,
    )


def test_stage_delivery_inserts_row(engine: Engine) -> None:
    result = stage_delivery(engine, accepted_row(b'{"id":"job-1"}'))

    [row] = staged_rows(engine)
    assert result.inserted is True
    assert result.delivery_id == row["id"]
    assert row["payload"] == {"id": "job-1"}


def test_stage_delivery_concurrent_duplicates(engine: Engine) -> None:
    row = accepted_row(b'{"id":"job-1"}')

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda _: stage_delivery(engine, row), range(8)))

    assert sum(result.inserted for result in results) == 1
    assert len({result.delivery_id for result in results}) == 1
    assert len(staged_rows(engine)) == 1


def test_payload_rejected_by_postgres_stored_rejected(engine: Engine) -> None:
    raw_body = b'{"id":"job-1"}'

    result = stage_delivery(engine, accepted_row(raw_body, payload_json='{"id": '))

    [row] = staged_rows(engine)
    assert result.inserted is True
    assert result.row.status is StagingStatus.REJECTED
    assert row["status"] == "rejected"
    assert row["payload"] is None
    assert row["raw_body"] == raw_body
    assert row["dedupe_key"] == "rejected:" + body_sha256(raw_body)
    assert row["parse_error"].startswith("PostgreSQL rejected the payload: invalid input syntax")
    assert crawl_sessions(engine) == {}


def test_session_failure_keeps_delivery(
    post_delivery: PostDelivery, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(warehouse, "STATEMENT_TIMEOUT_MS", 300)
    body = json.dumps({"type": "crawl.page", "id": "job-locked", "webhookId": "wh-l"}).encode()

    with engine.connect() as locker:
        locker.execute(text("LOCK TABLE webhook.crawl_sessions IN ACCESS EXCLUSIVE MODE"))
        try:
            response = post_delivery(body)
        finally:
            locker.rollback()

    assert response.status_code == 200
    assert len(staged_rows(engine)) == 1
    assert crawl_sessions(engine) == {}

    # The failed insert left the crawl unknown, so its next delivery creates the row.
    retry = json.dumps({"type": "crawl.page", "id": "job-locked", "webhookId": "wh-l2"}).encode()
    assert post_delivery(retry).status_code == 200
    assert list(crawl_sessions(engine)) == ["job-locked"]


def test_known_crawl_skips_session_insert(engine: Engine) -> None:
    known = KnownCrawls()
    stage_delivery(engine, accepted_row(b'{"id":"job-1"}', webhook_id="wh-1"), known)
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM webhook.crawl_sessions"))

    stage_delivery(engine, accepted_row(b'{"id":"job-1"}', webhook_id="wh-2"), known)

    assert "job-1" in known
    assert len(staged_rows(engine)) == 2
    assert crawl_sessions(engine) == {}


def test_unknown_crawl_gets_session_row(engine: Engine) -> None:
    known = KnownCrawls()

    stage_delivery(engine, accepted_row(b'{"id":"job-1"}'), known)

    assert list(crawl_sessions(engine)) == ["job-1"]
    assert "job-1" in known
