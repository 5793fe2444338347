"""Tests of the staging inserts, one delivery and a batch: duplicates, the payload fallback,
exact bytes and the crawl session rows."""

from __future__ import annotations

import json
import random
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import pytest
from receiver_support import PostDelivery, crawl_sessions, staged_rows
from sqlalchemy import Engine, text

from webhook_receiver import warehouse
from webhook_receiver.envelope import DeliveryIds, body_sha256
from webhook_receiver.known_crawls import KnownCrawls
from webhook_receiver.staging import StagingRow, StagingStatus, stage_deliveries, stage_delivery


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


def batch_row(number: int, crawl_id: str = "job-1", webhook_id: str | None = None) -> StagingRow:
    """Return an accepted crawl.page row whose body and webhook id carry `number`."""
    raw_body = json.dumps({"id": crawl_id, "n": number}).encode()
    row = accepted_row(raw_body, webhook_id=webhook_id or f"wh-{number}")
    return replace(row, ids=replace(row.ids, crawl_id=crawl_id))


def test_stage_deliveries_inserts_batch_in_order(engine: Engine) -> None:
    rows = [batch_row(number) for number in (3, 1, 2)]

    results = stage_deliveries(engine, rows)

    stored = {row["dedupe_key"]: row for row in staged_rows(engine)}
    assert [result.row for result in results] == rows
    assert all(result.inserted for result in results)
    assert [result.delivery_id for result in results] == [
        stored[row.dedupe_key]["id"] for row in rows
    ]
    assert [stored[row.dedupe_key]["payload"]["n"] for row in rows] == [3, 1, 2]


def test_stage_deliveries_exact_bytes_and_nulls(engine: Engine) -> None:
    binary = b"\x00\xff\xfe not UTF-8 \\x00 '"
    rejected = StagingRow(
        raw_body=binary,
        body_sha256=body_sha256(binary),
        payload_json=None,
        ids=DeliveryIds(crawl_id=None, event_type=None, webhook_id=None),
        dedupe_key="rejected:" + body_sha256(binary),
        signature_verified=False,
        status=StagingStatus.REJECTED,
        parse_error="body is not UTF-8",
        opens_crawl_session=False,
    )

    stage_deliveries(engine, [rejected, batch_row(1)])

    first, second = staged_rows(engine)
    by_key = {first["dedupe_key"]: first, second["dedupe_key"]: second}
    stored = by_key[rejected.dedupe_key]
    assert stored["raw_body"] == binary
    assert stored["payload"] is None
    assert stored["crawl_id"] is None
    assert stored["signature_verified"] is False
    assert stored["parse_error"] == "body is not UTF-8"
    assert by_key["webhook:wh-1"]["signature_verified"] is True


def test_stage_deliveries_key_repeated_in_batch(engine: Engine) -> None:
    first = batch_row(1, crawl_id="job-1", webhook_id="wh-same")
    repeat = batch_row(2, crawl_id="job-2", webhook_id="wh-same")

    inserted, duplicate = stage_deliveries(engine, [first, repeat])

    assert inserted.inserted is True
    assert duplicate.inserted is False
    assert duplicate.delivery_id == inserted.delivery_id
    assert duplicate.stored_ids == DeliveryIds("job-1", "crawl.page", "wh-same")
    assert len(staged_rows(engine)) == 1


def test_stage_deliveries_key_already_stored(engine: Engine) -> None:
    stored = stage_delivery(engine, batch_row(1, crawl_id="job-old", webhook_id="wh-old"))

    results = stage_deliveries(
        engine, [batch_row(2, crawl_id="job-new", webhook_id="wh-old"), batch_row(3)]
    )

    assert [result.inserted for result in results] == [False, True]
    assert results[0].delivery_id == stored.delivery_id
    assert results[0].stored_ids == DeliveryIds("job-old", "crawl.page", "wh-old")
    assert len(staged_rows(engine)) == 2


def test_stage_deliveries_rejected_value_fallback(engine: Engine) -> None:
    # jsonb rejects the NUL escape, so the batch statement fails and each row is staged alone.
    bad_json = '{"id": "job-1", "text": "\\u0000"}'
    bad = accepted_row(bad_json.encode(), payload_json=bad_json, webhook_id="wh-bad")
    rows = [batch_row(1), bad, batch_row(2)]

    results = stage_deliveries(engine, rows)

    assert [result.row.status for result in results] == [
        StagingStatus.ACCEPTED,
        StagingStatus.REJECTED,
        StagingStatus.ACCEPTED,
    ]
    assert all(result.inserted for result in results)
    stored = {row["dedupe_key"]: row for row in staged_rows(engine)}
    assert stored[results[1].row.dedupe_key]["raw_body"] == bad_json.encode()
    assert stored[results[1].row.dedupe_key]["parse_error"].startswith(
        "PostgreSQL rejected the payload"
    )
    assert len(stored) == 3


def test_stage_deliveries_opens_each_new_crawl_once(engine: Engine) -> None:
    known = KnownCrawls()
    known.add("job-known")
    rows = [batch_row(1, "job-a"), batch_row(2, "job-b"), batch_row(3, "job-a")]
    rows.append(batch_row(4, "job-known"))

    stage_deliveries(engine, rows, known)

    assert sorted(crawl_sessions(engine)) == ["job-a", "job-b"]
    assert "job-a" in known
    assert "job-b" in known


def test_stage_deliveries_repeat_opens_no_session(engine: Engine) -> None:
    stage_delivery(engine, batch_row(1, "job-a", webhook_id="wh-1"))
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM webhook.crawl_sessions"))

    [result] = stage_deliveries(engine, [batch_row(2, "job-a", webhook_id="wh-1")], KnownCrawls())

    assert result.inserted is False
    assert crawl_sessions(engine) == {}


def test_stage_deliveries_overlapping_batches(engine: Engine) -> None:
    rows = [batch_row(number, crawl_id=f"job-{number % 3}") for number in range(20)]
    orders = [random.Random(seed).sample(rows, len(rows)) for seed in range(6)]

    with ThreadPoolExecutor(max_workers=6) as pool:
        batches = list(pool.map(lambda order: stage_deliveries(engine, order), orders))

    assert sum(result.inserted for batch in batches for result in batch) == 20
    assert len(staged_rows(engine)) == 20
    assert sorted(crawl_sessions(engine)) == ["job-0", "job-1", "job-2"]
    for batch in batches:
        assert len({result.delivery_id for result in batch}) == 20


def test_stage_deliveries_empty_batch(engine: Engine) -> None:
    assert stage_deliveries(engine, []) == []
