"""Benchmark: rebuild crawl_sessions set-based versus crawl by crawl.

Fills a scratch warehouse with synthetic crawls (deliveries, pages and operation_metrics rows),
then times the set-based refresh of every crawl in one statement against the per-crawl way:
three queries and an update for each crawl, committed per crawl. Goal: the set-based refresh is
at least 20 times faster and takes under 10 s for 10,000 crawls and 1,000,000 metric rows.

    .venv/bin/python benchmarks/aggregation.py            # 10,000 crawls, 1,000,000 rows
    .venv/bin/python benchmarks/aggregation.py --smoke    # 100 crawls, 10,000 rows
"""

from __future__ import annotations

import argparse

from common import report, scratch_home, scratch_warehouse, stopwatch
from sqlalchemy import Engine, text

from pulse_assets.assets.crawl_sessions import refresh_crawl_sessions

FILL = [
    """
    INSERT INTO webhook.crawl_sessions (crawl_id, staged_through_id)
    SELECT 'crawl-' || c, 2 * c FROM generate_series(1, :crawls) AS c
    """,
    """
    INSERT INTO webhook.staged_deliveries (
        received_at, raw_body, body_sha256, payload, crawl_id, event_type, dedupe_key,
        signature_verified, status
    )
    SELECT now() - make_interval(secs => c * 60 - e * 30), '\\x7b7d', 'x',
           jsonb_build_object(
               'metadata', jsonb_build_object('initiated_at', '2026-11-20T08:00:00Z')
           ),
           'crawl-' || c, CASE e WHEN 0 THEN 'crawl.started' ELSE 'crawl.completed' END,
           'bench:' || c || ':' || e, true, 'accepted'
    FROM generate_series(1, :crawls) AS c, generate_series(0, 1) AS e
    ORDER BY c, e
    """,
    """
    INSERT INTO webhook.pages (
        crawl_id, url, staging_id, received_at, scrape_success, content_hash, index_status
    )
    SELECT 'crawl-' || c, 'https://bench.example/' || c || '/' || p, 1, now(), p <> 0, 'h',
           CASE WHEN p = 0 THEN 'failed' ELSE 'indexed' END
    FROM generate_series(1, :crawls) AS c, generate_series(0, :pages - 1) AS p
    """,
    """
    INSERT INTO webhook.operation_metrics (
        crawl_id, operation_type, operation_name, duration_ms, success, document_url
    )
    SELECT 'crawl-' || (1 + (m % :crawls)),
           (ARRAY['chunking', 'embedding', 'qdrant', 'bm25', 'step'])[1 + (m % 5)],
           'bench', (m % 997) / 10.0, true, 'https://bench.example/' || m
    FROM generate_series(0, :metrics - 1) AS m
    """,
]

PER_CRAWL_EVENTS = text(
    """
    SELECT MIN(received_at) AS started_at,
           MIN(received_at) FILTER (WHERE event_type = 'crawl.completed') AS completed_at
    FROM webhook.staged_deliveries WHERE crawl_id = :crawl_id AND status = 'accepted'
    """
)
PER_CRAWL_PAGES = text(
    """
    SELECT COUNT(*) AS total, COUNT(*) FILTER (WHERE index_status = 'indexed') AS indexed,
           COUNT(*) FILTER (WHERE index_status = 'failed') AS failed
    FROM webhook.pages WHERE crawl_id = :crawl_id
    """
)
PER_CRAWL_TIMING = text(
    """
    SELECT operation_type, SUM(duration_ms) AS total_ms
    FROM webhook.operation_metrics WHERE crawl_id = :crawl_id GROUP BY operation_type
    """
)
PER_CRAWL_UPDATE = text(
    """
    UPDATE webhook.crawl_sessions SET
        started_at = :started_at, completed_at = :completed_at,
        status = CASE WHEN :completed_at IS NULL THEN 'in_progress' ELSE 'completed' END,
        total_pages = :total, pages_indexed = :indexed, pages_failed = :failed,
        total_chunking_ms = :chunking, total_embedding_ms = :embedding,
        total_qdrant_ms = :qdrant, total_bm25_ms = :bm25, updated_at = now()
    WHERE crawl_id = :crawl_id
    """
)


def fill(engine: Engine, crawls: int, metrics: int, pages: int) -> None:
    """Insert the synthetic crawls, then VACUUM ANALYZE the tables.

    The vacuum leaves the tables as autovacuum keeps a warehouse's tables: statistics current
    and every row's visibility settled. Without it, whichever refresh runs first pays for
    settling the visibility of a million fresh rows, which a steady warehouse never does.
    """
    with engine.begin() as connection:
        for statement in FILL:
            connection.execute(
                text(statement), {"crawls": crawls, "metrics": metrics, "pages": pages}
            )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM ANALYZE"))


def refresh_per_crawl(engine: Engine, crawl_ids: list[str]) -> None:
    """Rebuild each crawl's row with its own queries and commit, as a per-crawl job would."""
    for crawl_id in crawl_ids:
        with engine.begin() as connection:
            params = {"crawl_id": crawl_id}
            events = connection.execute(PER_CRAWL_EVENTS, params).one()
            counts = connection.execute(PER_CRAWL_PAGES, params).one()
            totals = {
                row.operation_type: row.total_ms
                for row in connection.execute(PER_CRAWL_TIMING, params)
            }
            connection.execute(
                PER_CRAWL_UPDATE,
                {
                    **params,
                    "started_at": events.started_at,
                    "completed_at": events.completed_at,
                    "total": counts.total,
                    "indexed": counts.indexed,
                    "failed": counts.failed,
                    "chunking": totals.get("chunking", 0),
                    "embedding": totals.get("embedding", 0),
                    "qdrant": totals.get("qdrant", 0),
                    "bm25": totals.get("bm25", 0),
                },
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="100 crawls and 10,000 metric rows")
    parser.add_argument("--crawls", type=int, default=10_000)
    parser.add_argument("--metrics", type=int, default=1_000_000)
    parser.add_argument("--pages", type=int, default=5, help="pages per crawl")
    args = parser.parse_args()
    if args.smoke:
        args.crawls, args.metrics = 100, 10_000

    with scratch_home("aggregation") as home, scratch_warehouse(home) as (_url, engine):
        with stopwatch() as filled:
            fill(engine, args.crawls, args.metrics, args.pages)
        crawl_ids = [f"crawl-{number}" for number in range(1, args.crawls + 1)]

        with stopwatch() as set_based:
            refresh_crawl_sessions(engine, crawl_ids)
        with stopwatch() as set_based_again:
            refresh_crawl_sessions(engine, crawl_ids)
        with stopwatch() as per_crawl:
            refresh_per_crawl(engine, crawl_ids)

        with engine.connect() as connection:
            completed = connection.execute(
                text("SELECT COUNT(*) FROM webhook.crawl_sessions WHERE status = 'completed'")
            ).scalar_one()

    report(
        "aggregation",
        {
            "crawls": args.crawls,
            "operation_metrics_rows": args.metrics,
            "fill_s": round(filled["s"], 2),
            "set_based_s": round(set_based["s"], 3),
            "set_based_unchanged_s": round(set_based_again["s"], 3),
            "per_crawl_s": round(per_crawl["s"], 3),
            "speedup": round(per_crawl["s"] / set_based["s"], 1),
            "completed_rows": completed,
            "goal": "speedup >= 20 and set_based_s < 10",
        },
    )


if __name__ == "__main__":
    main()
