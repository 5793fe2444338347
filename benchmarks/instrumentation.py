"""Benchmark: what writing operation_metrics rows costs a run.

Runs `pipeline.py --no-floor` on the same pages with the timing rows on and off, alternating,
each in a fresh process and a fresh scratch home, and compares the median times. Goal: the run
with timing rows takes at most 1.02 times the run without.

    .venv/bin/python benchmarks/instrumentation.py               # 40 pages, 3 pairs of runs
    .venv/bin/python benchmarks/instrumentation.py --smoke       # 3 pages, 1 pair
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

from common import report

HERE = Path(__file__).parent


def run_pipeline(max_pages: int, metrics: bool) -> float:
    argv = [sys.executable, str(HERE / "pipeline.py"), "--no-floor", "--max-pages", str(max_pages)]
    if not metrics:
        argv.append("--no-metrics")
    result = subprocess.run(argv, capture_output=True, text=True, check=True)
    return float(json.loads(result.stdout)["pipeline_s"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=40, help="pages of the demo crawl per run")
    parser.add_argument("--pairs", type=int, default=3, help="pairs of runs, on and off")
    parser.add_argument("--smoke", action="store_true", help="3 pages, 1 pair")
    args = parser.parse_args()
    if args.smoke:
        args.pages, args.pairs = 3, 1

    with_rows: list[float] = []
    without_rows: list[float] = []
    for pair in range(args.pairs):
        # Alternate which run goes first, so a slow spell of the machine hits both sides.
        order = (True, False) if pair % 2 == 0 else (False, True)
        for metrics in order:
            (with_rows if metrics else without_rows).append(run_pipeline(args.pages, metrics))

    ratio = statistics.median(with_rows) / statistics.median(without_rows)
    report(
        "instrumentation",
        {
            "pages": args.pages,
            "with_metrics_s": with_rows,
            "without_metrics_s": without_rows,
            "median_ratio": round(ratio, 3),
            "goal": "median_ratio <= 1.02",
        },
    )


if __name__ == "__main__":
    main()
