"""Tests of POST /webhooks/firecrawl against the real warehouse: signatures, staging rows,
deduplication, event kinds, bad bodies and size limits."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from receiver_support import (
    VECTOR_BODY,
    VECTOR_SIGNATURE,
    WEBHOOK_SECRET,
    PostDelivery,
    crawl_sessions,
    make_settings,
    staged_rows,
)
from sqlalchemy import Engine

from webhook_receiver.app import create_app
from webhook_receiver.routes.webhooks import INLINE_PREPARE_BYTES
from webhook_receiver.signature import sign_body

PROPERTY_NAME_EXPECTED = "Expecting property name enclosed in double quotes"

DEMO_DELIVERIES = (
    Path(__file__).parents[2] / "pulse_assets" / "demo_data" / "fastapi-docs" / "deliveries.jsonl"
)

FAILED_PAGE_BODY = (
    b'{"success":false,"type":"crawl.page","id":"c0ffee00-0000-4000-8000-000000000003",'
    b'"webhookId":"wh-0003","error":"Request timed out",'
    b'"data":[{"metadata":{"sourceURL":"https://acme.example/slow"}}]}'
)
V0_COMPLETED_BODY = (
    b'{"success":true,"type":"crawl.completed","jobId":"c0ffee00-0000-4000-8000-000000000006",'
    b'"data":[{"markdown":"# A","metadata":{"sourceURL":"https://acme.example/a"}},'
    b'{"markdown":"# B","metadata":{"sourceURL":"https://acme.example/b"}}]}'
)
NUL_BODY = (
    b'{"success":true,"type":"crawl.page","id":"c0ffee00-0000-4000-8000-000000000004",'
    b'"webhookId":"wh-0004","data":[{"markdown":"Total:\\u0000 42",'
    b'"metadata":{"sourceURL":"https://acme.example/nul"}}]}'
)


def body_of(document: dict[str, Any]) -> bytes:
    return json.dumps(document, separators=(",", ":")).encode("utf-8")


def page_body(webhook_id: str, event_type: str = "crawl.page", crawl_id: str = "job-1") -> bytes:
    return body_of(
        {
            "success": True,
            "type": event_type,
            "id": crawl_id,
            "webhookId": webhook_id,
            "data": [{"markdown": "# Page", "metadata": {"sourceURL": "https://acme.example/p"}}],
        }
    )


def test_vector_lower_case_header_stored(post_delivery: PostDelivery, engine: Engine) -> None:
    response = post_delivery(
        VECTOR_BODY, signature=VECTOR_SIGNATURE, header_name="x-firecrawl-signature"
    )

    rows = staged_rows(engine)
    assert response.status_code == 200
    assert response.json()["status"] == "stored"
    assert len(rows) == 1


def test_vector_row_columns(post_delivery: PostDelivery, engine: Engine) -> None:
    response = post_delivery(VECTOR_BODY, signature=VECTOR_SIGNATURE)

    [row] = staged_rows(engine)
    assert response.json()["delivery_id"] == row["id"]
    assert row["raw_body"] == VECTOR_BODY
    assert row["body_sha256"] == hashlib.sha256(VECTOR_BODY).hexdigest()
    assert row["payload"] == json.loads(VECTOR_BODY)
    assert row["crawl_id"] == "3f1c2a9e-7b4d-4c1e-9a55-0d2e8f6b1a77"
    assert row["event_type"] == "crawl.page"
    assert row["webhook_id"] == "9d0e4b2c-1111-4a2b-8c3d-5e6f7a8b9c0d"
    assert row["dedupe_key"] == "webhook:9d0e4b2c-1111-4a2b-8c3d-5e6f7a8b9c0d"
    assert row["signature_verified"] is True
    assert row["status"] == "accepted"
    assert row["parse_error"] is None


def test_vector_reserialised_body_rejected(post_delivery: PostDelivery, engine: Engine) -> None:
    reserialised = json.dumps(json.loads(VECTOR_BODY), ensure_ascii=False).encode("utf-8")

    response = post_delivery(reserialised, signature=VECTOR_SIGNATURE)

    assert b", " in reserialised
    assert response.status_code == 401
    assert response.json() == {"detail": "invalid signature"}
    assert staged_rows(engine) == []


@pytest.mark.parametrize(
    ("signature", "sign", "detail"),
    [
        (None, False, "missing X-Firecrawl-Signature header"),
        (
            "sha256=abc",
            False,
            "malformed X-Firecrawl-Signature header: expected sha256=<64 hex digits>",
        ),
        (sign_body("another-secret", VECTOR_BODY), False, "invalid signature"),
    ],
    ids=["missing", "malformed", "wrong-secret"],
)
def test_bad_signature_not_stored(
    post_delivery: PostDelivery,
    engine: Engine,
    signature: str | None,
    sign: bool,
    detail: str,
) -> None:
    response = post_delivery(VECTOR_BODY, signature=signature, sign=sign)

    assert response.status_code == 401
    assert response.json() == {"detail": detail}
    assert staged_rows(engine) == []


def sized_page_body(size: int) -> bytes:
    """Return a crawl.page body of exactly `size` bytes, padded in its markdown."""
    empty = page_body("wh-sized")
    document = json.loads(empty)
    document["data"][0]["markdown"] += "x" * (size - len(empty))
    sized = body_of(document)
    assert len(sized) == size
    return sized


@pytest.mark.parametrize(
    "size", [INLINE_PREPARE_BYTES, INLINE_PREPARE_BYTES + 1], ids=["on-loop", "in-thread"]
)
def test_body_either_side_of_inline_size(
    post_delivery: PostDelivery, engine: Engine, size: int
) -> None:
    body = sized_page_body(size)

    forged = post_delivery(body, signature="sha256=" + "0" * 64)
    stored = post_delivery(body)

    assert forged.status_code == 401
    assert stored.status_code == 200
    [row] = staged_rows(engine)
    assert row["raw_body"] == body
    assert row["id"] == stored.json()["delivery_id"]


@pytest.mark.parametrize(
    "size", [INLINE_PREPARE_BYTES, INLINE_PREPARE_BYTES + 1], ids=["on-loop", "in-thread"]
)
def test_deep_nesting_same_limit_either_side(
    post_delivery: PostDelivery, engine: Engine, size: int
) -> None:
    nested = b'{"type":"crawl.page","id":"job-1","deep":' + b"[" * 300 + b"]" * 300 + b',"pad":"'
    body = nested + b"x" * (size - len(nested) - 2) + b'"}'
    assert len(body) == size

    response = post_delivery(body)

    assert response.status_code == 400
    assert response.json() == {"detail": "JSON nesting is deeper than the limit of 256 levels"}
    [row] = staged_rows(engine)
    assert row["status"] == "rejected"


def test_bad_signature_log_line(
    post_delivery: PostDelivery, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="webhook_receiver")

    post_delivery(VECTOR_BODY, signature=sign_body("another-secret", VECTOR_BODY))

    lines = [record.getMessage() for record in caplog.records if "outcome=" in record.getMessage()]
    assert len(lines) == 1
    assert "outcome=rejected status=401" in lines[0]
    assert "reason='signature invalid'" in lines[0]
    assert "crawl_id='3f1c2a9e-7b4d-4c1e-9a55-0d2e8f6b1a77'" in lines[0]
    assert "webhook_id='9d0e4b2c-1111-4a2b-8c3d-5e6f7a8b9c0d'" in lines[0]
    assert WEBHOOK_SECRET not in caplog.text
    assert "Café menu" not in caplog.text


def test_unsigned_invalid_json_not_stored(post_delivery: PostDelivery, engine: Engine) -> None:
    response = post_delivery(b"{not json", sign=False)

    assert response.status_code == 401
    assert staged_rows(engine) == []


def test_stored_delivery_log_line(
    post_delivery: PostDelivery, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="webhook_receiver")

    post_delivery(VECTOR_BODY)

    lines = [record.getMessage() for record in caplog.records if "outcome=" in record.getMessage()]
    assert len(lines) == 1
    assert "outcome=stored status=200" in lines[0]
    assert "crawl_id='3f1c2a9e-7b4d-4c1e-9a55-0d2e8f6b1a77'" in lines[0]
    assert "webhook_id='9d0e4b2c-1111-4a2b-8c3d-5e6f7a8b9c0d'" in lines[0]
    assert "type='crawl.page'" in lines[0]
    assert " ms=" in lines[0]
    assert "Café menu" not in caplog.text


def test_repeat_delivery_is_duplicate(post_delivery: PostDelivery, engine: Engine) -> None:
    first = post_delivery(VECTOR_BODY)
    second = post_delivery(VECTOR_BODY)

    assert second.status_code == 200
    assert second.json()["status"] == "duplicate"
    assert second.json()["delivery_id"] == first.json()["delivery_id"]
    assert len(staged_rows(engine)) == 1


def test_same_webhook_id_new_body_is_duplicate(post_delivery: PostDelivery, engine: Engine) -> None:
    post_delivery(page_body("wh-retry"))
    retried = body_of({**json.loads(page_body("wh-retry")), "retry": 1})

    response = post_delivery(retried)

    assert response.json()["status"] == "duplicate"
    assert len(staged_rows(engine)) == 1


def test_reused_webhook_id_echoes_stored_ids(post_delivery: PostDelivery, engine: Engine) -> None:
    post_delivery(page_body("wh-reused", crawl_id="job-first"))

    response = post_delivery(
        page_body("wh-reused", event_type="crawl.exploded", crawl_id="job-new")
    )

    assert response.status_code == 200
    assert response.json()["status"] == "duplicate"
    assert response.json()["crawl_id"] == "job-first"
    assert response.json()["event_type"] == "crawl.page"
    assert response.json()["detail"] is None
    [row] = staged_rows(engine)
    assert row["crawl_id"] == "job-first"


@pytest.mark.parametrize(
    ("event_type", "detail"),
    [
        (
            "CRAWL.PAGE",
            "event type 'CRAWL.PAGE' is stored but not indexed: event types are "
            "lowercase, so send 'crawl.page'",
        ),
        (
            " crawl.completed",
            "event type ' crawl.completed' is stored but not indexed: event "
            "types are lowercase, so send 'crawl.completed'",
        ),
        (
            "crawl.exploded",
            "event type 'crawl.exploded' is not a Firecrawl crawl or batch "
            "scrape event, so the delivery is stored but not indexed",
        ),
    ],
)
def test_unknown_event_type_explains_202(
    post_delivery: PostDelivery, engine: Engine, event_type: str, detail: str
) -> None:
    response = post_delivery(page_body(f"wh-{event_type}", event_type=event_type))

    assert response.status_code == 202
    assert response.json()["status"] == "stored"
    assert response.json()["detail"] == detail
    [row] = staged_rows(engine)
    assert row["event_type"] == event_type
    assert crawl_sessions(engine) == {}


def test_known_event_type_has_no_detail(post_delivery: PostDelivery) -> None:
    response = post_delivery(page_body("wh-plain"))

    assert response.status_code == 200
    assert response.json()["detail"] is None


def test_repeat_without_webhook_id_is_duplicate(
    post_delivery: PostDelivery, engine: Engine
) -> None:
    document = json.loads(page_body("unused"))
    del document["webhookId"]
    post_delivery(body_of(document))

    response = post_delivery(body_of({**document, "success": True, "extra": "reordered"}))

    assert response.json()["status"] == "duplicate"
    assert len(staged_rows(engine)) == 1
    assert staged_rows(engine)[0]["dedupe_key"].startswith("natural:")


def test_started_without_webhook_id_uses_body_hash(
    post_delivery: PostDelivery, engine: Engine
) -> None:
    body = body_of({"success": True, "type": "crawl.started", "id": "job-1", "data": []})

    post_delivery(body)

    [row] = staged_rows(engine)
    assert row["dedupe_key"] == hashlib.sha256(body).hexdigest()


@pytest.mark.parametrize(
    ("event_type", "status_code"),
    [
        ("crawl.started", 200),
        ("crawl.page", 200),
        ("crawl.completed", 200),
        ("crawl.cancelled", 200),
        ("crawl.failed", 200),
        ("batch_scrape.started", 200),
        ("batch_scrape.page", 200),
        ("batch_scrape.completed", 200),
        ("extract.started", 200),
        ("extract.completed", 200),
        ("monitor.page", 200),
        ("crawl.exploded", 202),
        ("agent.completed", 202),
    ],
)
def test_event_type_stored_with_status(
    post_delivery: PostDelivery, engine: Engine, event_type: str, status_code: int
) -> None:
    response = post_delivery(page_body(f"wh-{event_type}", event_type=event_type))

    [row] = staged_rows(engine)
    assert response.status_code == status_code
    assert response.json()["status"] == "stored"
    assert row["event_type"] == event_type
    assert row["status"] == "accepted"


@pytest.mark.parametrize(
    "event_type", ["crawl.started", "crawl.page", "crawl.completed", "batch_scrape.page"]
)
def test_first_delivery_opens_crawl_session(
    post_delivery: PostDelivery, engine: Engine, event_type: str
) -> None:
    post_delivery(page_body("wh-first", event_type=event_type, crawl_id="job-first"))

    sessions = crawl_sessions(engine)
    assert list(sessions) == ["job-first"]
    assert sessions["job-first"]["status"] == "in_progress"


@pytest.mark.parametrize("event_type", ["extract.completed", "monitor.page", "crawl.exploded"])
def test_non_pipeline_event_opens_no_session(
    post_delivery: PostDelivery, engine: Engine, event_type: str
) -> None:
    post_delivery(page_body("wh-other", event_type=event_type, crawl_id="job-other"))

    assert crawl_sessions(engine) == {}


def test_later_delivery_keeps_session_row(post_delivery: PostDelivery, engine: Engine) -> None:
    post_delivery(page_body("wh-a", event_type="crawl.started", crawl_id="job-keep"))
    post_delivery(page_body("wh-b", event_type="crawl.page", crawl_id="job-keep"))

    assert list(crawl_sessions(engine)) == ["job-keep"]
    assert len(staged_rows(engine)) == 2


def test_failed_page_stored(post_delivery: PostDelivery, engine: Engine) -> None:
    response = post_delivery(FAILED_PAGE_BODY)

    rows = staged_rows(engine)
    sessions = crawl_sessions(engine)
    assert response.status_code == 200
    assert len(rows) == 1
    assert rows[0]["payload"]["error"] == "Request timed out"
    assert sessions["c0ffee00-0000-4000-8000-000000000003"]["status"] == "in_progress"


def test_v0_completed_stored_with_job_id(post_delivery: PostDelivery, engine: Engine) -> None:
    response = post_delivery(V0_COMPLETED_BODY)

    rows = staged_rows(engine)
    assert response.status_code == 200
    assert len(rows) == 1
    assert rows[0]["crawl_id"] == "c0ffee00-0000-4000-8000-000000000006"
    assert rows[0]["event_type"] == "crawl.completed"
    assert len(rows[0]["payload"]["data"]) == 2


def test_nul_in_markdown_stored_cleaned(post_delivery: PostDelivery, engine: Engine) -> None:
    response = post_delivery(NUL_BODY)

    [row] = staged_rows(engine)
    assert response.status_code == 200
    assert row["raw_body"] == NUL_BODY
    assert row["payload"]["data"][0]["markdown"] == "Total: 42"
    assert "\x00" not in json.dumps(row["payload"], ensure_ascii=False)


def test_lone_surrogate_stored_cleaned(post_delivery: PostDelivery, engine: Engine) -> None:
    body = (
        b'{"type":"crawl.page","id":"job-\\ud800s","webhookId":"wh-\\udfffs",'
        b'"data":[{"markdown":"a\\ud800b","k\\udc00":1}]}'
    )

    response = post_delivery(body)

    [row] = staged_rows(engine)
    assert response.status_code == 200
    assert row["raw_body"] == body
    assert row["crawl_id"] == "job-s"
    assert row["webhook_id"] == "wh-s"
    assert row["payload"]["data"] == [{"markdown": "ab", "k": 1}]


@pytest.mark.parametrize(
    ("document", "status_code", "columns"),
    [
        (
            {"type": 5, "id": "job-w1", "webhookId": "wh-w1"},
            202,
            {"event_type": "5", "crawl_id": "job-w1", "webhook_id": "wh-w1"},
        ),
        (
            {"type": "crawl.page", "id": "job-w2", "webhookId": "wh-w2", "data": "x"},
            200,
            {"event_type": "crawl.page", "crawl_id": "job-w2", "webhook_id": "wh-w2"},
        ),
        (
            {"type": "crawl.page", "id": "job-w3", "webhookId": "wh-w3", "metadata": []},
            200,
            {"event_type": "crawl.page", "crawl_id": "job-w3", "webhook_id": "wh-w3"},
        ),
        (
            {"type": "crawl.page", "id": "job-w4", "webhookId": {}},
            200,
            {"event_type": "crawl.page", "crawl_id": "job-w4", "webhook_id": None},
        ),
        (
            {"type": "crawl.page", "id": {"a": 1}, "webhookId": "wh-w5"},
            200,
            {"event_type": "crawl.page", "crawl_id": None, "webhook_id": "wh-w5"},
        ),
        (
            {"type": "crawl.page", "id": 77, "webhookId": 78},
            200,
            {"event_type": "crawl.page", "crawl_id": "77", "webhook_id": "78"},
        ),
        (
            {"type": None, "id": "job-w7", "data": [1, None]},
            202,
            {"event_type": None, "crawl_id": "job-w7", "webhook_id": None},
        ),
        ({}, 202, {"event_type": None, "crawl_id": None, "webhook_id": None}),
        (
            {"type": "crawl.page", "id": "x" * 10_000, "webhookId": "y" * 10_000},
            200,
            {"event_type": "crawl.page", "crawl_id": None, "webhook_id": None},
        ),
    ],
    ids=[
        "type-number",
        "data-string",
        "metadata-array",
        "webhook-id-object",
        "id-object",
        "ids-numbers",
        "type-null",
        "empty-object",
        "ids-too-long",
    ],
)
def test_wrong_field_types_accepted(
    post_delivery: PostDelivery,
    engine: Engine,
    document: dict[str, Any],
    status_code: int,
    columns: dict[str, Any],
) -> None:
    body = body_of(document)

    response = post_delivery(body)

    [row] = staged_rows(engine)
    assert response.status_code == status_code
    assert row["status"] == "accepted"
    assert row["raw_body"] == body
    assert {name: row[name] for name in columns} == columns


def test_session_needs_string_crawl_id(post_delivery: PostDelivery, engine: Engine) -> None:
    post_delivery(body_of({"type": "crawl.page", "id": {"a": 1}, "webhookId": "wh-w5"}))

    assert crawl_sessions(engine) == {}


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (
            b"{not json",
            f"invalid JSON at line 1 column 2: {PROPERTY_NAME_EXPECTED}",
        ),
        (
            b'{"type": "crawl.page",',
            f"invalid JSON at line 1 column 23: {PROPERTY_NAME_EXPECTED}",
        ),
        (b"     ", "body is empty: send the webhook event as a JSON object"),
        (b"", "body is empty: send the webhook event as a JSON object"),
        (b"[]", "body must be a JSON object, got array"),
        (b'"crawl.page"', "body must be a JSON object, got string"),
        (b"null", "body must be a JSON object, got null"),
        (b'{"markdown": "caf\xe9"}', "body is not valid UTF-8: invalid byte at position 17"),
        (b'{"a": NaN}', "invalid JSON: NaN is not a JSON value"),
    ],
    ids=[
        "invalid-json",
        "truncated",
        "whitespace",
        "empty",
        "array",
        "string",
        "null",
        "latin-1",
        "nan",
    ],
)
def test_signed_bad_body_stored_rejected(
    post_delivery: PostDelivery, engine: Engine, body: bytes, detail: str
) -> None:
    response = post_delivery(body)

    [row] = staged_rows(engine)
    assert response.status_code == 400
    assert response.json() == {"detail": detail}
    assert row["status"] == "rejected"
    assert row["parse_error"] == detail
    assert row["raw_body"] == body
    assert row["payload"] is None
    assert row["dedupe_key"] == "rejected:" + hashlib.sha256(body).hexdigest()
    assert row["signature_verified"] is True


def test_rejected_repeat_stores_one_row(post_delivery: PostDelivery, engine: Engine) -> None:
    first = post_delivery(b"[1]")
    second = post_delivery(b"[1]")

    assert first.status_code == 400
    assert second.status_code == 400
    assert len(staged_rows(engine)) == 1


def test_rejected_body_opens_no_session(post_delivery: PostDelivery, engine: Engine) -> None:
    post_delivery(b'{"type":"crawl.page","id":"job-1",')

    assert crawl_sessions(engine) == {}


@pytest.fixture
def small_limit_client(tmp_path: Path, engine: Engine) -> Iterator[TestClient]:
    app = create_app(make_settings(tmp_path, max_body_bytes=100), engine)
    with TestClient(app) as test_client:
        yield test_client


def padded_body(size: int) -> bytes:
    """Return a JSON object body of exactly `size` bytes."""
    prefix = b'{"type":"crawl.page","id":"job-1","webhookId":"wh-size","pad":"'
    return prefix + b"x" * (size - len(prefix) - 2) + b'"}'


def test_body_at_limit_accepted(
    post_delivery: PostDelivery, small_limit_client: TestClient, engine: Engine
) -> None:
    response = post_delivery(padded_body(100), test_client=small_limit_client)

    assert response.status_code == 200
    assert len(staged_rows(engine)) == 1


def test_body_over_limit_is_413(
    post_delivery: PostDelivery, small_limit_client: TestClient, engine: Engine
) -> None:
    response = post_delivery(padded_body(101), test_client=small_limit_client)

    assert response.status_code == 413
    assert response.json() == {"detail": "request body is larger than the limit of 100 bytes"}
    assert staged_rows(engine) == []


def test_chunked_body_over_limit_is_413(small_limit_client: TestClient, engine: Engine) -> None:
    body = padded_body(150)

    def chunks() -> Any:
        for start in range(0, len(body), 10):
            yield body[start : start + 10]

    response = small_limit_client.post(
        "/webhooks/firecrawl",
        content=chunks(),
        headers={"X-Firecrawl-Signature": sign_body(WEBHOOK_SECRET, body)},
    )

    assert response.status_code == 413
    assert staged_rows(engine) == []


def test_declared_length_over_limit_is_413(small_limit_client: TestClient, engine: Engine) -> None:
    body = padded_body(50)

    response = small_limit_client.post(
        "/webhooks/firecrawl",
        content=body,
        headers={"Content-Length": "101", "X-Firecrawl-Signature": sign_body(WEBHOOK_SECRET, body)},
    )

    assert response.status_code == 413
    assert staged_rows(engine) == []


def test_invalid_content_length_is_400(client: TestClient, engine: Engine) -> None:
    response = client.post(
        "/webhooks/firecrawl",
        content=VECTOR_BODY,
        headers={"Content-Length": "abc", "X-Firecrawl-Signature": VECTOR_SIGNATURE},
    )

    assert response.status_code == 400
    assert response.json() == {"detail": "invalid Content-Length header: 'abc'"}
    assert staged_rows(engine) == []


def test_demo_deliveries_replayed_once(post_delivery: PostDelivery, engine: Engine) -> None:
    # Each line is one body; only the newline after it is not part of the body.
    bodies = DEMO_DELIVERIES.read_bytes().removesuffix(b"\n").split(b"\n")

    responses = [post_delivery(body) for body in bodies]

    statuses = [response.json()["status"] for response in responses]
    assert len(bodies) == 161
    assert all(200 <= response.status_code < 300 for response in responses)
    assert statuses.count("duplicate") == 1
    rows = staged_rows(engine)
    assert len(rows) == 160
    assert {row["raw_body"] for row in rows} == set(bodies)
