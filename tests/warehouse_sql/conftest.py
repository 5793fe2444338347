"""Fixtures of the Dagster side, shared from `pipeline_harness.py`, and a module-scoped pipeline.

`module_pipeline` builds the same receiver, sensor and runs as `pipeline`, but once per test
module, so an expensive crawl can be indexed once and read by every test of the module. It
empties the warehouse tables when it starts. A module that uses it must not also use the
function-scoped `engine` or `pipeline` fixtures, because those empty the tables again.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from dagster import DagsterInstance
from fastapi.testclient import TestClient
from pipeline_harness import (  # noqa: F401 - fixtures shared by the Dagster tests
    WEBHOOK_SECRET,
    Pipeline,
    crawl_id,
    dagster_instance,
    embedder_resource,
    models_dir,
    pipeline,
    resources,
)
from sqlalchemy import Engine, text

from pulse_assets.resources import EmbedderResource, QdrantResource, WarehouseResource
from pulse_assets.settings import PulseSettings
from webhook_receiver.app import create_app

SELECT_WAREHOUSE_TABLES = text(
    "SELECT tablename FROM pg_tables WHERE schemaname = 'webhook' ORDER BY tablename"
)


def truncate_warehouse(engine: Engine) -> None:
    """Empty every table of the `webhook` schema and restart its identity columns."""
    with engine.begin() as connection:
        quote = connection.dialect.identifier_preparer.quote
        tables = [
            f"webhook.{quote(name)}"
            for name in connection.execute(SELECT_WAREHOUSE_TABLES).scalars()
        ]
        connection.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY"))


@pytest.fixture(scope="module")
def module_pipeline(
    migrated_engine: Engine,
    warehouse_url: str,
    dagster_instance: DagsterInstance,  # noqa: F811 - the fixture imported above
    embedder_resource: EmbedderResource,  # noqa: F811 - the fixture imported above
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Pipeline]:
    truncate_warehouse(migrated_engine)
    qdrant_path: Path = tmp_path_factory.mktemp("qdrant")
    module_resources = {
        "warehouse": WarehouseResource(url=warehouse_url),
        "qdrant": QdrantResource(path=str(qdrant_path), lock_timeout_s=5),
        "embedder": embedder_resource,
    }
    settings = PulseSettings(webhook_secret=WEBHOOK_SECRET, api_secret="api-secret")
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setenv("PULSE_SENSOR_SETTLE_SECONDS", "0")
        with TestClient(create_app(settings=settings, engine=migrated_engine)) as client:
            yield Pipeline(migrated_engine, dagster_instance, module_resources, client)
