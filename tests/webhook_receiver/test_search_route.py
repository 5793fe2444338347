"""`GET /api/search`: authentication, validation, unknown crawls, hits from a crawl that the
real pipeline indexed, and BM25 hits alone while another process locks the Qdrant folder."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pipeline_harness import (  # noqa: F401 - fixtures of the indexing pipeline
    crawl_id,
    dagster_instance,
    embedder_resource,
    models_dir,
    pipeline,
    resources,
)
from receiver_support import API_SECRET, make_settings
from sqlalchemy import Engine, text

from pulse_assets.search.runtime import SearchRuntime
from pulse_assets.settings import BUNDLED_MODEL_NAME
from webhook_receiver.app import create_app

AUTH = {"X-API-Secret": API_SECRET}
LAVA_URL = "https://topics.example/lava"
LAVA_PAGE = "# Lava\n\nMagma erupts from volcanoes as lava, ash and pumice."
BREAD_PAGE = "# Bread\n\nSourdough bread rises with a starter of flour and water."

HOLD_FOLDER = """
import sys
from qdrant_client import QdrantClient
client = QdrantClient(path=sys.argv[1])
print("holding", flush=True)
sys.stdin.read()
client.close()
"""


def page(crawl: str, number: int, url: str, markdown: str) -> dict[str, Any]:
    metadata = {"sourceURL": url, "statusCode": 200, "title": markdown.splitlines()[0][2:]}
    document = {"markdown": markdown, "metadata": metadata}
    return {
        "success": True,
        "type": "crawl.page",
        "id": crawl,
        "webhookId": f"wh-{crawl}-{number}",
        "data": [document],
        "metadata": {},
    }


@pytest.fixture
def indexed_crawl(pipeline, crawl_id: str) -> str:  # type: ignore[no-untyped-def]  # noqa: F811
    assert pipeline.deliver(page(crawl_id, 0, LAVA_URL, LAVA_PAGE)) == 200
    assert pipeline.deliver(page(crawl_id, 1, "https://topics.example/bread", BREAD_PAGE)) == 200
    assert [result.success for result in pipeline.tick_and_run()] == [True]
    return crawl_id


@pytest.fixture
def search_client(engine: Engine, tmp_path: Path) -> Iterator[TestClient]:
    """Return a client whose settings point at the Qdrant folder the `pipeline` writes."""
    settings = make_settings(
        tmp_path,
        qdrant_url=None,
        qdrant_collection="pulse_chunks",
        embedding_model=BUNDLED_MODEL_NAME,
        embedding_threads=2,
    )
    with TestClient(create_app(settings, engine)) as client:
        yield client


@pytest.mark.parametrize(
    "headers", [pytest.param({}, id="missing"), pytest.param({"X-API-Secret": "no"}, id="wrong")]
)
def test_search_requires_api_secret(client: TestClient, headers: dict[str, str]) -> None:
    response = client.get("/api/search", params={"q": "lava"}, headers=headers)

    assert response.status_code == 401


@pytest.mark.parametrize(
    "params",
    [
        pytest.param({}, id="no-q"),
        pytest.param({"q": ""}, id="empty-q"),
        pytest.param({"q": "   "}, id="blank-q"),
        pytest.param({"q": "x" * 1001}, id="long-q"),
        pytest.param({"q": "lava", "limit": 0}, id="limit-0"),
        pytest.param({"q": "lava", "limit": 101}, id="limit-101"),
    ],
)
def test_search_rejects_invalid_params(client: TestClient, params: dict[str, Any]) -> None:
    response = client.get("/api/search", params=params, headers=AUTH)

    assert response.status_code == 422


def test_search_unknown_crawl_404(client: TestClient) -> None:
    response = client.get("/api/search", params={"q": "lava", "crawl_id": "nope-42"}, headers=AUTH)

    assert response.status_code == 404
    assert "nope-42" in response.json()["detail"]


def test_search_nul_crawl_id_404(client: TestClient) -> None:
    response = client.get("/api/search", params={"q": "lava", "crawl_id": "a\x00b"}, headers=AUTH)

    assert response.status_code == 404
    assert "a\\x00b" in response.json()["detail"]


def test_search_crawl_without_chunks(client: TestClient, engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO webhook.crawl_sessions (crawl_id) VALUES ('empty')"))

    response = client.get("/api/search", params={"q": "lava", "crawl_id": "empty"}, headers=AUTH)

    assert response.status_code == 200
    assert response.json()["hits"] == []


def test_search_documented_in_openapi(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()

    assert "/api/search" in schema["paths"]
    assert "SearchResponse" in schema["components"]["schemas"]
    assert "SearchHitModel" in schema["components"]["schemas"]


def test_search_returns_ranked_hits(search_client: TestClient, indexed_crawl: str) -> None:
    response = search_client.get(
        "/api/search", params={"q": "magma lava", "crawl_id": indexed_crawl}, headers=AUTH
    )

    assert response.status_code == 200
    body = response.json()
    assert body["dense"] == "ok"
    assert body["bm25"] == "ok"
    assert body["crawl_id"] == indexed_crawl
    assert body["hits"][0]["url"] == LAVA_URL
    assert body["hits"][0]["title"] == "Lava"
    assert "Magma" in body["hits"][0]["text"]
    assert body["hits"][0]["score"] > 0


def test_model_loads_at_first_search(search_client: TestClient, indexed_crawl: str) -> None:
    state = search_client.app.state  # type: ignore[attr-defined]
    assert getattr(state, "search_runtime", None) is None

    search_client.get("/api/search", params={"q": "lava"}, headers=AUTH)

    assert state.search_runtime.model_loaded


def test_search_locked_folder_bm25(
    search_client: TestClient, indexed_crawl: str, tmp_path: Path
) -> None:
    settings = search_client.app.state.receiver.settings  # type: ignore[attr-defined]
    search_client.app.state.search_runtime = SearchRuntime(settings, lock_timeout_s=1)  # type: ignore[attr-defined]
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_FOLDER, str(tmp_path / "qdrant")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "holding"
        response = search_client.get(
            "/api/search", params={"q": "magma lava", "crawl_id": indexed_crawl}, headers=AUTH
        )
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=60)

    assert response.status_code == 200
    body = response.json()
    assert body["dense"].startswith("unavailable: ")
    assert body["hits"][0]["url"] == LAVA_URL
    assert body["hits"][0]["dense_rank"] is None
