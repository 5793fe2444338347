"""Tests that a saturated connection pool or a blocked statement becomes a 503, not a hang."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from receiver_support import VECTOR_BODY, PostDelivery, make_settings, staged_rows
from sqlalchemy import Engine, text

from warehouse_sql.connection import create_warehouse_engine
from webhook_receiver import warehouse
from webhook_receiver.app import create_app


@pytest.fixture
def one_connection_engine(engine: Engine, warehouse_url: str) -> Iterator[Engine]:
    """Return an engine whose pool has one connection and gives up waiting after 0.2 s."""
    small = create_warehouse_engine(warehouse_url, pool_size=1, max_overflow=0, pool_timeout=0.2)
    yield small
    small.dispose()


@pytest.fixture
def one_connection_client(tmp_path: Path, one_connection_engine: Engine) -> Iterator[TestClient]:
    with TestClient(create_app(make_settings(tmp_path), one_connection_engine)) as client:
        yield client


def test_saturated_pool_is_503(
    post_delivery: PostDelivery,
    one_connection_client: TestClient,
    one_connection_engine: Engine,
    engine: Engine,
) -> None:
    with one_connection_engine.connect():
        response = post_delivery(VECTOR_BODY, test_client=one_connection_client)

    assert response.status_code == 503
    assert response.headers["Retry-After"] == "30"
    assert response.json()["detail"].startswith("warehouse unavailable (TimeoutError)")
    assert staged_rows(engine) == []


def test_freed_pool_stores_delivery(
    post_delivery: PostDelivery,
    one_connection_client: TestClient,
    one_connection_engine: Engine,
    engine: Engine,
) -> None:
    with one_connection_engine.connect():
        post_delivery(VECTOR_BODY, test_client=one_connection_client)

    response = post_delivery(VECTOR_BODY, test_client=one_connection_client)

    assert response.status_code == 200
    assert len(staged_rows(engine)) == 1


def test_repeated_503_logged_once(
    post_delivery: PostDelivery,
    one_connection_client: TestClient,
    one_connection_engine: Engine,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="webhook_receiver")

    with one_connection_engine.connect():
        statuses = [
            post_delivery(VECTOR_BODY, test_client=one_connection_client).status_code
            for _ in range(3)
        ]

    errors = [record for record in caplog.records if record.levelno == logging.ERROR]
    assert statuses == [503, 503, 503]
    assert len(errors) == 1
    assert "outcome=unavailable status=503" in errors[0].getMessage()


def test_statement_timeout_is_503(
    post_delivery: PostDelivery, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(warehouse, "STATEMENT_TIMEOUT_MS", 300)

    with engine.connect() as locker:
        locker.execute(text("LOCK TABLE webhook.staged_deliveries IN ACCESS EXCLUSIVE MODE"))
        try:
            blocked = post_delivery(VECTOR_BODY)
        finally:
            locker.rollback()
    retried = post_delivery(VECTOR_BODY)

    assert blocked.status_code == 503
    assert blocked.headers["Retry-After"] == "30"
    assert blocked.json()["detail"].startswith("warehouse unavailable (OperationalError)")
    assert retried.status_code == 200
    assert len(staged_rows(engine)) == 1
