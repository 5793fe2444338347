"""Benchmark: materialise a crawl and compare its wall time with fastembed's own.

Stages the demo crawl (or `--copies N` of it under new URLs) through the receiver app. Then it
runs the `index_crawl` job in this process against a scratch warehouse, Qdrant local mode and a
Dagster instance. The floor is fastembed alone on the same chunks, with the same model in the
same process, in the same batches as the pipeline: ordered by length, at most 64 texts and
`DEFAULT_BATCH_TOKENS` padded tokens each. It is timed before and after the pipeline. The naive
run embeds the same chunks in crawl order, in batches of 64.
Goals: pipeline ÷ floor ≤ 1.15 and pipeline ÷ naive ≤ 0.8.

    .venv/bin/python benchmarks/pipeline.py                  # the demo crawl, with floors
    .venv/bin/python benchmarks/pipeline.py --copies 5       # five copies, pipeline time only
    .venv/bin/python benchmarks/pipeline.py --no-metrics     # operation_metrics switched off
    .venv/bin/python benchmarks/pipeline.py --big-page-mb 12 # one page of 12 MB
    .venv/bin/python benchmarks/pipeline.py --smoke          # 5 pages, for CI
"""

from __future__ import annotations

import argparse
import json

from common import peak_rss_mib, report, scratch_home, scratch_warehouse, stopwatch
from dagster import Definitions
from dagster_home import scratch_instance
from fastapi.testclient import TestClient
from sqlalchemy import text

from pulse_assets.definitions import ASSETS
from pulse_assets.demo import DEMO_DELIVERIES, read_deliveries, sign
from pulse_assets.indexing.chunking import MarkdownChunker
from pulse_assets.jobs import index_crawl_job
from pulse_assets.partitions import CRAWL_PARTITIONS_NAME
from pulse_assets.resources import EmbedderResource, QdrantResource, WarehouseResource
from pulse_assets.settings import PulseSettings
from webhook_receiver.app import create_app

SECRET = "benchmark-secret"
CRAWL_ID = "6513270e-269e-4d37-b2a7-4de452e6b438"
BATCH_SIZE = 64


def crawl_bodies(copies: int, max_pages: int | None, big_page_mb: float | None) -> list[bytes]:
    """Return the deliveries to send: the demo crawl's pages copied under new URLs."""
    lines = [json.loads(body) for body in read_deliveries(DEMO_DELIVERIES)]
    pages = [line for line in lines if line["type"] == "crawl.page"]
    if max_pages is not None:
        pages = pages[:max_pages]
    if big_page_mb:
        pages = [_big_page(pages, big_page_mb)]
    bodies = [lines[0]]
    for copy in range(copies):
        for number, page in enumerate(pages):
            body = json.loads(json.dumps(page))
            body["webhookId"] = f"bench-{copy}-{number}"
            for item in body["data"]:
                url = item["metadata"]["sourceURL"]
                item["metadata"]["sourceURL"] = url if copy == 0 else f"{url}copy-{copy}/"
            bodies.append(body)
    bodies.append(lines[-1])
    return [json.dumps(body).encode() for body in bodies]


def _big_page(pages: list[dict], size_mb: float) -> dict:
    texts = [item.get("markdown", "") for page in pages for item in page["data"]]
    markdown = ""
    while len(markdown.encode()) < size_mb * 2**20:
        markdown += "\n\n".join(texts)
    page = json.loads(json.dumps(pages[0]))
    page["data"][0]["markdown"] = markdown[: int(size_mb * 2**20)]
    page["data"][0]["metadata"]["sourceURL"] = "https://fastapi.tiangolo.com/big-page/"
    return page


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=1, help="copies of the crawl's pages")
    parser.add_argument("--max-pages", type=int, help="use only the first N pages of the crawl")
    parser.add_argument("--big-page-mb", type=float, help="send one page of this many MiB")
    parser.add_argument("--no-metrics", action="store_true", help="write no operation_metrics")
    parser.add_argument("--no-floor", action="store_true", help="skip the fastembed floors")
    parser.add_argument("--smoke", action="store_true", help="5 pages, for CI")
    parser.add_argument("--threads", type=int, default=0, help="onnxruntime threads (0: all)")
    args = parser.parse_args()
    if args.smoke:
        args.max_pages = 5

    bodies = crawl_bodies(args.copies, args.max_pages, args.big_page_mb)
    with scratch_home("pipeline") as home, scratch_warehouse(home) as (url, engine):
        instance = scratch_instance(home, url)
        embedder = EmbedderResource(
            models_dir=str(home / "models"), threads=args.threads, batch_size=BATCH_SIZE
        )
        definitions = Definitions(
            assets=ASSETS,
            jobs=[index_crawl_job],
            resources={
                "warehouse": WarehouseResource(url=url, record_metrics=not args.no_metrics),
                "qdrant": QdrantResource(path=str(home / "qdrant")),
                "embedder": embedder,
            },
        )
        settings = PulseSettings(webhook_secret=SECRET, home=home)
        with TestClient(create_app(settings=settings, engine=engine)) as client:
            for body in bodies:
                headers = {"X-Firecrawl-Signature": sign(body, SECRET)}
                response = client.post("/webhooks/firecrawl", content=body, headers=headers)
                response.raise_for_status()
        instance.add_dynamic_partitions(CRAWL_PARTITIONS_NAME, [CRAWL_ID])
        job = definitions.resolve_job_def("index_crawl")

        # The model load is left out of the pipeline time, as it is out of the floor's.
        model = embedder.load()
        floor_before = None
        if not args.no_floor:
            expected_texts = chunk_texts(model, bodies)
            floor_before = time_floor(model, expected_texts)
        with stopwatch() as pipeline:
            result = job.execute_in_process(instance=instance, partition_key=CRAWL_ID)
        pipeline_rss = peak_rss_mib()
        with engine.connect() as connection:
            texts = list(
                connection.execute(
                    text(
                        "SELECT text FROM webhook.chunks WHERE crawl_id = :c"
                        " ORDER BY url, chunk_index"
                    ),
                    {"c": CRAWL_ID},
                ).scalars()
            )
            pages = connection.execute(
                text("SELECT COUNT(*) FROM webhook.pages WHERE crawl_id = :c"), {"c": CRAWL_ID}
            ).scalar_one()
        figures = {
            "copies": args.copies,
            "pages": pages,
            "chunks": len(texts),
            "metrics": not args.no_metrics,
            "run_success": result.success,
            "pipeline_s": round(pipeline["s"], 2),
            "peak_rss_mib_after_pipeline": round(pipeline_rss, 1),
            # With the floors, the first floor run embeds in this process before the pipeline,
            # so the peak is theirs together; `--no-floor` gives the pipeline's alone.
            "peak_rss_includes_floor": floor_before is not None,
        }
        if floor_before is not None:
            if sorted(texts) != sorted(expected_texts):
                raise SystemExit("error: the pipeline stored other chunks than the floor embedded")
            figures.update(measure_floors(model, texts, pipeline["s"], floor_before))
        instance.dispose()
    report("pipeline", figures)


def chunk_texts(model, bodies: list[bytes]) -> list[str]:  # type: ignore[no-untyped-def]
    """Chunk the pages of the bodies as `page_chunks` does, for timing the floor beforehand."""
    chunker = MarkdownChunker(model.splitter_tokenizer(), model.max_tokens, model.special_tokens)
    markdowns: dict[str, str] = {}
    for body in bodies:
        delivery = json.loads(body)
        if delivery["type"] != "crawl.page" or not delivery.get("success"):
            continue
        for item in delivery["data"]:
            markdowns[item["metadata"]["sourceURL"]] = item.get("markdown") or ""
    return [
        chunk.text for markdown in markdowns.values() for chunk in chunker.chunk(markdown).chunks
    ]


def time_floor(model, texts: list[str]) -> float:  # type: ignore[no-untyped-def]
    """Seconds fastembed alone takes on the texts in the batches that the pipeline runs.

    The batches are those of `Embedder.batches`: ordered by token length and bounded in texts
    and padded tokens. Planning them is left out of the time.
    """
    batches = [[texts[index] for index in batch] for batch in model.batches(texts)]
    with stopwatch() as floor:
        for batch in batches:
            list(model.fastembed_model.embed(batch, batch_size=len(batch)))
    return floor["s"]


def measure_floors(  # type: ignore[no-untyped-def]
    model, texts: list[str], pipeline_s: float, floor_before_s: float
) -> dict[str, float | str]:
    """Time fastembed alone again after the pipeline, then in crawl order.

    The floor is the mean of its runs before and after the pipeline, so that a slower or faster
    spell of a shared machine during one of them moves the ratio less.
    """
    floor_after_s = time_floor(model, texts)
    with stopwatch() as naive:
        list(model.fastembed_model.embed(texts, batch_size=BATCH_SIZE))
    floor_s = (floor_before_s + floor_after_s) / 2
    return {
        "floor_before_s": round(floor_before_s, 2),
        "floor_after_s": round(floor_after_s, 2),
        "floor_s": round(floor_s, 2),
        "naive_s": round(naive["s"], 2),
        "pipeline_over_floor": round(pipeline_s / floor_s, 3),
        "pipeline_over_naive": round(pipeline_s / naive["s"], 3),
        "goal": "pipeline_over_floor <= 1.15 and pipeline_over_naive <= 0.8",
    }


if __name__ == "__main__":
    main()
