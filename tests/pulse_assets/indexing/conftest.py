"""Fixtures for the indexing tests: the real bundled model, loaded once per test session."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tokenizers import Tokenizer

from pulse_assets.indexing.chunking import MarkdownChunker
from pulse_assets.indexing.embedding import Embedder
from pulse_assets.indexing.model_bundle import BUNDLED_MODEL_NAME

DELIVERIES = (
    Path(__file__).parents[3] / "pulse_assets" / "demo_data" / "fastapi-docs" / "deliveries.jsonl"
)


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="session")
def embedder(models_dir: Path) -> Embedder:
    return Embedder(BUNDLED_MODEL_NAME, models_dir, threads=2)


@pytest.fixture(scope="session")
def splitter_tokenizer(embedder: Embedder) -> Tokenizer:
    return embedder.splitter_tokenizer()


@pytest.fixture(scope="session")
def chunker(embedder: Embedder, splitter_tokenizer: Tokenizer) -> MarkdownChunker:
    return MarkdownChunker(splitter_tokenizer, embedder.max_tokens, embedder.special_tokens)


@pytest.fixture(scope="session")
def demo_pages() -> dict[str, str]:
    """Return the Markdown of each page in the demo crawl, by source URL."""
    pages = {}
    with DELIVERIES.open(encoding="utf-8") as deliveries:
        for line in deliveries:
            body = json.loads(line)
            if body["type"] != "crawl.page":
                continue
            document = body["data"][0]
            if "markdown" in document:
                pages[document["metadata"]["sourceURL"]] = document["markdown"]
    return pages
