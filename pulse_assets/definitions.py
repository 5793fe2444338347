"""The Pulse code location: assets, jobs, the staging sensor, the refresh schedule, resources."""

from dagster import Definitions

from pulse_assets.assets.bm25_index import bm25_index
from pulse_assets.assets.crawl_pages import crawl_pages
from pulse_assets.assets.crawl_sessions import crawl_sessions
from pulse_assets.assets.page_chunks import page_chunks
from pulse_assets.assets.qdrant_points import qdrant_points
from pulse_assets.jobs import index_crawl_job, refresh_sessions_job
from pulse_assets.resources import resources_from_settings
from pulse_assets.settings import load_settings
from pulse_sensors.schedules import refresh_sessions_schedule
from pulse_sensors.staging_sensor import staged_deliveries_sensor

ASSETS = [crawl_pages, page_chunks, qdrant_points, bm25_index, crawl_sessions]

defs = Definitions(
    assets=ASSETS,
    jobs=[index_crawl_job, refresh_sessions_job],
    sensors=[staged_deliveries_sensor],
    schedules=[refresh_sessions_schedule],
    resources=resources_from_settings(load_settings()),
)
