"""Tests of body parsing: error details, derived ids, deduplication keys and text cleaning."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from webhook_receiver.envelope import (
    MAX_ID_CHARS,
    MAX_PEEK_BYTES,
    EnvelopeError,
    body_sha256,
    id_text,
    json_depth,
    parse_envelope,
    parse_json_object,
    peek_ids,
)

PROPERTY_NAME_EXPECTED = "Expecting property name enclosed in double quotes"


def envelope_of(document: dict[str, Any]) -> tuple[Any, str]:
    raw = json.dumps(document).encode("utf-8")
    sha256_hex = body_sha256(raw)
    return parse_envelope(raw, sha256_hex), sha256_hex


def natural_key(crawl_id: str | None, event_type: str | None, page_key: str) -> str:
    text = json.dumps([crawl_id, event_type, page_key], ensure_ascii=False)
    return "natural:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


@pytest.mark.parametrize(
    ("raw", "detail"),
    [
        (b"", "body is empty: send the webhook event as a JSON object"),
        (
            b"{oops",
            f"invalid JSON at line 1 column 2: {PROPERTY_NAME_EXPECTED}",
        ),
        (b'{"a":', "invalid JSON at line 1 column 6: Expecting value"),
        (b"[1, 2]", "body must be a JSON object, got array"),
        (b'"text"', "body must be a JSON object, got string"),
        (b"42", "body must be a JSON object, got number"),
        (b"4.5", "body must be a JSON object, got number"),
        (b"true", "body must be a JSON object, got boolean"),
        (b"null", "body must be a JSON object, got null"),
        (b'{"a": "caf\xe9"}', "body is not valid UTF-8: invalid byte at position 10"),
        (b'{"a": NaN}', "invalid JSON: NaN is not a JSON value"),
        (b'{"a": -Infinity}', "invalid JSON: -Infinity is not a JSON value"),
        (b'{"a": 1e400}', "invalid JSON: number is out of the range of a 64-bit float"),
        (b'{"a": ' + b"9" * 5000 + b"}", "invalid JSON: integer has more than 4300 digits"),
        (b'{"a": "x\x00y"}', "invalid JSON at line 1 column 9: Invalid control character"),
        (
            b"[" * 100_000 + b"]" * 100_000,
            "JSON nesting is deeper than the limit of 256 levels",
        ),
    ],
    ids=[
        "empty",
        "bare-word",
        "truncated",
        "array",
        "string",
        "integer",
        "float",
        "boolean",
        "null",
        "latin-1",
        "nan",
        "infinity",
        "float-overflow",
        "huge-integer",
        "raw-nul-byte",
        "deep-nesting",
    ],
)
def test_parse_json_object_rejects_body(raw: bytes, detail: str) -> None:
    with pytest.raises(EnvelopeError) as caught:
        parse_json_object(raw)

    assert caught.value.detail == detail


def test_nesting_over_limit_rejected() -> None:
    depth = 990
    raw = b'{"a":' + b"[" * depth + b"]" * depth + b"}"

    with pytest.raises(EnvelopeError) as caught:
        parse_envelope(raw, body_sha256(raw))

    assert caught.value.detail == "JSON nesting is deeper than the limit of 256 levels"


@pytest.mark.parametrize(("arrays", "accepted"), [(255, True), (256, False)])
def test_nesting_limit_boundary(arrays: int, accepted: bool) -> None:
    # The object around the arrays is one more level.
    raw = b'{"a":' + b"[" * arrays + b"]" * arrays + b"}"

    if accepted:
        assert parse_envelope(raw, body_sha256(raw)).payload_json.count("[") == arrays
        return
    with pytest.raises(EnvelopeError) as caught:
        parse_envelope(raw, body_sha256(raw))
    assert caught.value.detail == "JSON nesting is deeper than the limit of 256 levels"


@pytest.mark.parametrize(
    ("value", "depth"),
    [(1, 0), ("text", 0), ({}, 1), ([], 1), ({"a": [1, {"b": []}]}, 4), ([[], [[[]]]], 4)],
)
def test_json_depth_cases(value: object, depth: int) -> None:
    assert json_depth(value) == depth


def test_parse_envelope_keeps_moderate_nesting() -> None:
    depth = 200
    raw = b'{"a":' + b"[" * depth + b"]" * depth + b"}"

    envelope = parse_envelope(raw, body_sha256(raw))

    assert json.loads(envelope.payload_json) == json.loads(raw)


@pytest.mark.parametrize(
    ("document", "crawl_id"),
    [
        ({"id": "job-1"}, "job-1"),
        ({"jobId": "job-v0"}, "job-v0"),
        ({"id": "job-1", "jobId": "job-v0"}, "job-1"),
        ({"id": None, "jobId": "job-v0"}, "job-v0"),
        ({"id": {}, "jobId": "job-v0"}, "job-v0"),
        ({"id": 12345}, "12345"),
        ({"id": 1.5}, "1.5"),
        ({"id": True}, None),
        ({"id": ["a"]}, None),
        ({"id": {"nested": "x"}}, None),
        ({"id": ""}, None),
        ({"id": "a\u0000b\ud800c"}, "abc"),
        ({"id": "x" * (MAX_ID_CHARS + 1)}, None),
        ({}, None),
    ],
    ids=[
        "id",
        "v0-job-id",
        "id-wins",
        "null-id",
        "object-id",
        "integer",
        "float",
        "boolean",
        "array",
        "object",
        "empty",
        "unstorable-text",
        "too-long",
        "absent",
    ],
)
def test_parse_envelope_crawl_id(document: dict[str, Any], crawl_id: str | None) -> None:
    envelope, _ = envelope_of(document)

    assert envelope.ids.crawl_id == crawl_id


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("crawl.page", "crawl.page"),
        (5, "5"),
        (False, None),
        (None, None),
        ({}, None),
        ("x" * MAX_ID_CHARS, "x" * MAX_ID_CHARS),
    ],
    ids=["string", "integer", "boolean", "null", "object", "max-length"],
)
def test_id_text_converts_value(value: object, text: str | None) -> None:
    assert id_text(value) == text


def test_parse_envelope_webhook_id_key() -> None:
    envelope, _ = envelope_of({"id": "job-1", "type": "crawl.page", "webhookId": "wh-1"})

    assert envelope.ids.webhook_id == "wh-1"
    assert envelope.dedupe_key == "webhook:wh-1"


def test_parse_envelope_natural_key_prefers_scrape_id() -> None:
    page = {"metadata": {"scrapeId": "scrape-1", "sourceURL": "https://acme.example/a"}}

    envelope, _ = envelope_of({"id": "job-1", "type": "crawl.page", "data": [page]})

    assert envelope.dedupe_key == natural_key("job-1", "crawl.page", "scrape-1")


def test_parse_envelope_natural_key_uses_source_url() -> None:
    page = {"metadata": {"sourceURL": "https://acme.example/a"}}

    envelope, _ = envelope_of({"id": "job-1", "type": "crawl.page", "data": [page]})

    assert envelope.dedupe_key == natural_key("job-1", "crawl.page", "https://acme.example/a")


def test_natural_key_ignores_other_fields() -> None:
    page = {"markdown": "# A", "metadata": {"sourceURL": "https://acme.example/a"}}
    first, _ = envelope_of({"id": "job-1", "type": "crawl.page", "data": [page]})
    again, _ = envelope_of(
        {"type": "crawl.page", "success": True, "id": "job-1", "data": [page], "extra": 1}
    )

    assert first.dedupe_key == again.dedupe_key


def test_natural_key_differs_by_event_type() -> None:
    page = {"metadata": {"sourceURL": "https://acme.example/a"}}
    page_event, _ = envelope_of({"id": "job-1", "type": "crawl.page", "data": [page]})
    batch_event, _ = envelope_of({"id": "job-1", "type": "batch_scrape.page", "data": [page]})

    assert page_event.dedupe_key != batch_event.dedupe_key


@pytest.mark.parametrize(
    "document",
    [
        {"id": "job-1", "type": "crawl.started", "data": []},
        {"id": "job-1", "type": "crawl.page", "data": "x"},
        {"id": "job-1", "type": "crawl.page", "data": ["x"]},
        {"id": "job-1", "type": "crawl.page", "data": [{"metadata": []}]},
        {"id": "job-1", "type": "crawl.page", "data": [{"metadata": {"sourceURL": 5}}]},
        {"id": "job-1", "type": "crawl.page", "webhookId": {}},
    ],
    ids=[
        "started-without-data",
        "data-string",
        "data-item-string",
        "metadata-array",
        "source-url-number",
        "webhook-id-object",
    ],
)
def test_parse_envelope_body_hash_key(document: dict[str, Any]) -> None:
    envelope, sha256_hex = envelope_of(document)

    assert envelope.dedupe_key == sha256_hex


def test_parse_envelope_wrong_types_still_parse() -> None:
    document = {"type": 5, "data": "x", "metadata": [], "webhookId": {}, "id": "job-1"}

    envelope, _ = envelope_of(document)

    assert envelope.ids.event_type == "5"
    assert envelope.ids.webhook_id is None
    assert envelope.ids.crawl_id == "job-1"
    assert json.loads(envelope.payload_json) == document


def test_parse_envelope_strips_nul_characters() -> None:
    raw = b'{"id":"job-1","data":[{"markdown":"Total:\\u0000 42","k\\u0000ey":"v"}]}'

    envelope = parse_envelope(raw, body_sha256(raw))

    assert json.loads(envelope.payload_json) == {
        "id": "job-1",
        "data": [{"markdown": "Total: 42", "key": "v"}],
    }


def test_parse_envelope_strips_lone_surrogates() -> None:
    raw = b'{"id":"job-1","markdown":"a\\ud800b\\udfffc","\\udc00key":1}'

    envelope = parse_envelope(raw, body_sha256(raw))

    assert json.loads(envelope.payload_json) == {"id": "job-1", "markdown": "abc", "key": 1}


def test_parse_envelope_keeps_surrogate_pairs() -> None:
    raw = b'{"markdown":"smile \\ud83d\\ude00"}'

    envelope = parse_envelope(raw, body_sha256(raw))

    assert json.loads(envelope.payload_json) == {"markdown": "smile \U0001f600"}


def test_peek_ids_reads_valid_body() -> None:
    raw = b'{"id":"job-1","type":"crawl.page","webhookId":"wh-1"}'

    ids = peek_ids(raw)

    assert (ids.crawl_id, ids.event_type, ids.webhook_id) == ("job-1", "crawl.page", "wh-1")


@pytest.mark.parametrize("raw", [b"not json", b"[]", b"\xff"], ids=["text", "array", "binary"])
def test_peek_ids_invalid_body_gives_none(raw: bytes) -> None:
    ids = peek_ids(raw)

    assert (ids.crawl_id, ids.event_type, ids.webhook_id) == (None, None, None)


def test_peek_ids_skips_large_body() -> None:
    raw = b'{"id":"job-1","pad":"' + b"x" * MAX_PEEK_BYTES + b'"}'

    assert peek_ids(raw).crawl_id is None
