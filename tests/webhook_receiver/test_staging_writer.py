"""StagingWriter: group commit of the deliveries that wait while a write runs, on the real
warehouse."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence

import anyio
import pytest
from receiver_support import staged_rows
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from warehouse_sql.connection import create_warehouse_engine
from webhook_receiver.envelope import DeliveryIds, body_sha256
from webhook_receiver.staging import StagingResult, StagingRow, StagingStatus, stage_deliveries
from webhook_receiver.staging_writer import StagingWriter

# Nothing listens on the discard port of 127.0.0.1, so connecting fails at once.
UNREACHABLE_URL = "postgresql+psycopg2://pulse@127.0.0.1:9/pulse"


def page_row(number: int, markdown_bytes: int = 0) -> StagingRow:
    raw_body = json.dumps({"id": "job-1", "n": number, "markdown": "x" * markdown_bytes}).encode()
    return StagingRow(
        raw_body=raw_body,
        body_sha256=body_sha256(raw_body),
        payload_json=raw_body.decode(),
        ids=DeliveryIds(crawl_id="job-1", event_type="crawl.page", webhook_id=f"wh-{number}"),
        dedupe_key=f"webhook:wh-{number}",
        signature_verified=True,
        status=StagingStatus.ACCEPTED,
        parse_error=None,
        opens_crawl_session=True,
    )


class RecordingWrite:
    """Stores batches with `stage_deliveries` and records the size of each."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.batch_sizes: list[int] = []

    def __call__(self, rows: Sequence[StagingRow]) -> list[StagingResult]:
        self.batch_sizes.append(len(rows))
        return stage_deliveries(self.engine, rows)


async def stage_all(writer: StagingWriter, rows: list[StagingRow]) -> list[StagingResult]:
    return list(await asyncio.gather(*(writer.stage(row) for row in rows)))


def test_staging_writer_lone_row(engine: Engine) -> None:
    write = RecordingWrite(engine)
    writer = StagingWriter(write, writers=2, limiter=anyio.CapacityLimiter(2))

    result = asyncio.run(writer.stage(page_row(1)))

    assert result.inserted is True
    assert write.batch_sizes == [1]
    assert [row["id"] for row in staged_rows(engine)] == [result.delivery_id]


def test_staging_writer_batches_waiting_rows(engine: Engine) -> None:
    write = RecordingWrite(engine)
    writer = StagingWriter(write, writers=1, limiter=anyio.CapacityLimiter(1))
    rows = [page_row(number) for number in range(50)]

    results = asyncio.run(stage_all(writer, rows))

    assert [result.row for result in results] == rows
    assert all(result.inserted for result in results)
    assert sum(write.batch_sizes) == 50
    assert len(write.batch_sizes) < 50
    stored = {row["dedupe_key"]: row["id"] for row in staged_rows(engine)}
    assert [result.delivery_id for result in results] == [stored[row.dedupe_key] for row in rows]


def test_staging_writer_bounds_batch_rows(engine: Engine) -> None:
    write = RecordingWrite(engine)
    writer = StagingWriter(write, writers=1, limiter=anyio.CapacityLimiter(1), max_rows=4)

    asyncio.run(stage_all(writer, [page_row(number) for number in range(20)]))

    assert sum(write.batch_sizes) == 20
    assert max(write.batch_sizes) == 4


def test_staging_writer_bounds_batch_bytes(engine: Engine) -> None:
    write = RecordingWrite(engine)
    rows = [page_row(number, markdown_bytes=1000) for number in range(6)]
    big = page_row(99, markdown_bytes=5000)
    max_bytes = 2 * len(rows[0].raw_body) + 10
    writer = StagingWriter(write, writers=1, limiter=anyio.CapacityLimiter(1), max_bytes=max_bytes)

    asyncio.run(stage_all(writer, [*rows, big]))

    assert sum(write.batch_sizes) == 7
    assert max(write.batch_sizes) == 2
    assert write.batch_sizes[-1] == 1  # the body over the bound is written alone
    assert len(staged_rows(engine)) == 7


def test_staging_writer_error_then_recovery(engine: Engine) -> None:
    unreachable = create_warehouse_engine(UNREACHABLE_URL)
    targets = [unreachable, engine]

    def write(rows: Sequence[StagingRow]) -> list[StagingResult]:
        return stage_deliveries(targets.pop(0), rows)

    writer = StagingWriter(write, writers=1, limiter=anyio.CapacityLimiter(1), max_rows=3)

    async def scenario() -> tuple[list[object], StagingResult]:
        failed = await asyncio.gather(
            *(writer.stage(page_row(number)) for number in range(3)), return_exceptions=True
        )
        return failed, await writer.stage(page_row(3))

    try:
        failed, stored = asyncio.run(scenario())
    finally:
        unreachable.dispose()

    assert all(isinstance(error, OperationalError) for error in failed)
    assert stored.inserted is True
    assert [row["dedupe_key"] for row in staged_rows(engine)] == ["webhook:wh-3"]


def test_staging_writer_cancelled_wait_stored(engine: Engine) -> None:
    write = RecordingWrite(engine)
    writer = StagingWriter(write, writers=1, limiter=anyio.CapacityLimiter(1))

    async def scenario() -> None:
        first = asyncio.ensure_future(writer.stage(page_row(1)))
        second = asyncio.ensure_future(writer.stage(page_row(2)))
        await asyncio.sleep(0)
        second.cancel()
        await first
        with pytest.raises(asyncio.CancelledError):
            await second
        await writer.wait_written()

    asyncio.run(scenario())

    assert sorted(row["dedupe_key"] for row in staged_rows(engine)) == [
        "webhook:wh-1",
        "webhook:wh-2",
    ]


def test_staging_writer_wrong_result_count() -> None:
    writer = StagingWriter(lambda rows: [], writers=1, limiter=anyio.CapacityLimiter(1))

    with pytest.raises(RuntimeError, match="returned 0 results for 1 rows"):
        asyncio.run(writer.stage(page_row(1)))


def test_staging_writer_needs_a_writer() -> None:
    with pytest.raises(ValueError, match="writers must be at least 1, got 0"):
        StagingWriter(lambda rows: [], writers=0, limiter=anyio.CapacityLimiter(1))
