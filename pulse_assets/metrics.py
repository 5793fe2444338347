"""Timing rows for `webhook.operation_metrics`, collected in memory and written in batches."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, text

FLUSH_EVERY_ROWS = 500

# Metric rows reference crawl_sessions, so the session row must exist before the first of them.
ENSURE_SESSION = text(
    "INSERT INTO webhook.crawl_sessions (crawl_id) VALUES (:crawl_id) ON CONFLICT DO NOTHING"
)

INSERT_METRICS = text(
    """
    INSERT INTO webhook.operation_metrics (
        timestamp, crawl_id, operation_type, operation_name, duration_ms, success,
        error_message, document_url, run_id, extra_metadata
    ) VALUES (
        :timestamp, :crawl_id, :operation_type, :operation_name, :duration_ms, :success,
        :error_message, :document_url, :run_id, CAST(:extra_metadata AS jsonb)
    )
    """
)


@dataclass
class TimedOperation:
    """An operation being timed; the body may add metadata or mark it failed."""

    metadata: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    def fail(self, error: str) -> None:
        self.error = error


class MetricsRecorder:
    """Buffer operation_metrics rows of one crawl and run, and insert them many at a time.

    `enabled=False` keeps the timing calls but writes nothing, for measuring what the
    instrumentation itself costs.
    """

    def __init__(self, engine: Engine, crawl_id: str, run_id: str | None, enabled: bool = True):
        self._engine = engine
        self._crawl_id = crawl_id
        self._run_id = run_id
        self._enabled = enabled
        self._rows: list[dict[str, Any]] = []
        self.totals_ms: dict[str, float] = {}

    @contextmanager
    def timed(
        self, operation_type: str, operation_name: str, document_url: str | None = None
    ) -> Iterator[TimedOperation]:
        """Time the body; an exception is recorded as a failed row and raised again."""
        operation = TimedOperation()
        started = time.perf_counter()
        try:
            yield operation
        except Exception as error:
            operation.fail(f"{type(error).__name__}: {error}")
            raise
        finally:
            elapsed_ms = (time.perf_counter() - started) * 1000
            self.record(
                operation_type,
                operation_name,
                elapsed_ms,
                success=operation.error is None,
                error_message=operation.error,
                document_url=document_url,
                metadata=operation.metadata,
            )

    def record(
        self,
        operation_type: str,
        operation_name: str,
        duration_ms: float,
        *,
        success: bool = True,
        error_message: str | None = None,
        document_url: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        self.totals_ms[operation_type] = self.totals_ms.get(operation_type, 0.0) + duration_ms
        if not self._enabled:
            return
        self._rows.append(
            {
                "timestamp": datetime.now(UTC),
                "crawl_id": self._crawl_id,
                "operation_type": operation_type,
                "operation_name": operation_name,
                "duration_ms": round(duration_ms, 2),
                "success": success,
                "error_message": error_message,
                "document_url": document_url,
                "run_id": self._run_id,
                "extra_metadata": json.dumps(metadata or {}),
            }
        )
        if len(self._rows) >= FLUSH_EVERY_ROWS:
            self.flush()

    def flush(self) -> int:
        """Insert the buffered rows in one transaction and return how many were written."""
        if not self._rows:
            return 0
        rows, self._rows = self._rows, []
        with self._engine.begin() as connection:
            connection.execute(ENSURE_SESSION, {"crawl_id": self._crawl_id})
            connection.execute(INSERT_METRICS, rows)
        return len(rows)
