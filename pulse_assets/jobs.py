"""Jobs over the crawl partitions: the whole indexing path, and the session refresh alone.

Both take their partitions from the crawl-partitioned assets they select.
"""

from dagster import AssetSelection, Backoff, RetryPolicy, define_asset_job, in_process_executor

# Transient failures (the warehouse or a Qdrant server briefly unreachable) get two more tries.
STEP_RETRY_POLICY = RetryPolicy(max_retries=2, delay=5, backoff=Backoff.EXPONENTIAL)

# One process per run: the embedding model loads once and every step shares it.
index_crawl_job = define_asset_job(
    name="index_crawl",
    selection=AssetSelection.groups("indexing", "warehouse"),
    executor_def=in_process_executor,
    op_retry_policy=STEP_RETRY_POLICY,
    description="Parse, chunk, embed and index one crawl, then rebuild its crawl_sessions row.",
)

refresh_sessions_job = define_asset_job(
    name="refresh_crawl_sessions",
    selection=AssetSelection.assets("crawl_sessions"),
    executor_def=in_process_executor,
    op_retry_policy=STEP_RETRY_POLICY,
    description="Rebuild the crawl_sessions row of one crawl from the warehouse.",
)
