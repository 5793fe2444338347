"""Each benchmark's smoke mode runs to the end and prints its figures, so none can rot.

These tests check that the figures are present and consistent, never how fast they are.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).parents[2] / "benchmarks"


def run_smoke(script: str) -> dict:
    result = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), "--smoke"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout)


def test_aggregation_smoke_rebuilds_all() -> None:
    figures = run_smoke("aggregation.py")

    assert figures["completed_rows"] == figures["crawls"] == 100
    assert figures["set_based_s"] > 0
    assert figures["per_crawl_s"] > 0


def test_sensor_backlog_smoke_reads_batch() -> None:
    figures = run_smoke("sensor_backlog.py")

    assert figures["first_tick"]["cursor"] == 2_000
    assert figures["first_tick"]["run_requests"] == 20
    assert figures["second_tick"]["run_requests"] == 0


def test_pipeline_smoke_reports_floors() -> None:
    figures = run_smoke("pipeline.py")

    assert figures["run_success"] is True
    assert figures["pages"] == 5
    assert figures["chunks"] > 0
    assert figures["pipeline_over_floor"] > 0
    assert figures["pipeline_over_naive"] > 0


def test_receiver_ingest_smoke_stores_all() -> None:
    figures = run_smoke("receiver_ingest.py")

    assert figures["durable_c4"]["answers_2xx"] > 0
    assert figures["staged_rows_equal_2xx"] is True
    assert figures["ratio_c4"] > 0


@pytest.mark.parametrize(
    ("script", "key"), [("growth.py", "time_ratios"), ("instrumentation.py", "median_ratio")]
)
def test_driver_smoke_reports_ratio(script: str, key: str) -> None:
    figures = run_smoke(script)

    assert key in figures
    assert figures["machine"]["cpus"] >= 1
