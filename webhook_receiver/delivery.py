"""Handling of one webhook delivery: verify the signature, parse the body, stage it.

This is the synchronous core of `POST /webhooks/firecrawl`. The route runs it in a worker
thread, so HMAC, JSON parsing and the database round trips stay off the event loop.
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
from webhook_receiver.staging import StagingRow, StagingStatus, stage_delivery
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
    """Verify, parse and stage one delivery.

    With `webhook_secret` None, signatures are not checked and `signature_header` is
    ignored. Unsigned or wrongly signed bodies are never stored. A signed body that does
    not parse is stored as rejected. Database errors become an UNAVAILABLE result.
    `known_crawls` lets `stage_delivery` skip session inserts for crawls it has seen.
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
        row = StagingRow(
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
        return _stage(engine, row, known_crawls)

    kind = classify_event_type(envelope.ids.event_type)
    row = StagingRow(
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
    return _stage(engine, row, known_crawls)


def _stage(engine: Engine, row: StagingRow, known_crawls: KnownCrawls | None) -> DeliveryResult:
    try:
        staged = stage_delivery(engine, row, known_crawls)
    except SQLAlchemyError as error:
        return DeliveryResult(
            outcome=Outcome.UNAVAILABLE,
            status_code=503,
            ids=row.ids,
            detail=(
                f"warehouse unavailable ({error.__class__.__name__}), "
                f"retry in {RETRY_AFTER_S} seconds"
            ),
            reason=f"warehouse {error.__class__.__name__}: {database_error_summary(error)}",
        )

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
