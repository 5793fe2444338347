"""Parsing of a webhook body into the values that the staging table derives from it.

Firecrawl's v1 and v2 bodies name the job `id`, and v0 bodies name it `jobId`. Derived values
are best effort: a field of the wrong type becomes NULL (or its text for a number) rather than
failing the delivery, because the raw body is always kept and the pipeline reads from it.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from webhook_receiver.postgres_text import strip_unstorable_json, strip_unstorable_text

# Longer ids are stored as NULL: ids are indexed, and a B-tree entry above about 2.7 kB
# fails the insert. Firecrawl's ids are 36-character UUIDs.
MAX_ID_CHARS = 256

# Larger unauthenticated bodies are not parsed just to log their ids.
MAX_PEEK_BYTES = 1024 * 1024

# Python 3.11 converts at most 4300 digits to int by default (sys.get_int_max_str_digits()).
MAX_INT_DIGITS = 4300

_JSON_TYPE_NAMES: dict[type, str] = {
    dict: "object",
    list: "array",
    str: "string",
    int: "number",
    float: "number",
    bool: "boolean",
    type(None): "null",
}


class EnvelopeError(ValueError):
    """Raised when the body is not a UTF-8 JSON object. `detail` is the message for the client."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


@dataclass(frozen=True)
class DeliveryIds:
    """The identifying fields of a delivery, cleaned and capped for storage and logs."""

    crawl_id: str | None
    event_type: str | None
    webhook_id: str | None


@dataclass(frozen=True)
class Envelope:
    """A parsed delivery: its cleaned payload as JSON text, ids and deduplication key."""

    payload_json: str
    ids: DeliveryIds
    dedupe_key: str


def body_sha256(raw_body: bytes) -> str:
    return hashlib.sha256(raw_body).hexdigest()


def json_depth(value: object) -> int:
    """Return how deeply arrays and objects nest in a parsed JSON value: 0 for a scalar."""
    deepest = 0
    pending: list[tuple[object, int]] = [(value, 1)]
    while pending:
        current, depth = pending.pop()
        if isinstance(current, dict):
            children: Iterable[object] = current.values()
        elif isinstance(current, list):
            children = current
        else:
            continue
        deepest = max(deepest, depth)
        pending.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return deepest


# Deepest nesting of arrays and objects accepted in a body. Without a limit of its own, the
# deepest body that parsed depended on the depth of the calling stack, so it differed between
# bodies parsed on the event loop and in a worker thread.
MAX_JSON_DEPTH = 256

# The same text whether the parser or the depth check found the nesting, because which one
# does depends on the depth of the calling stack.
TOO_DEEP_DETAIL = f"JSON nesting is deeper than the limit of {MAX_JSON_DEPTH} levels"


def rejected_dedupe_key(sha256_hex: str) -> str:
    """Return the deduplication key of a body that is stored as rejected."""
    return f"rejected:{sha256_hex}"


def parse_envelope(raw_body: bytes, sha256_hex: str) -> Envelope:
    """Parse `raw_body` and derive the staging columns, or raise EnvelopeError if invalid."""
    document = parse_json_object(raw_body)
    try:
        payload = strip_unstorable_json(document)
        payload_json = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    except RecursionError as error:
        raise EnvelopeError(TOO_DEEP_DETAIL) from error

    ids = extract_ids(payload)
    return Envelope(
        payload_json=payload_json,
        ids=ids,
        dedupe_key=dedupe_key(ids, first_page_key(payload), sha256_hex),
    )


def parse_json_object(raw_body: bytes) -> dict[str, Any]:
    """Decode `raw_body` as UTF-8 JSON and raise EnvelopeError unless it is an object."""
    try:
        text = raw_body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise EnvelopeError(
            f"body is not valid UTF-8: invalid byte at position {error.start}"
        ) from error

    if not text.strip():
        raise EnvelopeError("body is empty: send the webhook event as a JSON object")
    try:
        document = json.loads(
            text, parse_int=_parse_int, parse_float=_parse_float, parse_constant=_reject_constant
        )
    except json.JSONDecodeError as error:
        # Some of json's messages, such as "Invalid control character at", expect a position.
        message = error.msg.removesuffix(" at")
        raise EnvelopeError(
            f"invalid JSON at line {error.lineno} column {error.colno}: {message}"
        ) from error
    except ValueError as error:
        raise EnvelopeError(f"invalid JSON: {error}") from error
    except RecursionError as error:
        raise EnvelopeError(TOO_DEEP_DETAIL) from error

    if json_depth(document) > MAX_JSON_DEPTH:
        raise EnvelopeError(TOO_DEEP_DETAIL)

    if not isinstance(document, dict):
        type_name = _JSON_TYPE_NAMES.get(type(document), type(document).__name__)
        raise EnvelopeError(f"body must be a JSON object, got {type_name}")
    return document


def extract_ids(payload: dict[str, Any]) -> DeliveryIds:
    crawl_id = id_text(payload.get("id"))
    if crawl_id is None:
        crawl_id = id_text(payload.get("jobId"))
    return DeliveryIds(
        crawl_id=crawl_id,
        event_type=id_text(payload.get("type")),
        webhook_id=id_text(payload.get("webhookId")),
    )


def peek_ids(raw_body: bytes) -> DeliveryIds:
    """Return the ids of a body for logging, or all None when it does not parse.

    Bodies over MAX_PEEK_BYTES are not parsed, and their ids are all None.
    """
    if len(raw_body) > MAX_PEEK_BYTES:
        return DeliveryIds(crawl_id=None, event_type=None, webhook_id=None)
    try:
        return extract_ids(strip_unstorable_json(parse_json_object(raw_body)))
    except (EnvelopeError, RecursionError):
        return DeliveryIds(crawl_id=None, event_type=None, webhook_id=None)


def id_text(value: object) -> str | None:
    """Return an id field as storable text: strings cleaned, numbers as text, else None.

    Empty strings and strings longer than MAX_ID_CHARS become None.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return str(value)
    if not isinstance(value, str):
        return None
    text = strip_unstorable_text(value)
    if not text or len(text) > MAX_ID_CHARS:
        return None
    return text


def first_page_key(payload: dict[str, Any]) -> str | None:
    """Return the first data item's `metadata.scrapeId`, else its `metadata.sourceURL`."""
    data = payload.get("data")
    if not isinstance(data, list) or not data or not isinstance(data[0], dict):
        return None
    metadata = data[0].get("metadata")
    if not isinstance(metadata, dict):
        return None
    for field in ("scrapeId", "sourceURL"):
        value = metadata.get(field)
        if isinstance(value, str) and value:
            return value
    return None


def dedupe_key(ids: DeliveryIds, page_key: str | None, sha256_hex: str) -> str:
    """Return the staging deduplication key of a parsed delivery.

    Firecrawl's `webhookId` identifies one delivery across retries, so it is the key when
    present. Otherwise a page event is keyed by crawl id, type and page, and any other body
    by its SHA-256, which is then the whole key.
    """
    if ids.webhook_id is not None:
        return f"webhook:{ids.webhook_id}"
    if page_key is not None:
        natural = json.dumps([ids.crawl_id, ids.event_type, page_key], ensure_ascii=False)
        return f"natural:{hashlib.sha256(natural.encode('utf-8')).hexdigest()}"
    return sha256_hex


def _parse_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise ValueError(f"integer has more than {MAX_INT_DIGITS} digits")
    return int(text)


def _parse_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError("number is out of the range of a 64-bit float")
    return value


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON value")
