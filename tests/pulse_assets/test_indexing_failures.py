"""Runs that meet a wrong collection, a page the model fails on, and a transient outage."""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import PrivateAttr
from qdrant_client import QdrantClient, models
from sqlalchemy import text

from pulse_assets.assets.crawl_sessions import session_row
from pulse_assets.demo import step_failure
from pulse_assets.indexing.embedding import Embedder
from pulse_assets.indexing.vector_store import VectorStore
from pulse_assets.resources import EmbedderResource, QdrantResource

POISON = "POISONED-PAGE"


def page(crawl_id: str, webhook_id: str, url: str, markdown: str) -> dict[str, Any]:
    return {
        "success": True,
        "type": "crawl.page",
        "id": crawl_id,
        "webhookId": webhook_id,
        "data": [{"markdown": markdown, "metadata": {"sourceURL": url}}],
        "metadata": {},
    }


class PoisonedEmbedder:
    """The real model, except that any batch holding the marker text raises."""

    def __init__(self, model: Embedder):
        self._model = model

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model, name)

    def embed(self, texts: list[str]) -> np.ndarray:
        if any(POISON in text for text in texts):
            raise RuntimeError("model failed on this input")
        return self._model.embed(texts)


class PoisonedEmbedderResource(EmbedderResource):
    def load(self) -> Embedder:
        return PoisonedEmbedder(super().load())  # type: ignore[return-value]


class FlakyQdrantResource(QdrantResource):
    """Qdrant that refuses the first connection, as a server restarting would."""

    _refused: bool = PrivateAttr(default=False)

    def open(self) -> VectorStore:
        if not self._refused:
            self._refused = True
            raise ConnectionError("Qdrant refused the connection")
        return super().open()


def page_rows(pipeline, crawl_id: str) -> dict[str, tuple[str, str | None]]:  # type: ignore[no-untyped-def]
    with pipeline.engine.connect() as connection:
        rows = connection.execute(
            text("SELECT url, index_status, error_message FROM webhook.pages WHERE crawl_id = :c"),
            {"c": crawl_id},
        )
        return {row.url: (row.index_status, row.error_message) for row in rows}


def test_collection_dim_mismatch_fails_early(pipeline, crawl_id: str, resources) -> None:  # type: ignore[no-untyped-def]
    client = QdrantClient(path=resources["qdrant"].path)
    client.create_collection(
        "pulse_chunks",
        vectors_config=models.VectorParams(size=768, distance=models.Distance.COSINE),
    )
    client.close()
    pipeline.deliver(page(crawl_id, "wh-1", "https://acme.example/a", "# A\n\ntext"))

    results = pipeline.tick_and_run()

    assert [result.success for result in results] == [False]
    failure = results[0].get_step_failure_events()[0].event_specific_data.error.message
    assert "expected dim: 768, got 384" in failure
    assert "pulse_chunks" in failure
    assert "pulse/all-MiniLM-L6-v2-int8" in failure
    assert page_rows(pipeline, crawl_id) == {}
    assert step_failure(pipeline.instance, results[0].run_id).startswith("step crawl_pages raised")
    client = QdrantClient(path=resources["qdrant"].path)
    try:
        assert client.get_collection("pulse_chunks").config.params.vectors.size == 768
    finally:
        client.close()


def test_model_error_fails_one_page(pipeline, crawl_id: str, resources) -> None:  # type: ignore[no-untyped-def]
    resources["embedder"] = PoisonedEmbedderResource(
        models_dir=resources["embedder"].models_dir, threads=2
    )
    pipeline.deliver(page(crawl_id, "wh-1", "https://acme.example/good", "# Good\n\nfine text"))
    pipeline.deliver(page(crawl_id, "wh-2", "https://acme.example/bad", f"# Bad\n\n{POISON}"))
    pipeline.deliver(page(crawl_id, "wh-3", "https://acme.example/fine", "# Fine\n\nmore text"))

    results = pipeline.tick_and_run()

    assert [result.success for result in results] == [True]
    pages = page_rows(pipeline, crawl_id)
    assert pages["https://acme.example/good"] == ("indexed", None)
    assert pages["https://acme.example/fine"] == ("indexed", None)
    assert pages["https://acme.example/bad"][0] == "failed"
    assert "model failed on this input" in pages["https://acme.example/bad"][1]
    row = session_row(pipeline.engine, crawl_id)
    assert row["pages_failed"] == 1
    assert row["pages_indexed"] == 2
    with pipeline.engine.connect() as connection:
        failed_metric = connection.execute(
            text(
                "SELECT success, error_message FROM webhook.operation_metrics"
                " WHERE crawl_id = :c AND document_url = :u AND operation_name = 'page_failed'"
            ),
            {"c": crawl_id, "u": "https://acme.example/bad"},
        ).one()
    assert failed_metric.success is False
    assert "model failed on this input" in failed_metric.error_message


def test_transient_qdrant_error_is_retried(pipeline, crawl_id: str, resources) -> None:  # type: ignore[no-untyped-def]
    resources["qdrant"] = FlakyQdrantResource(path=resources["qdrant"].path, lock_timeout_s=5)
    pipeline.deliver(page(crawl_id, "wh-1", "https://acme.example/a", "# A\n\nretried text"))

    results = pipeline.tick_and_run()

    assert [result.success for result in results] == [True]
    retries = [
        event for event in results[0].all_events if event.event_type_value == "STEP_UP_FOR_RETRY"
    ]
    assert len(retries) == 1
    assert session_row(pipeline.engine, crawl_id)["pages_indexed"] == 1
