"""The retrieval benchmark's smoke mode indexes its own tiny crawl and reports all three rankings.

The test checks that the figures are present and within range, never their values, which
docs/benchmarks.md records for the full demo crawl.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).parents[2] / "benchmarks" / "retrieval.py"
RANKINGS = [
    "dense alone, depth 50",
    "bm25 alone, depth 50",
    "hybrid, depth 50, RRF k=10, weights by coverage",
]


def test_retrieval_smoke_reports_rankings() -> None:
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--smoke"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    figures = json.loads(result.stdout)

    assert figures["benchmark"] == "retrieval"
    assert figures["queries"]["headings"] > 0
    results = figures["results"]["headings"]
    assert list(results) == RANKINGS
    for ranking in RANKINGS:
        scores = results[ranking]
        assert scores["mrr@10"] >= 0
        assert scores["mrr@10"] <= scores["recall@10"]
        assert scores["recall@10"] <= 1
    assert figures["machine"]["packages"]["rank-bm25"] is not None
    assert "--smoke" in figures["machine"]["command"]
