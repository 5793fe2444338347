"""Test that deliveries get 503 while the warehouse is stopped and are stored once after it
restarts. It stops the session's embedded PostgreSQL, so it lives in its own module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from receiver_support import VECTOR_BODY, PostDelivery, staged_rows
from sqlalchemy import Engine

from warehouse_sql.embedded import EmbeddedWarehouse


@pytest.fixture
def stoppable_warehouse(
    embedded_warehouse: EmbeddedWarehouse | None, engine: Engine
) -> Iterator[EmbeddedWarehouse]:
    """Yield the embedded warehouse and make sure it runs again afterwards, even on failure."""
    if embedded_warehouse is None:
        pytest.skip("stopping the warehouse needs the embedded one, not PULSE_TEST_WAREHOUSE_URL")
    try:
        yield embedded_warehouse
    finally:
        embedded_warehouse.start()


def test_stopped_warehouse_then_stored_once(
    stoppable_warehouse: EmbeddedWarehouse,
    post_delivery: PostDelivery,
    client: TestClient,
    engine: Engine,
) -> None:
    stoppable_warehouse.stop()
    during_outage = post_delivery(VECTOR_BODY)
    health_during_outage = client.get("/health")
    stoppable_warehouse.start()

    after_restart = post_delivery(VECTOR_BODY)
    repeated = post_delivery(VECTOR_BODY)

    assert during_outage.status_code == 503
    assert during_outage.headers["Retry-After"] == "30"
    assert during_outage.json()["detail"].startswith("warehouse unavailable (OperationalError)")
    assert health_during_outage.status_code == 503
    assert after_restart.status_code == 200
    assert after_restart.json()["status"] == "stored"
    assert repeated.json()["status"] == "duplicate"
    assert len(staged_rows(engine)) == 1
