"""The durable insert of deliveries into `webhook.staged_deliveries`.

Each delivery is committed before the receiver responds, so a 2xx means the body is stored.
The unique `dedupe_key` with `ON CONFLICT DO NOTHING` makes redeliveries and concurrent
retries of one delivery store a single row.

`stage_deliveries` commits several deliveries with one statement and one commit.
`stage_delivery` stores one delivery with the same statement, and stores it as rejected when
PostgreSQL rejects its payload. It is the fallback for each row of a batch that failed so.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import StrEnum

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DataError, SQLAlchemyError

from webhook_receiver.envelope import DeliveryIds, rejected_dedupe_key
from webhook_receiver.known_crawls import KnownCrawls
from webhook_receiver.warehouse import database_error_summary, set_statement_timeout

log = logging.getLogger(__name__)

# One statement for a whole batch: each parameter is an array with one element per delivery.
_INSERT_DELIVERIES = text(
    """
    INSERT INTO webhook.staged_deliveries (
        raw_body, body_sha256, payload, crawl_id, event_type, webhook_id, dedupe_key,
        signature_verified, status, parse_error
    )
    SELECT * FROM unnest(
        CAST(:raw_bodies AS bytea[]), CAST(:body_sha256s AS text[]), CAST(:payloads AS jsonb[]),
        CAST(:crawl_ids AS text[]), CAST(:event_types AS text[]), CAST(:webhook_ids AS text[]),
        CAST(:dedupe_keys AS text[]), CAST(:signatures_verified AS boolean[]),
        CAST(:statuses AS text[]), CAST(:parse_errors AS text[])
    )
    ON CONFLICT (dedupe_key) DO NOTHING
    RETURNING id, dedupe_key
    """
)

_SELECT_DELIVERIES = text(
    """
    SELECT id, dedupe_key, crawl_id, event_type, webhook_id FROM webhook.staged_deliveries
    WHERE dedupe_key = ANY(CAST(:dedupe_keys AS text[]))
    """
)

_INSERT_CRAWL_SESSIONS = text(
    """
    INSERT INTO webhook.crawl_sessions (crawl_id)
    SELECT unnest(CAST(:crawl_ids AS text[]))
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
        [result] = _insert_deliveries(engine, [row], known_crawls)
        return result
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
        [result] = _insert_deliveries(engine, [fallback], known_crawls)
        return result


def stage_deliveries(
    engine: Engine, rows: Sequence[StagingRow], known_crawls: KnownCrawls | None = None
) -> list[StagingResult]:
    """Insert `rows` in one transaction, commit, and return one result per row, in order.

    A row whose deduplication key is already stored, or appears earlier in `rows`, inserts
    nothing and gets the stored row's ids. If PostgreSQL rejects a value of any row (a
    DataError), the batch rolls back and each row is staged alone by `stage_delivery`, which
    stores a rejected payload as rejected. Other database errors propagate, and then none of
    the rows is stored.
    """
    if not rows:
        return []
    try:
        return _insert_deliveries(engine, rows, known_crawls)
    except DataError as error:
        log.info(
            "PostgreSQL rejected a value in a batch of %d deliveries, staging them one by one: %s",
            len(rows),
            database_error_summary(error),
        )
        return [stage_delivery(engine, row, known_crawls) for row in rows]


def _insert_deliveries(
    engine: Engine, rows: Sequence[StagingRow], known_crawls: KnownCrawls | None
) -> list[StagingResult]:
    # Rows go in in key order, so that batches that share keys lock them in the same order.
    ordered = sorted(rows, key=lambda row: row.dedupe_key)
    with engine.begin() as connection:
        set_statement_timeout(connection)
        inserted = connection.execute(
            _INSERT_DELIVERIES,
            {
                "raw_bodies": [row.raw_body for row in ordered],
                "body_sha256s": [row.body_sha256 for row in ordered],
                "payloads": [row.payload_json for row in ordered],
                "crawl_ids": [row.ids.crawl_id for row in ordered],
                "event_types": [row.ids.event_type for row in ordered],
                "webhook_ids": [row.ids.webhook_id for row in ordered],
                "dedupe_keys": [row.dedupe_key for row in ordered],
                "signatures_verified": [row.signature_verified for row in ordered],
                "statuses": [row.status.value for row in ordered],
                "parse_errors": [row.parse_error for row in ordered],
            },
        ).all()
        new_ids = {found.dedupe_key: found.id for found in inserted}

        # The first row with a new key inserted it; the others repeat a stored delivery.
        results: list[StagingResult | None] = [None] * len(rows)
        repeats: list[int] = []
        for index, row in enumerate(rows):
            delivery_id = new_ids.pop(row.dedupe_key, None)
            if delivery_id is None:
                repeats.append(index)
            else:
                results[index] = StagingResult(delivery_id=delivery_id, inserted=True, row=row)
        if repeats:
            keys = sorted({rows[index].dedupe_key for index in repeats})
            stored = {
                found.dedupe_key: found
                for found in connection.execute(_SELECT_DELIVERIES, {"dedupe_keys": keys})
            }
            for index in repeats:
                row = rows[index]
                existing = stored.get(row.dedupe_key)
                if existing is None:
                    results[index] = StagingResult(delivery_id=None, inserted=False, row=row)
                    continue
                stored_ids = DeliveryIds(
                    existing.crawl_id, existing.event_type, existing.webhook_id
                )
                results[index] = StagingResult(
                    existing.id, inserted=False, row=row, stored_ids=stored_ids
                )

        session_crawl_ids = {
            row.ids.crawl_id
            for row, result in zip(rows, results, strict=True)
            if row.opens_crawl_session
            and row.ids.crawl_id is not None
            and result is not None
            and result.inserted
            and (known_crawls is None or row.ids.crawl_id not in known_crawls)
        }
        sessions_ensured = bool(session_crawl_ids) and _open_crawl_sessions(
            connection, list(session_crawl_ids)
        )
    if sessions_ensured and known_crawls is not None:
        for crawl_id in session_crawl_ids:
            known_crawls.add(crawl_id)
    complete = [result for result in results if result is not None]
    if len(complete) != len(rows):
        raise RuntimeError(f"staged {len(complete)} of {len(rows)} rows without a result")
    return complete


def _open_crawl_sessions(connection: Connection, crawl_ids: Sequence[str]) -> bool:
    """Create the crawls' session rows that are missing, inside a savepoint.

    A failure here rolls back only the savepoint, so the delivery rows still commit. Returns
    whether the rows now exist. The ids go in sorted order, so two transactions that insert
    the same crawls wait for each other instead of deadlocking.
    """
    try:
        with connection.begin_nested():
            connection.execute(_INSERT_CRAWL_SESSIONS, {"crawl_ids": sorted(crawl_ids)})
    except SQLAlchemyError as error:
        log.warning(
            "Failed to create the crawl_sessions rows for crawl_id=%s, keeping the deliveries: %s",
            ",".join(repr(crawl_id) for crawl_id in sorted(crawl_ids)),
            error.__class__.__name__,
        )
        return False
    return True
