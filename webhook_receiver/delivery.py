"""Handling of one webhook delivery: verify the signature, parse the body, stage it.

These are the synchronous steps of `POST /webhooks/firecrawl`. The route runs
`prepare_delivery` on the event loop for small bodies and in a worker thread for large ones.
It then stages the row through a `StagingWriter`, which commits concurrent deliveries together.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from webhook_receiver.envelope import (
    DeliveryIds,
    EnvelopeError,
    body_sha256,
    parse_envelope,
    peek_ids,
    rejected_dedupe_key,
)
from webhook_receiver.event_types import EventKind, classify_event_type, unknown_event_detail
from webhook_receiver.known_crawls import KnownCrawls
from webhook_receiver.signature import SignatureError, verify_signature
from webhook_receiver.staging import StagingResult, StagingRow, StagingStatus, stage_delivery
from webhook_receiver.warehouse import database_error_summary

NO_IDS = DeliveryIds(crawl_id=None, event_type=None, webhook_id=None)

# Seconds a client is asked to wait before retrying while the warehouse is unavailable.
RETRY_AFTER_S = 30


class Outcome(StrEnum):
    """Outcome of a delivery, as logged: stored, duplicate, rejected or unavailable."""

    STORED = "stored"
    DUPLICATE = "duplicate"
    REJECTED = "rejected"
    UNAVAILABLE = "unavailable"


@dataclass(frozen=True)
class DeliveryResult:
    """The outcome of one delivery and the HTTP status it maps to.

    `detail` is the client-facing error message. `reason` is a short fixed label for logs
    and for rate limiting repeated failures.
    """

    outcome: Outcome
    status_code: int
    ids: DeliveryIds = NO_IDS
    delivery_id: int | None = None
    dedupe_key: str | None = None
    detail: str | None = None
    reason: str | None = None


def receive_delivery(
    engine: Engine,
    webhook_secret: str | None,
    raw_body: bytes,
    signature_header: str | None,
    known_crawls: KnownCrawls | None = None,
) -> DeliveryResult:
    """Verify, parse and stage one delivery in its own transaction.

    The route does the same in two steps, `prepare_delivery` and a batched write. This form
    serves callers that store one delivery at a time. `known_crawls` lets `stage_delivery`
    skip session inserts for crawls it has seen.
    """
    prepared = prepare_delivery(webhook_secret, raw_body, signature_header)
    if isinstance(prepared, DeliveryResult):
        return prepared
    try:
        staged = stage_delivery(engine, prepared, known_crawls)
    except SQLAlchemyError as error:
        return unavailable_result(prepared, error)
    return staged_result(staged)


def prepare_delivery(
    webhook_secret: str | None, raw_body: bytes, signature_header: str | None
) -> StagingRow | DeliveryResult:
    """Verify and parse one delivery into the row to stage, or the result that rejects it.

    With `webhook_secret` None, signatures are not checked and `signature_header` is
    ignored. Unsigned or wrongly signed bodies get a 401 result and are never stored. A
    signed body that does not parse becomes a rejected row, which is stored.
    """
    sha256_hex = body_sha256(raw_body)

    if webhook_secret is not None:
        try:
            verify_signature(webhook_secret, raw_body, signature_header)
        except SignatureError as error:
            return DeliveryResult(
                outcome=Outcome.REJECTED,
                status_code=401,
                ids=peek_ids(raw_body),
                detail=error.detail,
                reason=f"signature {error.reason}",
            )
    signature_verified = webhook_secret is not None

    try:
        envelope = parse_envelope(raw_body, sha256_hex)
    except EnvelopeError as error:
        return StagingRow(
            raw_body=raw_body,
            body_sha256=sha256_hex,
            payload_json=None,
            ids=NO_IDS,
            dedupe_key=rejected_dedupe_key(sha256_hex),
            signature_verified=signature_verified,
            status=StagingStatus.REJECTED,
            parse_error=error.detail,
            opens_crawl_session=False,
        )

    kind = classify_event_type(envelope.ids.event_type)
    return StagingRow(
        raw_body=raw_body,
        body_sha256=sha256_hex,
        payload_json=envelope.payload_json,
        ids=envelope.ids,
        dedupe_key=envelope.dedupe_key,
        signature_verified=signature_verified,
        status=StagingStatus.ACCEPTED,
        parse_error=None,
        opens_crawl_session=kind is EventKind.PIPELINE,
    )


def unavailable_result(row: StagingRow, error: SQLAlchemyError) -> DeliveryResult:
    """Map a database error while staging `row` to a 503 with a Retry-After header."""
    return DeliveryResult(
        outcome=Outcome.UNAVAILABLE,
        status_code=503,
        ids=row.ids,
        detail=(
            f"warehouse unavailable ({error.__class__.__name__}), retry in {RETRY_AFTER_S} seconds"
        ),
        reason=f"warehouse {error.__class__.__name__}: {database_error_summary(error)}",
    )


def staged_result(staged: StagingResult) -> DeliveryResult:
    """Map the stored row of a delivery to its result: stored, duplicate or rejected."""
    written = staged.row
    if written.status is StagingStatus.REJECTED:
        return DeliveryResult(
            outcome=Outcome.REJECTED,
            status_code=400,
            ids=written.ids,
            delivery_id=staged.delivery_id,
            dedupe_key=written.dedupe_key,
            detail=written.parse_error,
            reason="invalid body",
        )

    # The response to a repeat carries the stored delivery's ids, because a reused webhookId
    # can make them differ from the ids in this body.
    ids = written.ids if staged.stored_ids is None else staged.stored_ids
    unknown = classify_event_type(ids.event_type) is EventKind.UNKNOWN
    return DeliveryResult(
        outcome=Outcome.STORED if staged.inserted else Outcome.DUPLICATE,
        status_code=202 if unknown else 200,
        ids=ids,
        delivery_id=staged.delivery_id,
        dedupe_key=written.dedupe_key,
        detail=unknown_event_detail(ids.event_type) if unknown else None,
    )
