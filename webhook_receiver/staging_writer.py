"""Group commit: deliveries that arrive while a write runs are committed together.

Each request waits until the transaction that contains its row has committed, so a 2xx still
means the delivery is stored. A write takes every row that is waiting, up to a bound, so a
lone delivery is written at once, and under load one commit serves many deliveries instead of
each paying its own round trips and WAL flush.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import anyio

from webhook_receiver.staging import StagingResult, StagingRow

__all__ = ["MAX_BATCH_BYTES", "MAX_BATCH_ROWS", "StagingWriter", "WriteBatch"]

# Bounds on one transaction. A body larger than MAX_BATCH_BYTES is written alone.
MAX_BATCH_ROWS = 64
MAX_BATCH_BYTES = 4 * 1024 * 1024

WriteBatch = Callable[[Sequence[StagingRow]], list[StagingResult]]


@dataclass(frozen=True)
class _Waiting:
    row: StagingRow
    done: asyncio.Future[StagingResult]


class StagingWriter:
    """Writes staging rows in batches from at most `writers` worker threads at once.

    `write` stores a batch and returns one result per row, in order, or raises. Its error
    then reaches every request of the batch. The threads come from `limiter`, which the
    receiver shares with its other blocking work.
    """

    def __init__(
        self,
        write: WriteBatch,
        writers: int,
        limiter: anyio.CapacityLimiter,
        max_rows: int = MAX_BATCH_ROWS,
        max_bytes: int = MAX_BATCH_BYTES,
    ) -> None:
        if writers < 1:
            raise ValueError(f"writers must be at least 1, got {writers}")
        self._write = write
        self._writers = writers
        self._limiter = limiter
        self._max_rows = max_rows
        self._max_bytes = max_bytes
        self._waiting: deque[_Waiting] = deque()
        self._running = 0
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def writers(self) -> int:
        """Most batches written at once."""
        return self._writers

    async def stage(self, row: StagingRow) -> StagingResult:
        """Return the result of `row` once the transaction that contains it has committed."""
        loop = asyncio.get_running_loop()
        waiting = _Waiting(row, loop.create_future())
        self._waiting.append(waiting)
        if self._running < self._writers:
            self._running += 1
            task = loop.create_task(self._drain())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        # A cancelled request cancels only its own wait: its row is still written.
        return await waiting.done

    async def wait_written(self) -> None:
        """Return once every row handed to `stage` so far is written or has failed, including
        the rows of requests that were cancelled."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _drain(self) -> None:
        try:
            while self._waiting:
                batch = self._take_batch()
                try:
                    results = await anyio.to_thread.run_sync(
                        self._write, [waiting.row for waiting in batch], limiter=self._limiter
                    )
                    if len(results) != len(batch):
                        raise RuntimeError(
                            f"the staging write returned {len(results)} results for "
                            f"{len(batch)} rows"
                        )
                except Exception as error:
                    for waiting in batch:
                        if not waiting.done.done():
                            waiting.done.set_exception(error)
                    continue
                except BaseException:
                    for waiting in batch:
                        waiting.done.cancel()
                    raise
                for waiting, result in zip(batch, results, strict=True):
                    if not waiting.done.done():
                        waiting.done.set_result(result)
        finally:
            self._running -= 1

    def _take_batch(self) -> list[_Waiting]:
        batch = [self._waiting.popleft()]
        size = len(batch[0].row.raw_body)
        while self._waiting and len(batch) < self._max_rows:
            size += len(self._waiting[0].row.raw_body)
            if size > self._max_bytes:
                break
            batch.append(self._waiting.popleft())
        return batch
