"""The sensor that turns new staged deliveries into one partitioned run per crawl."""

import os

from dagster import (
    DefaultSensorStatus,
    RunRequest,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)
from sqlalchemy import text

from pulse_assets.jobs import index_crawl_job
from pulse_assets.partitions import CRAWL_PARTITIONS_NAME, crawl_partitions
from pulse_assets.resources import WarehouseResource
from webhook_receiver.event_types import PIPELINE_EVENT_TYPES

DEFAULT_BATCH_SIZE = 10_000

# Identity values are taken when a row is inserted but become visible when it commits, so a
# row with a lower id can appear after a higher one. The receiver bounds each statement with a
# timeout of a few seconds, so rows older than this have all committed.
DEFAULT_SETTLE_SECONDS = 10.0


# One bounded batch after the cursor, grouped by crawl: only ids and crawl ids are read.
SELECT_BATCH = text(
    """
    WITH batch AS (
        SELECT id, crawl_id,
               status = 'accepted' AND event_type = ANY(CAST(:events AS text[])) AS relevant
        FROM webhook.staged_deliveries
        WHERE id > :cursor
          AND received_at < now() - make_interval(secs => :settle_seconds)
        ORDER BY id
        LIMIT :batch_size
    )
    SELECT crawl_id, MAX(id) AS max_id, bool_or(relevant) AS relevant, COUNT(*) AS deliveries
    FROM batch
    GROUP BY crawl_id
    """
)


@sensor(
    job=index_crawl_job,
    minimum_interval_seconds=5,
    default_status=DefaultSensorStatus.RUNNING,
    description="Starts an index_crawl run for each crawl with new staged deliveries.",
)
def staged_deliveries_sensor(
    context: SensorEvaluationContext, warehouse: WarehouseResource
) -> SensorResult | SkipReason:
    cursor = int(context.cursor or 0)
    settle_seconds = float(os.environ.get("PULSE_SENSOR_SETTLE_SECONDS", DEFAULT_SETTLE_SECONDS))
    batch_size = int(os.environ.get("PULSE_SENSOR_BATCH_SIZE", DEFAULT_BATCH_SIZE))
    with warehouse.engine().connect() as connection:
        groups = connection.execute(
            SELECT_BATCH,
            {
                "cursor": cursor,
                "events": sorted(PIPELINE_EVENT_TYPES),
                "settle_seconds": settle_seconds,
                "batch_size": batch_size,
            },
        ).all()
    if not groups:
        return SkipReason(f"No staged deliveries after id {cursor}")

    new_cursor = max(group.max_id for group in groups)
    crawls = {group.crawl_id: group.max_id for group in groups if group.relevant and group.crawl_id}
    known = set(context.instance.get_dynamic_partitions(CRAWL_PARTITIONS_NAME))
    new_partitions = sorted(set(crawls) - known)

    # The run key carries the highest staging id, so a page that arrives after an earlier run
    # of the same crawl still gets a run of its own.
    run_requests = [
        RunRequest(
            run_key=f"{crawl_id}:{max_id}",
            partition_key=crawl_id,
            tags={"pulse/staged_through_id": str(max_id)},
        )
        for crawl_id, max_id in sorted(crawls.items())
    ]
    deliveries = sum(group.deliveries for group in groups)
    context.log.info(
        "Read %d deliveries after id %d: %d crawls to run, %d new partitions, cursor now %d",
        deliveries,
        cursor,
        len(run_requests),
        len(new_partitions),
        new_cursor,
    )
    return SensorResult(
        run_requests=run_requests,
        cursor=str(new_cursor),
        dynamic_partitions_requests=(
            [crawl_partitions.build_add_request(new_partitions)] if new_partitions else []
        ),
    )
