"""`pulse demo`: send a crawl's deliveries to the receiver and wait until the warehouse has it."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from dagster import DagsterInstance, DagsterRunStatus, RunsFilter
from sqlalchemy import Engine, text

from pulse_assets.assets.crawl_sessions import session_row
from pulse_assets.stack import Stack

log = logging.getLogger(__name__)

DEMO_DELIVERIES = Path(__file__).parent / "demo_data" / "fastapi-docs" / "deliveries.jsonl"
PROGRESS_EVERY_S = 10.0

MAX_DELIVERY_ID = text(
    "SELECT MAX(id) FROM webhook.staged_deliveries WHERE crawl_id = :crawl_id"
    " AND status = 'accepted'"
)
CHUNK_PROGRESS = text(
    """
    SELECT
        (SELECT COUNT(*) FROM webhook.pages WHERE crawl_id = :crawl_id) AS pages,
        COUNT(*) AS chunks,
        COUNT(*) FILTER (WHERE embedded_hash = content_hash) AS in_qdrant
    FROM webhook.chunks WHERE crawl_id = :crawl_id
    """
)
ACTIVE_STATUSES = [
    DagsterRunStatus.QUEUED,
    DagsterRunStatus.NOT_STARTED,
    DagsterRunStatus.STARTING,
    DagsterRunStatus.STARTED,
]


class DemoError(RuntimeError):
    """The demo could not finish: a run failed, or nothing arrived in time."""


def read_deliveries(path: Path) -> Iterator[bytes]:
    """Yield each line's bytes unchanged but for the line ending."""
    with path.open("rb") as lines:
        for line in lines:
            body = line.rstrip(b"\r\n")
            if body.strip():
                yield body


def sign(body: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def send_deliveries(base_url: str, path: Path, secret: str) -> tuple[set[str], int]:
    """POST every delivery signed, and return the crawl ids seen and how many were sent."""
    crawl_ids: set[str] = set()
    sent = 0
    with httpx.Client(base_url=base_url, timeout=30) as client:
        for body in read_deliveries(path):
            response = client.post(
                "/webhooks/firecrawl",
                content=body,
                headers={
                    "Content-Type": "application/json",
                    "X-Firecrawl-Signature": sign(body, secret),
                },
            )
            if response.status_code >= 300:
                raise DemoError(
                    f"The receiver returned {response.status_code} for delivery {sent + 1} "
                    f"of {path}: {response.text[:300]}"
                )
            sent += 1
            crawl_id = _crawl_id(body)
            if crawl_id:
                crawl_ids.add(crawl_id)
    return crawl_ids, sent


def _crawl_id(body: bytes) -> str | None:
    try:
        payload = json.loads(body)
    except ValueError:
        return None
    if not isinstance(payload, dict):
        return None
    value = payload.get("id") or payload.get("jobId")
    return value if isinstance(value, str) else None


def wait_for_crawls(
    stack: Stack,
    engine: Engine,
    crawl_ids: set[str],
    since: datetime,
    timeout_s: float,
    first_run_timeout_s: float,
) -> dict[str, dict[str, Any]]:
    """Wait until each crawl's crawl_sessions row reflects its latest delivery."""
    instance = DagsterInstance.get()
    started = time.monotonic()
    last_progress = 0.0
    while True:
        stack.check_alive()
        runs = instance.get_runs(RunsFilter(job_name="index_crawl", created_after=since))
        failed = [run for run in runs if run.status == DagsterRunStatus.FAILURE]
        if failed:
            run = failed[0]
            raise DemoError(
                f"Run {run.run_id} of crawl {run.tags.get('dagster/partition')} failed: "
                f"{step_failure(instance, run.run_id)}. Its full log is in the Dagster UI "
                "(`pulse demo --keep-running` keeps the UI up)."
            )
        active = [run for run in runs if run.status in ACTIVE_STATUSES]
        rows = {crawl_id: _finished_row(engine, crawl_id) for crawl_id in crawl_ids}
        if not active and all(row is not None for row in rows.values()):
            return {crawl_id: row for crawl_id, row in rows.items() if row is not None}

        elapsed = time.monotonic() - started
        if not runs and elapsed > first_run_timeout_s:
            raise DemoError(
                f"No index_crawl run started within {first_run_timeout_s:.0f} s; "
                f"see {stack.logs_dir}/dagster-daemon.log"
            )
        if elapsed > timeout_s:
            raise DemoError(f"The crawls did not finish within {timeout_s:.0f} s")
        if elapsed - last_progress >= PROGRESS_EVERY_S:
            last_progress = elapsed
            _print_progress(engine, crawl_ids, runs, active, elapsed)
        time.sleep(1.0)


def step_failure(instance: DagsterInstance, run_id: str) -> str:
    """Return the step and error message of the run's last step failure."""
    for record in reversed(instance.all_logs(run_id)):
        event = record.dagster_event
        if event is not None and event.event_type_value == "STEP_FAILURE":
            error = event.step_failure_data.error
            message = error.message.strip() if error else "no error recorded"
            return f"step {event.step_key} raised {message}"
    return "no step failure recorded"


def _finished_row(engine: Engine, crawl_id: str) -> dict[str, Any] | None:
    with engine.connect() as connection:
        newest = connection.execute(MAX_DELIVERY_ID, {"crawl_id": crawl_id}).scalar()
    row = session_row(engine, crawl_id)
    if row is None or newest is None or row["last_delivery_id"] != newest:
        return None
    return row


def _print_progress(
    engine: Engine, crawl_ids: set[str], runs: list[Any], active: list[Any], elapsed: float
) -> None:
    for crawl_id in sorted(crawl_ids):
        with engine.connect() as connection:
            progress = connection.execute(CHUNK_PROGRESS, {"crawl_id": crawl_id}).one()
        # Chunks count as in Qdrant once written there, which happens after they are embedded.
        print(
            f"[{elapsed:5.0f} s] crawl {crawl_id}: {len(runs)} runs ({len(active)} queued or "
            f"running), {progress.pages} pages, {progress.in_qdrant}/{progress.chunks} chunks "
            "in Qdrant",
            file=sys.stderr,
            flush=True,
        )


def row_as_json(row: dict[str, Any]) -> str:
    return json.dumps(row, default=_json_default, sort_keys=False)


def _json_default(value: object) -> object:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    return float(value) if hasattr(value, "as_tuple") else str(value)
