"""Retrieval quality of `pulse search`: recall@10 and MRR@10 by URL for dense, BM25 and hybrid.

Each query of a JSON Lines file of `{"query", "expected_url"}` pairs counts as found when its
expected URL is among the first 10 hits, which are deduplicated by URL as `search` returns them.
By default it runs against the home that `pulse demo` fills, with the warehouse running:

    PULSE_HOME=.pulse pulse warehouse start
    python benchmarks/retrieval.py

`--smoke` indexes a few pages of the demo crawl into a temporary home with its own embedded
warehouse, and runs only their queries. The run holds the Qdrant local storage folder from
start to end, so run it while no indexing run writes to that home.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import shutil
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

from sqlalchemy import Engine

from pulse_assets.search.hybrid import STATUS_OK, Candidates, Mode, rank_candidates
from pulse_assets.search.runtime import SearchRuntime
from pulse_assets.search.service import CANDIDATE_DEPTH, resolve_hits, retrieve_candidates
from pulse_assets.settings import PulseSettings
from warehouse_sql.connection import create_warehouse_engine, embedded_warehouse, warehouse_url

DEMO_DATA = Path(__file__).parents[1] / "pulse_assets" / "demo_data" / "fastapi-docs"
CUTOFF = 10
SMOKE_PAGES = 8
SWEEP_DEPTHS = (10, 20, 50, 100)
SWEEP_RRF_KS = (10, 30, 60, 100)
SWEEP_WEIGHTS = ((1.0, 1.0), (1.0, 0.5), (0.5, 1.0), (1.0, 0.25), (0.25, 1.0))


@dataclass(frozen=True)
class Query:
    text: str
    expected_url: str


@dataclass(frozen=True)
class Config:
    mode: Mode
    depth: int = CANDIDATE_DEPTH
    rrf_k: float = 60
    weights: tuple[float, float] = (1.0, 1.0)

    def label(self) -> str:
        if self.mode is not Mode.HYBRID:
            return f"{self.mode} alone, depth {self.depth}"
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
    """Return recall@CUTOFF and MRR@CUTOFF of the config over the queries."""
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
    return {"recall@10": found / len(queries), "mrr@10": reciprocal_ranks / len(queries)}


def machine_info() -> dict[str, object]:
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": shlex.join([Path(sys.executable).name, *sys.argv]),
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "packages": {name: version(name) for name in ("fastembed", "qdrant-client", "rank-bm25")},
    }


@contextmanager
def smoke_home() -> Iterator[tuple[PulseSettings, set[str]]]:
    """Index the demo crawl's smallest pages that have queries into a temporary home.

    Yields the home's settings and the URLs indexed. The home and its warehouse are removed
    at exit.
    """
    from dagster import DagsterInstance, Definitions

    from pulse_assets.definitions import ASSETS
    from pulse_assets.demo import DEMO_DELIVERIES, read_deliveries
    from pulse_assets.jobs import index_crawl_job
    from pulse_assets.partitions import CRAWL_PARTITIONS_NAME
    from pulse_assets.resources import EmbedderResource, QdrantResource, WarehouseResource
    from warehouse_sql import migrate
    from webhook_receiver.delivery import receive_delivery

    # Under root PostgreSQL runs as the postgres user, which must be able to enter the home.
    home = Path(tempfile.mkdtemp(prefix="pulse-retrieval-smoke-"))
    home.chmod(0o711)
    settings = PulseSettings(home=home, warehouse_url=None, qdrant_url=None)
    warehouse = embedded_warehouse(settings)
    try:
        warehouse.start()
        engine = create_warehouse_engine(warehouse.url())
        migrate.upgrade(engine)
        wanted = {query.expected_url for query in load_queries(DEMO_DATA / "queries.jsonl")}
        pages: dict[str, tuple[int, str, str, bytes]] = {}
        for body in read_deliveries(DEMO_DELIVERIES):
            payload = json.loads(body)
            documents = payload.get("data") or [{}]
            url = documents[0].get("metadata", {}).get("sourceURL")
            if payload["type"] == "crawl.page" and payload.get("success") and url in wanted:
                pages[url] = (len(body), url, payload["id"], body)
        smallest = sorted(pages.values())[:SMOKE_PAGES]
        for _size, url, _crawl_id, body in smallest:
            result = receive_delivery(engine, None, body, None)
            if result.status_code >= 300:
                raise SystemExit(f"error: staging the page {url} failed: {result.detail}")
        engine.dispose()

        crawl_id = smallest[0][2]
        instance = DagsterInstance.ephemeral()
        instance.add_dynamic_partitions(CRAWL_PARTITIONS_NAME, [crawl_id])
        resources = {
            "warehouse": WarehouseResource(url=warehouse.url()),
            "qdrant": QdrantResource(path=str(settings.qdrant_path)),
            "embedder": EmbedderResource(models_dir=str(settings.models_dir)),
        }
        definitions = Definitions(assets=ASSETS, jobs=[index_crawl_job], resources=resources)
        run = definitions.resolve_job_def("index_crawl").execute_in_process(
            instance=instance, partition_key=crawl_id, raise_on_error=False
        )
        if not run.success:
            raise SystemExit(f"error: indexing the smoke crawl failed in run {run.run_id}")
        yield settings, {url for _size, url, _crawl_id, _body in smallest}
    finally:
        warehouse.stop()
        shutil.rmtree(home, ignore_errors=True)


def print_report(rows: dict[str, dict[str, float]], info: dict[str, object], queries: int) -> None:
    print(f"{queries} queries, date {info['date']}, command `{info['command']}`")
    packages = ", ".join(f"{name} {ver}" for name, ver in info["packages"].items())  # type: ignore[attr-defined]
    print(f"{info['cpu_count']} CPUs, {info['platform']}, Python {info['python']}, {packages}\n")
    print("| Ranking | recall@10 | MRR@10 |\n|---|---|---|")
    for label, scores in rows.items():
        print(f"| {label} | {scores['recall@10']:.3f} | {scores['mrr@10']:.3f} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="index a tiny crawl and run on it")
    parser.add_argument("--queries", type=Path, default=DEMO_DATA / "queries.jsonl")
    parser.add_argument("--sweep", action="store_true", help="also rank hybrid tuning variants")
    parser.add_argument("--json", type=Path, help="also write the results to this JSON file")
    args = parser.parse_args(argv)

    with smoke_home() if args.smoke else nullcontext() as smoke:
        settings = smoke[0] if smoke else PulseSettings()
        queries = load_queries(args.queries)
        if smoke:
            queries = [query for query in queries if query.expected_url in smoke[1]]
        if settings.embedded_warehouse and not embedded_warehouse(settings).is_running():
            print(
                "error: the warehouse is not running; run `pulse warehouse start`", file=sys.stderr
            )
            return 1
        configs = [Config(Mode.DENSE), Config(Mode.BM25), Config(Mode.HYBRID)]
        if args.sweep:
            configs += [
                Config(Mode.HYBRID, depth, rrf_k, weights)
                for depth in SWEEP_DEPTHS
                for rrf_k in SWEEP_RRF_KS
                for weights in SWEEP_WEIGHTS
            ]
        engine = create_warehouse_engine(warehouse_url(settings))
        try:
            depth = max(config.depth for config in configs)
            candidates = retrieve_all(queries, settings, engine, depth)
            rows = {
                config.label(): evaluate(queries, candidates, config, engine) for config in configs
            }
        finally:
            engine.dispose()
    info = machine_info()
    print_report(rows, info, len(queries))
    if args.json:
        args.json.write_text(
            json.dumps({"queries": len(queries), "results": rows, **info}, indent=2)
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
