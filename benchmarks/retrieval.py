"""Retrieval quality of `pulse search`: recall@10 and MRR@10 by URL for dense, BM25 and hybrid.

Each query of a JSON Lines file of `{"query", "expected_url"}` pairs counts as found when its
expected URL is among the first 10 hits, deduplicated by URL as `search` returns them. The
default query sets are the demo crawl's headings and the paraphrased questions of
`benchmarks/data/`. By default it runs against the home in PULSE_HOME (default `.pulse`, which
`pulse demo` fills), with its warehouse running:

    PULSE_HOME=.pulse pulse warehouse start
    python benchmarks/retrieval.py --sweep

`--smoke` indexes the 8 smallest demo pages that have queries into a scratch home and runs
only their queries. The run keeps the Qdrant local storage folder open from start to end, so run it
while no indexing run writes to that home.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from common import report, scratch_home, scratch_warehouse
from sqlalchemy import Engine

from pulse_assets.search.hybrid import SEARCH_RRF_K, STATUS_OK, Candidates, Mode, rank_candidates
from pulse_assets.search.runtime import SearchRuntime
from pulse_assets.search.service import CANDIDATE_DEPTH, resolve_hits, retrieve_candidates
from pulse_assets.settings import PulseSettings
from warehouse_sql.connection import create_warehouse_engine, embedded_warehouse, warehouse_url

DEMO_DATA = Path(__file__).parents[1] / "pulse_assets" / "demo_data" / "fastapi-docs"
QUERY_SETS = {
    "headings": DEMO_DATA / "queries.jsonl",
    "paraphrased": Path(__file__).parent / "data" / "fastapi_paraphrased_queries.jsonl",
}
CUTOFF = 10
SMOKE_PAGES = 8
SWEEP_DEPTHS = (20, 50, 100)
SWEEP_RRF_KS = (10, 30, 60)
# (dense, BM25) weights of the fused lists.
SWEEP_WEIGHTS = ((1.0, 1.0), (1.0, 0.5), (0.5, 1.0), (0.25, 1.0), (0.1, 1.0))


@dataclass(frozen=True)
class Query:
    text: str
    expected_url: str


@dataclass(frozen=True)
class Config:
    mode: Mode
    depth: int = CANDIDATE_DEPTH
    rrf_k: float = SEARCH_RRF_K
    # None: the weights that `fusion_weights` sets per query, as `search` does.
    weights: tuple[float, float] | None = None

    def label(self) -> str:
        if self.mode is not Mode.HYBRID:
            return f"{self.mode} alone, depth {self.depth}"
        if self.weights is None:
            return f"hybrid, depth {self.depth}, RRF k={self.rrf_k:g}, weights by coverage"
        dense, bm25 = self.weights
        return f"hybrid, depth {self.depth}, RRF k={self.rrf_k:g}, weights {dense:g}:{bm25:g}"


def load_queries(path: Path) -> list[Query]:
    with path.open(encoding="utf-8") as lines:
        rows = [json.loads(line) for line in lines if line.strip()]
    return [Query(row["query"], row["expected_url"]) for row in rows]


def retrieve_all(
    queries: Sequence[Query], settings: PulseSettings, engine: Engine, depth: int
) -> list[Candidates]:
    """Retrieve each query's candidates once, with the store kept open for the whole run."""
    runtime = SearchRuntime(settings)
    embedder = runtime.embedder()
    results = []
    with runtime.open_store() as store:
        for query in queries:
            candidates = retrieve_candidates(
                query.text,
                crawl_id=None,
                depth=depth,
                engine=engine,
                embedder=embedder,
                open_store=lambda: nullcontext(store),
                bm25_cache=runtime.bm25_cache,
            )
            for name, status in (
                ("dense", candidates.dense_status),
                ("BM25", candidates.bm25_status),
            ):
                if status != STATUS_OK:
                    raise SystemExit(f"error: {name} search of {query.text!r} was {status}")
            results.append(candidates)
    return results


def evaluate(
    queries: Sequence[Query], candidates: Sequence[Candidates], config: Config, engine: Engine
) -> dict[str, float]:
    """Return recall@CUTOFF and MRR@CUTOFF of the config over the queries.

    Cutting the lists to `config.depth` ranks as retrieving at that depth would, because each
    retriever's list at a smaller depth is a prefix of its list at a larger one.
    """
    found = 0
    reciprocal_ranks = 0.0
    for query, retrieved in zip(queries, candidates, strict=True):
        cut = replace(
            retrieved, dense=retrieved.dense[: config.depth], bm25=retrieved.bm25[: config.depth]
        )
        fused = rank_candidates(cut, config.mode, config.rrf_k, config.weights)
        urls = [hit.url for hit in resolve_hits(engine, fused, cut.payloads, CUTOFF)]
        if query.expected_url in urls:
            found += 1
            reciprocal_ranks += 1.0 / (urls.index(query.expected_url) + 1)
    return {
        "recall@10": round(found / len(queries), 3),
        "mrr@10": round(reciprocal_ranks / len(queries), 3),
    }


@contextmanager
def smoke_home() -> Iterator[tuple[PulseSettings, set[str]]]:
    """Index the smallest demo pages that have queries into a scratch home.

    Yields the home's settings and the URLs indexed. The home is removed at exit.
    """
    from dagster import DagsterInstance, Definitions

    from pulse_assets.definitions import ASSETS
    from pulse_assets.demo import DEMO_DELIVERIES, read_deliveries
    from pulse_assets.jobs import index_crawl_job
    from pulse_assets.partitions import CRAWL_PARTITIONS_NAME
    from pulse_assets.resources import EmbedderResource, QdrantResource, WarehouseResource
    from webhook_receiver.delivery import receive_delivery

    expected_urls = {query.expected_url for query in load_queries(DEMO_DATA / "queries.jsonl")}
    pages: dict[str, tuple[int, str, str, bytes]] = {}
    for body in read_deliveries(DEMO_DELIVERIES):
        payload = json.loads(body)
        url = (payload.get("data") or [{}])[0].get("metadata", {}).get("sourceURL")
        if payload["type"] == "crawl.page" and payload.get("success") and url in expected_urls:
            pages[url] = (len(body), url, payload["id"], body)
    smallest = sorted(pages.values())[:SMOKE_PAGES]
    crawl_id = smallest[0][2]

    with scratch_home("retrieval") as home, scratch_warehouse(home) as (url, engine):
        for _size, page_url, _crawl_id, body in smallest:
            result = receive_delivery(engine, None, body, None)
            if result.status_code >= 300:
                raise SystemExit(f"error: staging the page {page_url} failed: {result.detail}")
        settings = PulseSettings(home=home, warehouse_url=url, qdrant_url=None)
        instance = DagsterInstance.ephemeral()
        instance.add_dynamic_partitions(CRAWL_PARTITIONS_NAME, [crawl_id])
        resources = {
            "warehouse": WarehouseResource(url=url),
            "qdrant": QdrantResource(path=str(settings.qdrant_path)),
            "embedder": EmbedderResource(models_dir=str(settings.models_dir)),
        }
        definitions = Definitions(assets=ASSETS, jobs=[index_crawl_job], resources=resources)
        run = definitions.resolve_job_def("index_crawl").execute_in_process(
            instance=instance, partition_key=crawl_id, raise_on_error=False
        )
        if not run.success:
            raise SystemExit(f"error: indexing the smoke crawl failed in run {run.run_id}")
        yield settings, {page_url for _size, page_url, _crawl_id, _body in smallest}


def markdown_table(results: dict[str, dict[str, dict[str, float]]]) -> str:
    names = list(results)
    header = " | ".join(f"{name} recall@10 | {name} MRR@10" for name in names)
    lines = [f"| Ranking | {header} |", "|---" * (1 + 2 * len(names)) + "|"]
    for label in results[names[0]]:
        cells = " | ".join(
            f"{results[name][label]['recall@10']:.3f} | {results[name][label]['mrr@10']:.3f}"
            for name in names
        )
        lines.append(f"| {label} | {cells} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="index a tiny crawl and run on it")
    parser.add_argument(
        "--queries",
        type=Path,
        action="append",
        help="a query set (repeatable); default: the headings and paraphrased sets",
    )
    parser.add_argument("--sweep", action="store_true", help="also rank hybrid tuning variants")
    parser.add_argument("--markdown", action="store_true", help="also print a Markdown table")
    args = parser.parse_args(argv)
    query_sets = {path.stem: path for path in args.queries} if args.queries else QUERY_SETS

    configs = [Config(Mode.DENSE), Config(Mode.BM25), Config(Mode.HYBRID)]
    if args.sweep:
        configs += [
            Config(Mode.HYBRID, depth, rrf_k, weights)
            for depth in SWEEP_DEPTHS
            for rrf_k in SWEEP_RRF_KS
            for weights in (None, *SWEEP_WEIGHTS)
            if (depth, rrf_k, weights) != (CANDIDATE_DEPTH, SEARCH_RRF_K, None)
        ]
    with smoke_home() if args.smoke else nullcontext() as smoke:
        settings = smoke[0] if smoke else PulseSettings()
        if settings.embedded_warehouse and not embedded_warehouse(settings).is_running():
            print(
                f"error: the warehouse of {settings.home_dir} is not running; "
                "run `pulse warehouse start`",
                file=sys.stderr,
            )
            return 1
        engine = create_warehouse_engine(warehouse_url(settings))
        results: dict[str, dict[str, dict[str, float]]] = {}
        counts: dict[str, int] = {}
        try:
            depth = max(config.depth for config in configs)
            for name, path in query_sets.items():
                queries = load_queries(path)
                if smoke:
                    queries = [query for query in queries if query.expected_url in smoke[1]]
                if not queries:
                    continue
                candidates = retrieve_all(queries, settings, engine, depth)
                counts[name] = len(queries)
                results[name] = {
                    config.label(): evaluate(queries, candidates, config, engine)
                    for config in configs
                }
        finally:
            engine.dispose()

    figures = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "home": "scratch (smoke)" if args.smoke else str(settings.home_dir),
        "queries": counts,
        "results": results,
    }
    if args.markdown and results:
        print(markdown_table(results), file=sys.stderr)
    report("retrieval", figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
