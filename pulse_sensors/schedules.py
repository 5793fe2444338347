"""The schedule that re-materialises crawl_sessions for crawls that changed or still run."""

import os
from datetime import timedelta

from dagster import (
    DefaultScheduleStatus,
    RunRequest,
    ScheduleEvaluationContext,
    SkipReason,
    schedule,
)
from sqlalchemy import text

from pulse_assets.jobs import refresh_sessions_job
from pulse_assets.resources import WarehouseResource

REFRESH_CRON = os.environ.get("PULSE_REFRESH_CRON", "0 * * * *")

# Crawls still in progress, and crawls with a delivery or a metric row in the lookback window.
SELECT_CRAWLS_TO_REFRESH = text(
    """
    SELECT crawl_id FROM webhook.crawl_sessions WHERE status = 'in_progress'
    UNION
    SELECT crawl_id FROM webhook.staged_deliveries
    WHERE crawl_id IS NOT NULL AND received_at >= :since
    UNION
    SELECT crawl_id FROM webhook.operation_metrics
    WHERE crawl_id IS NOT NULL AND timestamp >= :since
    ORDER BY crawl_id
    """
)

LOOKBACK_HOURS = 2


@schedule(
    job=refresh_sessions_job,
    cron_schedule=REFRESH_CRON,
    default_status=DefaultScheduleStatus.RUNNING,
    description="Rebuilds crawl_sessions for in-progress crawls and crawls changed recently.",
)
def refresh_sessions_schedule(
    context: ScheduleEvaluationContext, warehouse: WarehouseResource
) -> list[RunRequest] | SkipReason:
    scheduled = context.scheduled_execution_time
    # Two hours back from an hourly tick, so a crawl that changed just before the previous tick
    # is refreshed twice rather than missed. Refreshing twice is safe because it is idempotent.
    since = scheduled - timedelta(hours=LOOKBACK_HOURS)
    with warehouse.engine().connect() as connection:
        crawl_ids = [
            row.crawl_id for row in connection.execute(SELECT_CRAWLS_TO_REFRESH, {"since": since})
        ]
    known = set(context.instance.get_dynamic_partitions("crawl_id"))
    crawl_ids = [crawl_id for crawl_id in crawl_ids if crawl_id in known]
    if not crawl_ids:
        return SkipReason("No crawl is in progress or changed in the last two hours")
    context.log.info("Refreshing crawl_sessions for %d crawls", len(crawl_ids))
    return [
        RunRequest(run_key=f"refresh:{crawl_id}:{scheduled.isoformat()}", partition_key=crawl_id)
        for crawl_id in crawl_ids
    ]
