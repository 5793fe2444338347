"""The Dagster side of the tests: a real instance on PostgreSQL, Qdrant local mode, the model.

`pipeline` drives the whole path as production does: deliveries go through the receiver app,
the sensor is evaluated against the instance, and each run it requests is executed.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from dagster import DagsterInstance, Definitions, SensorResult, build_sensor_context
from dagster._core.storage.defs_state.base import set_defs_state_storage
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from pulse_assets.definitions import ASSETS
from pulse_assets.instance import instance_config
from pulse_assets.jobs import index_crawl_job, refresh_sessions_job
from pulse_assets.resources import EmbedderResource, QdrantResource, WarehouseResource
from pulse_assets.settings import PulseSettings
from pulse_sensors.schedules import refresh_sessions_schedule
from pulse_sensors.staging_sensor import staged_deliveries_sensor
from warehouse_sql.embedded import DAGSTER_DB
from webhook_receiver.app import create_app

WEBHOOK_SECRET = "pipeline-test-secret"


@pytest.fixture(scope="session")
def dagster_instance(
    tmp_path_factory: pytest.TempPathFactory, warehouse_url: str
) -> Iterator[DagsterInstance]:
    home = tmp_path_factory.mktemp("dagster-home")
    storage_url = make_url(warehouse_url)
    if storage_url.database == "pulse":
        storage_url = storage_url.set(database=DAGSTER_DB)
    config = instance_config(storage_url.render_as_string(hide_password=False))
    (home / "dagster.yaml").write_text(yaml.safe_dump(config))
    instance = DagsterInstance.from_config(str(home))
    yield instance
    instance.dispose()


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="session")
def embedder_resource(models_dir: Path) -> EmbedderResource:
    return EmbedderResource(models_dir=str(models_dir), threads=2)


@pytest.fixture
def resources(
    warehouse_url: str, tmp_path: Path, embedder_resource: EmbedderResource
) -> dict[str, Any]:
    return {
        "warehouse": WarehouseResource(url=warehouse_url),
        "qdrant": QdrantResource(path=str(tmp_path / "qdrant"), lock_timeout_s=5),
        "embedder": embedder_resource,
    }


def sign(body: bytes, secret: str = WEBHOOK_SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@dataclass
class Pipeline:
    """The receiver, the sensor and the runs it requests, against one warehouse and instance."""

    engine: Engine
    instance: DagsterInstance
    resources: dict[str, Any]
    client: TestClient
    cursor: str | None = None
    runs: list[Any] = field(default_factory=list)

    @property
    def definitions(self) -> Definitions:
        return Definitions(
            assets=ASSETS,
            jobs=[index_crawl_job, refresh_sessions_job],
            sensors=[staged_deliveries_sensor],
            schedules=[refresh_sessions_schedule],
            resources=self.resources,
        )

    def deliver(self, payload: dict[str, Any] | bytes) -> int:
        """POST one signed delivery and return the HTTP status."""
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        response = self.client.post(
            "/webhooks/firecrawl",
            content=body,
            headers={"X-Firecrawl-Signature": sign(body), "Content-Type": "application/json"},
        )
        return response.status_code

    def tick(self) -> SensorResult:
        """Evaluate the sensor once, add the partitions it requests, and keep its cursor."""
        context = build_sensor_context(
            instance=self.instance,
            cursor=self.cursor,
            resources={"warehouse": self.resources["warehouse"]},
        )
        result = staged_deliveries_sensor(context)
        if not isinstance(result, SensorResult):
            return SensorResult(run_requests=[], cursor=self.cursor)
        for request in result.dynamic_partitions_requests or []:
            self.instance.add_dynamic_partitions(
                request.partitions_def_name, list(request.partition_keys or [])
            )
        self.cursor = result.cursor
        return result

    def run(self, crawl_id: str, job_name: str = "index_crawl") -> Any:
        # Evaluating a schedule or sensor with resources creates a short-lived instance, which
        # leaves its state storage in a context variable after it is gone. Loading definitions
        # then fails on the dead weak reference, so point the variable at this instance again.
        with set_defs_state_storage(self.instance.defs_state_storage):
            job = self.definitions.resolve_job_def(job_name)
        result = job.execute_in_process(
            instance=self.instance, partition_key=crawl_id, raise_on_error=False
        )
        self.runs.append(result)
        return result

    def tick_and_run(self) -> list[Any]:
        """Evaluate the sensor and execute every run it requests, in order."""
        result = self.tick()
        return [self.run(request.partition_key) for request in result.run_requests or []]


@pytest.fixture
def pipeline(
    engine: Engine,
    dagster_instance: DagsterInstance,
    resources: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Pipeline]:
    monkeypatch.setenv("PULSE_SENSOR_SETTLE_SECONDS", "0")
    settings = PulseSettings(webhook_secret=WEBHOOK_SECRET, api_secret="api-secret")
    with TestClient(create_app(settings=settings, engine=engine)) as client:
        yield Pipeline(engine, dagster_instance, resources, client)


@pytest.fixture
def crawl_id() -> str:
    """Return a crawl id no other test uses, since the Dagster instance is shared."""
    return str(uuid.uuid4())
