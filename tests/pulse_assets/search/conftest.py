"""Fixtures of the search tests: the topic crawl, indexed by the real pipeline into the test's
own Qdrant folder and the session's warehouse, and the model and store that search uses."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from search_topics import TOPIC_PAGES, index_pages

from pulse_assets.indexing.embedding import Embedder
from pulse_assets.indexing.vector_store import VectorStore


@pytest.fixture
def topic_crawl(pipeline: Any, crawl_id: str) -> str:
    """Index the three topic pages as one crawl and return its id."""
    index_pages(pipeline, crawl_id, TOPIC_PAGES)
    return crawl_id


@pytest.fixture
def embedder(resources: dict[str, Any]) -> Embedder:
    model: Embedder = resources["embedder"].load()
    return model


@pytest.fixture
def qdrant_path(resources: dict[str, Any]) -> Path:
    return Path(resources["qdrant"].path)


@pytest.fixture
def open_store(qdrant_path: Path) -> Any:
    """Return a function that opens the test's Qdrant folder, waiting at most 1 s for its lock."""

    def open_local() -> VectorStore:
        return VectorStore.open(
            url=None, path=qdrant_path, api_key=None, collection="pulse_chunks", lock_timeout_s=1
        )

    return open_local
