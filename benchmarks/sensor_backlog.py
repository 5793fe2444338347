"""Benchmark: one tick of the staging sensor over a backlog of unprocessed staging rows.

Goal: with 100,000 rows after the cursor, the tick reads one bounded batch (the sensor's batch
size, 10,000 by default) and takes under 2 s.

    .venv/bin/python benchmarks/sensor_backlog.py           # 100,000 rows in 1,000 crawls
    .venv/bin/python benchmarks/sensor_backlog.py --smoke   # 2,000 rows
"""

from __future__ import annotations

import argparse

from common import report, scratch_home, scratch_warehouse, stopwatch
from dagster import SensorResult, build_sensor_context
from dagster_home import scratch_instance
from sqlalchemy import text

from pulse_assets.resources import WarehouseResource
from pulse_sensors.staging_sensor import DEFAULT_BATCH_SIZE, staged_deliveries_sensor

FILL = text(
    """
    INSERT INTO webhook.staged_deliveries (
        received_at, raw_body, body_sha256, crawl_id, event_type, webhook_id, dedupe_key,
        signature_verified, status
    )
    SELECT now() - interval '1 hour', '\\x7b7d', 'x', 'crawl-' || (n % :crawls), 'crawl.page',
           'wh-' || n, 'webhook:wh-' || n, true, 'accepted'
    FROM generate_series(1, :rows) AS n
    """
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="2,000 rows in 20 crawls")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--crawls", type=int, default=1_000)
    args = parser.parse_args()
    if args.smoke:
        args.rows, args.crawls = 2_000, 20

    with scratch_home("sensor") as home, scratch_warehouse(home) as (url, engine):
        with engine.begin() as connection:
            connection.execute(FILL, {"rows": args.rows, "crawls": args.crawls})
            connection.execute(text("ANALYZE webhook.staged_deliveries"))
        instance = scratch_instance(home, url)
        warehouse = WarehouseResource(url=url)
        ticks = []
        cursor = None
        for _ in range(2):
            context = build_sensor_context(
                instance=instance, cursor=cursor, resources={"warehouse": warehouse}
            )
            with stopwatch() as tick:
                result = staged_deliveries_sensor(context)
            if not isinstance(result, SensorResult):
                ticks.append(
                    {"tick_s": round(tick["s"], 3), "cursor": int(cursor or 0), "run_requests": 0}
                )
                continue
            for request in result.dynamic_partitions_requests or []:
                instance.add_dynamic_partitions(
                    request.partitions_def_name, list(request.partition_keys or [])
                )
            cursor = result.cursor
            ticks.append(
                {
                    "tick_s": round(tick["s"], 3),
                    "cursor": int(result.cursor or 0),
                    "run_requests": len(result.run_requests or []),
                }
            )
        instance.dispose()

    report(
        "sensor_backlog",
        {
            "backlog_rows": args.rows,
            "crawls": args.crawls,
            "batch_size": DEFAULT_BATCH_SIZE,
            "first_tick": ticks[0],
            "second_tick": ticks[1],
            "goal": "first tick reads at most batch_size rows and takes < 2 s",
        },
    )


if __name__ == "__main__":
    main()
