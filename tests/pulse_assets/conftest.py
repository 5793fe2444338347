"""Fixtures of the Dagster side, shared from `pipeline_harness.py`."""

from pipeline_harness import (  # noqa: F401 - fixtures shared by the Dagster tests
    crawl_id,
    dagster_instance,
    embedder_resource,
    models_dir,
    pipeline,
    resources,
)
