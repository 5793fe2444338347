from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pulse_assets.indexing.embedding import Embedder, EmbeddingModelError, token_batches
from pulse_assets.indexing.model_bundle import BUNDLED_MODEL_NAME

QUERY = "How do I declare path parameters?"
RELATED = (
    "You can declare path parameters or variables with the same syntax used by Python format "
    "strings, like /items/{item_id}."
)
UNRELATED = "Bake the bread at 220 degrees for thirty minutes until the crust is golden."
MIXED_LENGTH_TEXTS = [
    "A long text " + "about query parameters and validation " * 20,
    "short",
    "A medium sized sentence about response models.",
    "",
    "tiny text",
    "Another long text " + "about dependencies and security scopes " * 12,
]


@pytest.fixture(scope="module")
def small_batch_embedder(models_dir: Path) -> Embedder:
    """Return a second embedder, which also registers the bundled model a second time."""
    return Embedder(BUNDLED_MODEL_NAME, models_dir, threads=1, batch_size=2)


def cosine(left: np.ndarray, right: np.ndarray) -> float:
    return float(left @ right / (np.linalg.norm(left) * np.linalg.norm(right)))


@pytest.mark.parametrize(
    ("attribute", "expected"),
    [("model_name", BUNDLED_MODEL_NAME), ("dim", 384), ("max_tokens", 256), ("special_tokens", 2)],
)
def test_embedder_property_values(embedder: Embedder, attribute: str, expected: object) -> None:
    assert getattr(embedder, attribute) == expected


def test_embed_returns_float32_rows(embedder: Embedder) -> None:
    vectors = embedder.embed(["first text", "second text", "third text"])
    assert vectors.shape == (3, 384)
    assert vectors.dtype == np.float32


def test_embed_empty_input_shape(embedder: Embedder) -> None:
    vectors = embedder.embed([])
    assert vectors.shape == (0, 384)
    assert vectors.dtype == np.float32


def test_embed_returns_unit_vectors(embedder: Embedder) -> None:
    norms = np.linalg.norm(embedder.embed(MIXED_LENGTH_TEXTS), axis=1)
    assert np.allclose(norms, 1.0, atol=1e-5)


def test_embed_keeps_input_order(small_batch_embedder: Embedder) -> None:
    batched = small_batch_embedder.embed(MIXED_LENGTH_TEXTS)
    for row, text in enumerate(MIXED_LENGTH_TEXTS):
        alone = small_batch_embedder.embed([text])[0]
        assert cosine(batched[row], alone) > 0.9999, text


def test_embed_ranks_related_sentence_higher(embedder: Embedder) -> None:
    query, related, unrelated = embedder.embed([QUERY, RELATED, UNRELATED])
    assert cosine(query, related) > cosine(query, unrelated)


def test_embed_truncates_overlong_text(embedder: Embedder) -> None:
    vectors = embedder.embed(["word " * 2000])
    assert vectors.shape == (1, 384)


def test_splitter_tokenizer_disables_truncation(embedder: Embedder) -> None:
    tokenizer = embedder.splitter_tokenizer()
    assert tokenizer.truncation is None
    assert tokenizer.padding is None
    assert len(tokenizer.encode("word " * 1000).ids) == 1002


def test_splitter_tokenizer_returns_fresh_copy(embedder: Embedder) -> None:
    first = embedder.splitter_tokenizer()
    first.enable_truncation(8)
    assert embedder.splitter_tokenizer().truncation is None


def test_embed_token_bounded_batches_keep_order(models_dir: Path) -> None:
    # 40 tokens at most per batch splits the mixed texts into several small batches.
    bounded = Embedder(BUNDLED_MODEL_NAME, models_dir, threads=1, batch_tokens=40)
    assert len(bounded.batches(MIXED_LENGTH_TEXTS)) > 2

    batched = bounded.embed(MIXED_LENGTH_TEXTS)

    for row, text in enumerate(MIXED_LENGTH_TEXTS):
        alone = bounded.embed([text])[0]
        assert cosine(batched[row], alone) > 0.9999, text


def test_batches_order_by_length_within_bounds(embedder: Embedder) -> None:
    texts = ["word " * 200, "one", "word " * 60, "two words", "word " * 100] * 8
    tokenizer = embedder.splitter_tokenizer()
    lengths = [min(len(tokenizer.encode(text).ids), embedder.max_tokens) for text in texts]

    batches = embedder.batches(texts)

    flat = [index for batch in batches for index in batch]
    assert sorted(flat) == list(range(len(texts)))
    assert [lengths[index] for index in flat] == sorted(lengths)
    for batch in batches:
        assert len(batch) <= 64
        assert len(batch) == 1 or len(batch) * max(lengths[index] for index in batch) <= 1024


@pytest.mark.parametrize(
    ("lengths", "max_texts", "max_tokens", "expected"),
    [
        ([1, 2, 3, 4], 2, 100, [[0, 1], [2, 3]]),
        ([10, 10, 10, 30], 8, 40, [[0, 1, 2], [3]]),
        ([5, 5, 15], 8, 40, [[0, 1], [2]]),
        ([50, 60], 8, 40, [[0], [1]]),
        ([], 8, 40, []),
    ],
    ids=["text-bound", "token-bound", "padded-to-last", "each-over-bound-alone", "empty"],
)
def test_token_batches_cases(
    lengths: list[int], max_texts: int, max_tokens: int, expected: list[list[int]]
) -> None:
    indices = list(range(len(lengths)))

    assert token_batches(lengths, indices, max_texts, max_tokens) == expected


def test_embedder_rejects_zero_batch_tokens(models_dir: Path) -> None:
    with pytest.raises(ValueError, match="batch_tokens must be at least 1, got 0"):
        Embedder(BUNDLED_MODEL_NAME, models_dir, batch_tokens=0)


def test_embedder_rejects_zero_batch_size(models_dir: Path) -> None:
    with pytest.raises(ValueError, match="batch_size"):
        Embedder(BUNDLED_MODEL_NAME, models_dir, batch_size=0)


def test_unknown_model_name_raises_clearly(tmp_path: Path) -> None:
    with pytest.raises(EmbeddingModelError) as raised:
        Embedder("pulse/no-such-model", tmp_path)
    assert "'pulse/no-such-model'" in str(raised.value)
    assert BUNDLED_MODEL_NAME in str(raised.value)


def test_uncached_hub_model_raises_clearly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # HF_HUB_OFFLINE makes fastembed read only its cache, so the test opens no connection.
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(EmbeddingModelError) as raised:
        Embedder("BAAI/bge-small-en-v1.5", tmp_path)
    assert "'BAAI/bge-small-en-v1.5'" in str(raised.value)
    assert str(tmp_path / "fastembed") in str(raised.value)
    assert BUNDLED_MODEL_NAME in str(raised.value)
