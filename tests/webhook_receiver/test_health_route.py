"""Tests of GET /health with a reachable and an unreachable warehouse."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from receiver_support import make_settings
from sqlalchemy import Engine

from warehouse_sql.connection import create_warehouse_engine
from webhook_receiver.app import create_app


@pytest.fixture
def unreachable_engine() -> Iterator[Engine]:
    """Return an engine for a port on 127.0.0.1 that nothing listens on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    unreachable = create_warehouse_engine(f"postgresql+psycopg2://pulse:x@127.0.0.1:{port}/pulse")
    yield unreachable
    unreachable.dispose()


def test_health_ok(client: TestClient) -> None:
    response = client.get("/health")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "warehouse": "ok"}


def test_health_degraded_without_warehouse(tmp_path: Path, unreachable_engine: Engine) -> None:
    with TestClient(create_app(make_settings(tmp_path), unreachable_engine)) as client:
        response = client.get("/health")

    assert response.status_code == 503
    assert response.json() == {"status": "degraded", "warehouse": "OperationalError"}
