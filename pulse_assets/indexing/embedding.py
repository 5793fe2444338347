"""Dense text embeddings with fastembed, from the bundled model or a fastembed model name."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from fastembed import TextEmbedding
from fastembed.common.model_description import ModelSource, PoolingType
from tokenizers import Tokenizer

from pulse_assets.indexing.model_bundle import BUNDLED_MODEL_NAME, prepare_bundled_model
from pulse_assets.settings import DEFAULT_BATCH_TOKENS

__all__ = ["Embedder", "EmbeddingModelError", "token_batches"]

_BUNDLED_MODEL_DIM = 384
_registration_lock = threading.Lock()


class EmbeddingModelError(RuntimeError):
    """The embedding model could not be loaded or lacks what Pulse needs from it."""


class Embedder:
    """A loaded fastembed text model with the tokenizer facts that chunking needs.

    `BUNDLED_MODEL_NAME` loads the model shipped in Python packages, with no download. Any other
    name is a fastembed model name, cached under `models_dir / "fastembed"` and downloaded from
    the model hub on first use.
    """

    def __init__(
        self,
        model_name: str,
        models_dir: Path,
        threads: int | None = None,
        batch_size: int = 64,
        batch_tokens: int = DEFAULT_BATCH_TOKENS,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        if batch_tokens < 1:
            raise ValueError(f"batch_tokens must be at least 1, got {batch_tokens}")
        self._model_name = model_name
        self._batch_size = batch_size
        self._batch_tokens = batch_tokens
        if model_name == BUNDLED_MODEL_NAME:
            self._model = _load_bundled_model(models_dir, threads)
        else:
            self._model = _load_fastembed_model(model_name, models_dir / "fastembed", threads)

        tokenizer = _model_tokenizer(self._model, model_name)
        truncation = tokenizer.truncation
        if truncation is None:
            raise EmbeddingModelError(
                f"the tokenizer of embedding model {model_name!r} has no truncation limit, so "
                "Pulse cannot size chunks for it; choose a model whose tokenizer sets one"
            )
        self._max_tokens = int(truncation["max_length"])
        self._special_tokens = tokenizer.num_special_tokens_to_add(is_pair=False)
        self._tokenizer_json = tokenizer.to_str()
        # Lengths for batch ordering come from a copy without padding, because the model's own
        # tokenizer pads every encoding of a batch to the longest one.
        self._length_tokenizer = Tokenizer.from_str(self._tokenizer_json)
        self._length_tokenizer.no_padding()
        self._dim = int(self._embed_in_order(["dimension probe"]).shape[1])

    @property
    def model_name(self) -> str:
        """Model name as passed to the constructor."""
        return self._model_name

    @property
    def dim(self) -> int:
        """Number of dimensions of each embedding, measured on a probe text."""
        return self._dim

    @property
    def max_tokens(self) -> int:
        """Model input limit in tokens, special tokens included. Longer inputs are truncated."""
        return self._max_tokens

    @property
    def fastembed_model(self) -> TextEmbedding:
        """The fastembed model itself, for measuring it without Pulse around it."""
        return self._model

    @property
    def special_tokens(self) -> int:
        """Number of special tokens, such as [CLS] and [SEP], the tokenizer adds to one text."""
        return self._special_tokens

    def splitter_tokenizer(self) -> Tokenizer:
        """Return a fresh copy of the model's tokenizer with truncation and padding disabled.

        A text splitter needs the full token count of each piece, which truncation would cap and
        padding would inflate.
        """
        tokenizer = Tokenizer.from_str(self._tokenizer_json)
        tokenizer.no_truncation()
        tokenizer.no_padding()
        return tokenizer

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed the texts and return a float32 array of shape (len(texts), dim) in input order.

        The texts go to the model in the batches of `batches`, and the rows are put back in
        input order afterwards.
        """
        if len(texts) == 0:
            return np.zeros((0, self._dim), dtype=np.float32)
        return self._embed_in_order(list(texts))

    def batches(self, texts: Sequence[str]) -> list[list[int]]:
        """Return the indices of `texts` grouped into the batches that `embed` runs.

        Texts are ordered by token length, so each batch pads little. A batch contains at least
        one text, and at most `batch_size` texts and `batch_tokens` tokens once padded.
        """
        encodings = self._length_tokenizer.encode_batch(list(texts))
        lengths = [len(encoding.ids) for encoding in encodings]
        order = sorted(range(len(texts)), key=lengths.__getitem__)
        return token_batches(
            [lengths[index] for index in order], order, self._batch_size, self._batch_tokens
        )

    def _embed_in_order(self, texts: list[str]) -> np.ndarray:
        parts: list[np.ndarray] = []
        positions: list[int] = []
        for batch in self.batches(texts):
            embedded = self._model.embed([texts[index] for index in batch], batch_size=len(batch))
            parts.append(np.stack(list(embedded)).astype(np.float32, copy=False))
            positions.extend(batch)
        vectors = np.empty((len(texts), parts[0].shape[1]), dtype=np.float32)
        vectors[positions] = np.concatenate(parts)
        return vectors


def token_batches(
    lengths: Sequence[int], indices: Sequence[int], max_texts: int, max_tokens: int
) -> list[list[int]]:
    """Group `indices`, whose token `lengths` ascend, into consecutive batches.

    A batch pads to the length of its last text, so it is closed before that length times its
    text count exceeds `max_tokens`, or before it reaches `max_texts`. A text longer than
    `max_tokens` still gets a batch of its own.
    """
    batches: list[list[int]] = []
    current: list[int] = []
    for length, index in zip(lengths, indices, strict=True):
        if current and (len(current) >= max_texts or (len(current) + 1) * length > max_tokens):
            batches.append(current)
            current = []
        current.append(index)
    if current:
        batches.append(current)
    return batches


# onnxruntime's CPU memory arena stays on: without it, embedding took 1.3 to 2 times as long in
# two measurements. Its size follows the largest batch, which DEFAULT_BATCH_TOKENS bounds.
def _load_bundled_model(models_dir: Path, threads: int | None) -> TextEmbedding:
    folder = prepare_bundled_model(models_dir)
    _register_bundled_model()
    return TextEmbedding(
        BUNDLED_MODEL_NAME,
        cache_dir=str(models_dir / "fastembed"),
        threads=threads,
        specific_model_path=str(folder),
        local_files_only=True,
    )


def _register_bundled_model() -> None:
    """Register the bundled model with fastembed once per process.

    `TextEmbedding.add_custom_model` raises ValueError for a name that is already registered.
    """
    with _registration_lock:
        registered = {model["model"].lower() for model in TextEmbedding.list_supported_models()}
        if BUNDLED_MODEL_NAME.lower() in registered:
            return
        TextEmbedding.add_custom_model(
            model=BUNDLED_MODEL_NAME,
            pooling=PoolingType.MEAN,
            normalization=True,
            # The source is never fetched, because the model is always loaded from a local folder.
            sources=ModelSource(hf=BUNDLED_MODEL_NAME),
            dim=_BUNDLED_MODEL_DIM,
            model_file="model.onnx",
        )


def _load_fastembed_model(model_name: str, cache_dir: Path, threads: int | None) -> TextEmbedding:
    try:
        return TextEmbedding(model_name, cache_dir=str(cache_dir), threads=threads)
    except (ValueError, OSError) as error:
        raise EmbeddingModelError(
            f"embedding model {model_name!r} could not be loaded from the cache {cache_dir} or "
            f"downloaded ({error}). Use the bundled model {BUNDLED_MODEL_NAME!r}, which needs no "
            "download, or download the model into that cache on a machine that can reach the "
            "model hub first"
        ) from error


def _model_tokenizer(model: TextEmbedding, model_name: str) -> Tokenizer:
    tokenizer = getattr(model.model, "tokenizer", None)
    if not isinstance(tokenizer, Tokenizer):
        raise EmbeddingModelError(
            f"embedding model {model_name!r} has no Hugging Face tokenizer, so Pulse cannot "
            "count its tokens to size chunks; choose an ONNX transformer model"
        )
    return tokenizer
