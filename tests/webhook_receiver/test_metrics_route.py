"""Tests of the metrics API: X-API-Secret checks, validation, and crawl session and per-page
metrics read from rows that the tests insert."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from receiver_support import API_SECRET, make_settings
from sqlalchemy import Engine, text

from webhook_receiver.app import create_app

AUTH = {"X-API-Secret": API_SECRET}
ROUTES = ["/api/metrics/crawls", "/api/metrics/crawls/crawl-a"]


def at(day: int, hour: int = 8, second: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, 0, second, tzinfo=UTC)


def insert_session(engine: Engine, crawl_id: str, **columns: Any) -> None:
    columns = {"crawl_id": crawl_id, **columns}
    if "extra_metadata" in columns:
        columns["extra_metadata"] = json.dumps(columns["extra_metadata"])
    names = ", ".join(columns)
    values = ", ".join(f":{name}" for name in columns)
    with engine.begin() as connection:
        connection.execute(
            text(f"INSERT INTO webhook.crawl_sessions ({names}) VALUES ({values})"), columns
        )


def insert_metric(engine: Engine, **columns: Any) -> None:
    names = ", ".join(columns)
    values = ", ".join(f":{name}" for name in columns)
    with engine.begin() as connection:
        connection.execute(
            text(f"INSERT INTO webhook.operation_metrics ({names}) VALUES ({values})"), columns
        )


@pytest.fixture
def crawl_a(engine: Engine) -> None:
    """Insert a completed crawl with three page operations, one crawl-wide operation and an
    operation of another crawl."""
    insert_session(
        engine,
        "crawl-a",
        crawl_url="https://acme.example/",
        started_at=at(20),
        completed_at=at(20, 9),
        status="completed",
        success=True,
        total_pages=3,
        pages_indexed=2,
        pages_failed=1,
        total_chunking_ms=12.5,
        total_embedding_ms=250.25,
        total_qdrant_ms=30,
        total_bm25_ms=4.75,
        duration_ms=3600000,
        extra_metadata={"project": "docs"},
    )
    insert_session(engine, "crawl-b")
    page = {"crawl_id": "crawl-a", "operation_type": "chunking", "success": True}
    insert_metric(
        engine,
        **page,
        operation_name="split",
        duration_ms=3.5,
        timestamp=at(20, 8, 2),
        document_url="https://acme.example/late",
    )
    insert_metric(
        engine,
        **page,
        operation_name="split",
        duration_ms=1.25,
        timestamp=at(20, 8, 1),
        document_url="https://acme.example/first",
    )
    insert_metric(
        engine,
        **{**page, "success": False},
        operation_name="embed",
        duration_ms=7,
        timestamp=at(20, 8, 1),
        document_url="https://acme.example/second",
    )
    insert_metric(
        engine,
        **page,
        operation_name="bm25",
        duration_ms=9,
        timestamp=at(20, 8, 0),
        document_url=None,
    )
    insert_metric(
        engine,
        crawl_id="crawl-b",
        operation_type="chunking",
        operation_name="split",
        duration_ms=1,
        success=True,
        timestamp=at(20),
        document_url="https://acme.example/b",
    )


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize(
    ("headers", "detail"),
    [
        ({}, "missing X-API-Secret header"),
        ({"X-API-Secret": "wrong"}, "invalid X-API-Secret header"),
    ],
    ids=["missing", "wrong"],
)
def test_metrics_bad_api_secret_401(
    client: TestClient, route: str, headers: dict[str, str], detail: str
) -> None:
    response = client.get(route, headers=headers)

    assert response.status_code == 401
    assert response.json() == {"detail": detail}


@pytest.fixture
def client_without_api_secret(tmp_path: Path, engine: Engine) -> Iterator[TestClient]:
    with TestClient(create_app(make_settings(tmp_path, api_secret=None), engine)) as client:
        yield client


@pytest.mark.parametrize("route", ROUTES)
def test_metrics_unset_api_secret_503(client_without_api_secret: TestClient, route: str) -> None:
    response = client_without_api_secret.get(route, headers=AUTH)

    assert response.status_code == 503
    assert "PULSE_API_SECRET" in response.json()["detail"]


def test_metrics_insecure_dev_open(tmp_path: Path, engine: Engine) -> None:
    settings = make_settings(tmp_path, api_secret=None, insecure_dev=True)

    with TestClient(create_app(settings, engine)) as client:
        response = client.get("/api/metrics/crawls")

    assert response.status_code == 200


def test_crawl_metrics_unknown_404(client: TestClient) -> None:
    response = client.get("/api/metrics/crawls/no-such-crawl", headers=AUTH)

    assert response.status_code == 404
    assert "no-such-crawl" in response.json()["detail"]


def test_crawl_metrics_nul_id_404(client: TestClient) -> None:
    response = client.get("/api/metrics/crawls/a%00b", headers=AUTH)

    assert response.status_code == 404
    assert "a\\x00b" in response.json()["detail"]


@pytest.mark.parametrize(
    "query",
    ["limit=0", "limit=1001", "limit=-5", "limit=ten", "status=done", "status=COMPLETED"],
)
def test_recent_crawls_invalid_query_422(client: TestClient, query: str) -> None:
    response = client.get(f"/api/metrics/crawls?{query}", headers=AUTH)

    assert response.status_code == 422


@pytest.mark.parametrize("limit", [1, 1000])
def test_recent_crawls_limit_bounds_accepted(client: TestClient, limit: int) -> None:
    response = client.get(f"/api/metrics/crawls?limit={limit}", headers=AUTH)

    assert response.status_code == 200


def test_crawl_metrics_include_per_page_422(client: TestClient, crawl_a: None) -> None:
    response = client.get("/api/metrics/crawls/crawl-a?include_per_page=maybe", headers=AUTH)

    assert response.status_code == 422


def test_crawl_metrics_session_fields(client: TestClient, crawl_a: None) -> None:
    body = client.get("/api/metrics/crawls/crawl-a", headers=AUTH).json()

    assert body["crawl_id"] == "crawl-a"
    assert body["crawl_url"] == "https://acme.example/"
    assert body["status"] == "completed"
    assert body["success"] is True
    assert (body["total_pages"], body["pages_indexed"], body["pages_failed"]) == (3, 2, 1)
    assert body["duration_ms"] == 3600000.0
    assert isinstance(body["duration_ms"], float)
    assert body["e2e_duration_ms"] is None
    assert body["extra_metadata"] == {"project": "docs"}
    assert datetime.fromisoformat(body["started_at"]) == at(20)
    assert datetime.fromisoformat(body["completed_at"]) == at(20, 9)
    assert body["per_page_metrics"] is None


def test_crawl_metrics_aggregate_timing(client: TestClient, crawl_a: None) -> None:
    body = client.get("/api/metrics/crawls/crawl-a", headers=AUTH).json()

    assert body["aggregate_timing"] == {
        "chunking_ms": 12.5,
        "embedding_ms": 250.25,
        "qdrant_ms": 30.0,
        "bm25_ms": 4.75,
    }


def test_crawl_metrics_per_page_ordered(client: TestClient, crawl_a: None) -> None:
    response = client.get("/api/metrics/crawls/crawl-a?include_per_page=true", headers=AUTH)

    metrics = response.json()["per_page_metrics"]
    assert [metric["url"] for metric in metrics] == [
        "https://acme.example/first",
        "https://acme.example/second",
        "https://acme.example/late",
    ]
    assert metrics[1] == {
        "url": "https://acme.example/second",
        "operation_type": "chunking",
        "operation_name": "embed",
        "duration_ms": 7.0,
        "success": False,
        "timestamp": metrics[1]["timestamp"],
    }
    assert datetime.fromisoformat(metrics[1]["timestamp"]) == at(20, 8, 1)


def test_crawl_metrics_per_page_false(client: TestClient, crawl_a: None) -> None:
    response = client.get("/api/metrics/crawls/crawl-a?include_per_page=false", headers=AUTH)

    assert response.json()["per_page_metrics"] is None


def test_crawl_metrics_defaults_for_new_session(client: TestClient, crawl_a: None) -> None:
    response = client.get("/api/metrics/crawls/crawl-b?include_per_page=true", headers=AUTH)

    body = response.json()
    assert body["status"] == "in_progress"
    assert body["aggregate_timing"] == {
        "chunking_ms": 0.0,
        "embedding_ms": 0.0,
        "qdrant_ms": 0.0,
        "bm25_ms": 0.0,
    }
    assert [metric["url"] for metric in body["per_page_metrics"]] == ["https://acme.example/b"]


@pytest.fixture
def four_crawls(engine: Engine) -> None:
    """Insert crawls in an order that differs from their newest-first order."""
    insert_session(engine, "old", started_at=at(1), created_at=at(1), status="completed")
    insert_session(engine, "newest", started_at=at(3), created_at=at(2), status="completed")
    insert_session(engine, "unstarted-early", created_at=at(4), status="failed")
    insert_session(engine, "unstarted-late", created_at=at(5), status="completed")


def test_recent_crawls_newest_first(client: TestClient, four_crawls: None) -> None:
    body = client.get("/api/metrics/crawls", headers=AUTH).json()

    assert [crawl["crawl_id"] for crawl in body["crawls"]] == [
        "newest",
        "old",
        "unstarted-late",
        "unstarted-early",
    ]
    assert body["total"] == 4


def test_recent_crawls_status_filter_total(client: TestClient, four_crawls: None) -> None:
    response = client.get("/api/metrics/crawls?limit=2&status=completed", headers=AUTH)

    body = response.json()
    assert [crawl["crawl_id"] for crawl in body["crawls"]] == ["newest", "old"]
    assert body["total"] == 3
    assert body["limit"] == 2
    assert body["status"] == "completed"


def test_recent_crawls_filter_without_match(client: TestClient, four_crawls: None) -> None:
    body = client.get("/api/metrics/crawls?status=cancelled", headers=AUTH).json()

    assert body["crawls"] == []
    assert body["total"] == 0


def test_recent_crawls_items_have_timing(client: TestClient, crawl_a: None) -> None:
    body = client.get("/api/metrics/crawls?limit=1", headers=AUTH).json()

    assert body["crawls"][0]["crawl_id"] == "crawl-a"
    assert body["crawls"][0]["aggregate_timing"]["embedding_ms"] == 250.25
