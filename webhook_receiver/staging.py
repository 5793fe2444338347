"""The durable insert of one delivery into `webhook.staged_deliveries`.

Each delivery is committed before the receiver responds, so a 2xx means the body is stored.
The unique `dedupe_key` with `ON CONFLICT DO NOTHING` makes redeliveries and concurrent
retries of one delivery store a single row.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from enum import StrEnum

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DataError, SQLAlchemyError

from webhook_receiver.envelope import DeliveryIds, rejected_dedupe_key
from webhook_receiver.known_crawls import KnownCrawls
from webhook_receiver.warehouse import database_error_summary, set_statement_timeout

log = logging.getLogger(__name__)

_INSERT_DELIVERY = text(
    """
    INSERT INTO webhook.staged_deliveries (
        raw_body, body_sha256, payload, crawl_id, event_type, webhook_id, dedupe_key,
        signature_verified, status, parse_error
    )
    VALUES (
        :raw_body, :body_sha256, CAST(:payload AS jsonb), :crawl_id, :event_type, :webhook_id,
        :dedupe_key, :signature_verified, :status, :parse_error
    )
    ON CONFLICT (dedupe_key) DO NOTHING
    RETURNING id
    """
)

_SELECT_DELIVERY = text(
    """
    SELECT id, crawl_id, event_type, webhook_id FROM webhook.staged_deliveries
    WHERE dedupe_key = :dedupe_key
    """
)

_INSERT_CRAWL_SESSION = text(
    """
    INSERT INTO webhook.crawl_sessions (crawl_id) VALUES (:crawl_id)
    ON CONFLICT (crawl_id) DO NOTHING
    """
)


class StagingStatus(StrEnum):
    """Values of `webhook.staged_deliveries.status`."""

    ACCEPTED = "accepted"
    REJECTED = "rejected"


@dataclass(frozen=True)
class StagingRow:
    """One `webhook.staged_deliveries` row to insert, and whether it opens a crawl session."""

    raw_body: bytes
    body_sha256: str
    payload_json: str | None
    ids: DeliveryIds
    dedupe_key: str
    signature_verified: bool
    status: StagingStatus
    parse_error: str | None
    opens_crawl_session: bool


@dataclass(frozen=True)
class StagingResult:
    """The staging id of a delivery and whether this call inserted it.

    `row` is the row as written, which differs from the requested one when PostgreSQL
    rejected the payload. `delivery_id` is None only if a conflicting row vanished between
    the insert and the lookup. `stored_ids` are the ids of the row already stored under the
    deduplication key when this call inserted nothing, which can differ from the request's.
    """

    delivery_id: int | None
    inserted: bool
    row: StagingRow
    stored_ids: DeliveryIds | None = None


def stage_delivery(
    engine: Engine, row: StagingRow, known_crawls: KnownCrawls | None = None
) -> StagingResult:
    """Insert `row` and commit, or find the row that already has its deduplication key.

    If PostgreSQL rejects the payload value (a DataError), the delivery is stored as
    rejected with the raw body and the error, so the raw insert still succeeds. Other
    database errors propagate. A crawl in `known_crawls` already has its session row, so its
    insert is skipped. A crawl whose row this call ensured is added after the commit.
    """
    try:
        return _insert_delivery(engine, row, known_crawls)
    except DataError as error:
        reason = database_error_summary(error)
        log.warning(
            "PostgreSQL rejected the payload of crawl_id=%r webhook_id=%r, storing it as "
            "rejected: %s",
            row.ids.crawl_id,
            row.ids.webhook_id,
            reason,
        )
        fallback = replace(
            row,
            payload_json=None,
            dedupe_key=rejected_dedupe_key(row.body_sha256),
            status=StagingStatus.REJECTED,
            parse_error=f"PostgreSQL rejected the payload: {reason}",
            opens_crawl_session=False,
        )
        return _insert_delivery(engine, fallback, known_crawls)


def _insert_delivery(
    engine: Engine, row: StagingRow, known_crawls: KnownCrawls | None
) -> StagingResult:
    # The crawl whose session row this delivery ensures, unless it is known to exist.
    session_crawl_id = row.ids.crawl_id if row.opens_crawl_session else None
    if known_crawls is not None and session_crawl_id in known_crawls:
        session_crawl_id = None
    session_ensured = False
    with engine.begin() as connection:
        set_statement_timeout(connection)
        delivery_id = connection.execute(
            _INSERT_DELIVERY,
            {
                "raw_body": row.raw_body,
                "body_sha256": row.body_sha256,
                "payload": row.payload_json,
                "crawl_id": row.ids.crawl_id,
                "event_type": row.ids.event_type,
                "webhook_id": row.ids.webhook_id,
                "dedupe_key": row.dedupe_key,
                "signature_verified": row.signature_verified,
                "status": row.status.value,
                "parse_error": row.parse_error,
            },
        ).scalar_one_or_none()

        if delivery_id is None:
            existing = connection.execute(
                _SELECT_DELIVERY, {"dedupe_key": row.dedupe_key}
            ).one_or_none()
            if existing is None:
                return StagingResult(delivery_id=None, inserted=False, row=row)
            stored_ids = DeliveryIds(existing.crawl_id, existing.event_type, existing.webhook_id)
            return StagingResult(existing.id, inserted=False, row=row, stored_ids=stored_ids)

        if session_crawl_id is not None:
            session_ensured = _open_crawl_session(connection, session_crawl_id)
    if session_ensured and known_crawls is not None and session_crawl_id is not None:
        known_crawls.add(session_crawl_id)
    return StagingResult(delivery_id=delivery_id, inserted=True, row=row)


def _open_crawl_session(connection: Connection, crawl_id: str) -> bool:
    """Create the crawl's session row if it is missing, inside a savepoint.

    A failure here rolls back only the savepoint, so the delivery row still commits. Returns
    whether the row now exists.
    """
    try:
        with connection.begin_nested():
            connection.execute(_INSERT_CRAWL_SESSION, {"crawl_id": crawl_id})
    except SQLAlchemyError as error:
        log.warning(
            "Failed to create the crawl_sessions row for crawl_id=%r, keeping the delivery: %s",
            crawl_id,
            error.__class__.__name__,
        )
        return False
    return True
