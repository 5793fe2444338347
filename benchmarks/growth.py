"""Benchmark: pipeline time as the crawl grows, and the plot of time against pages.

Runs `pipeline.py --copies N --no-floor` in a fresh process for each N (1, 5 and 10 by default),
so each peak RSS is that run's own, then prints the time ratios to the single copy and writes
`docs/benchmark_growth.png`. Goals: 5 copies take at most 5.5 times, 10 copies at most 11 times
the time of one, and peak memory does not grow with the pages.

    .venv/bin/python benchmarks/growth.py                 # 1, 5 and 10 copies (about an hour)
    .venv/bin/python benchmarks/growth.py --smoke         # 3 pages, 1 and 2 copies
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from common import report

HERE = Path(__file__).parent
PLOT = HERE.parent / "docs" / "benchmark_growth.png"


def run_pipeline(copies: int, max_pages: int | None) -> dict[str, object]:
    argv = [sys.executable, str(HERE / "pipeline.py"), "--copies", str(copies), "--no-floor"]
    if max_pages is not None:
        argv += ["--max-pages", str(max_pages)]
    result = subprocess.run(argv, capture_output=True, text=True, check=True)
    return json.loads(result.stdout)


def plot(rows: list[dict[str, object]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pages = [row["pages"] for row in rows]
    seconds = [row["pipeline_s"] for row in rows]
    figure, axes = plt.subplots(figsize=(6, 4))
    axes.plot(pages, seconds, marker="o", label="measured")
    axes.plot(pages, [seconds[0] * p / pages[0] for p in pages], linestyle="--", label="linear")
    axes.set_xlabel("pages in the crawl")
    axes.set_ylabel("pipeline wall time (s)")
    axes.set_title("Materialising copies of the demo crawl")
    axes.legend()
    figure.tight_layout()
    path.parent.mkdir(exist_ok=True)
    figure.savefig(path, dpi=100)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, nargs="+", default=[1, 5, 10])
    parser.add_argument("--smoke", action="store_true", help="3 pages, 1 and 2 copies")
    parser.add_argument("--plot", type=Path, default=PLOT, help="where to write the PNG")
    args = parser.parse_args()
    max_pages = None
    if args.smoke:
        args.copies, max_pages = [1, 2], 3

    rows = [run_pipeline(copies, max_pages) for copies in args.copies]
    base = rows[0]["pipeline_s"]
    figures = {
        "runs": [
            {
                key: row[key]
                for key in (
                    "copies",
                    "pages",
                    "chunks",
                    "pipeline_s",
                    "peak_rss_mib_after_pipeline",
                )
            }
            for row in rows
        ],
        "time_ratios": {str(row["copies"]): round(row["pipeline_s"] / base, 3) for row in rows},
        "goal": "5 copies <= 5.5 and 10 copies <= 11 times one copy",
    }
    if not args.smoke:
        plot(rows, args.plot)
        figures["plot"] = str(args.plot)
    report("growth", figures)


if __name__ == "__main__":
    main()
