"""Fixtures of the asset helper tests: the real bundled model's chunker and the demo pages."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from pulse_assets.demo import DEMO_DELIVERIES, read_deliveries
from pulse_assets.indexing.chunking import MarkdownChunker
from pulse_assets.indexing.embedding import Embedder
from pulse_assets.indexing.model_bundle import BUNDLED_MODEL_NAME


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Embedder:
    models_dir: Path = tmp_path_factory.mktemp("models")
    return Embedder(BUNDLED_MODEL_NAME, models_dir, threads=2)


@pytest.fixture(scope="module")
def demo_markdowns() -> list[str]:
    """Return the Markdown of each demo page that has one, in delivery order."""
    markdowns = []
    for body in read_deliveries(DEMO_DELIVERIES):
        delivery = json.loads(body)
        if delivery["type"] == "crawl.page" and "markdown" in delivery["data"][0]:
            markdowns.append(delivery["data"][0]["markdown"])
    return markdowns


@pytest.fixture(scope="module")
def make_chunker(model: Embedder) -> Callable[..., MarkdownChunker]:
    """Return a factory of chunkers of the model, of this class and part size."""

    def make(cls: type[MarkdownChunker] = MarkdownChunker, **options: int) -> MarkdownChunker:
        return cls(model.splitter_tokenizer(), model.max_tokens, model.special_tokens, **options)

    return make
