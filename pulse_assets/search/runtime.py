"""State of a long-lived search caller: the model, loaded at first use, and the BM25 cache."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING

from pulse_assets.search.stored import Bm25IndexCache
from pulse_assets.settings import PulseSettings

# fastembed and qdrant-client take about a second to import, which the receiver would otherwise
# spend at start-up, so they are imported at the first search.
if TYPE_CHECKING:
    from pulse_assets.indexing.embedding import Embedder
    from pulse_assets.indexing.vector_store import VectorStore

__all__ = ["SEARCH_LOCK_TIMEOUT_S", "SearchRuntime"]

# Seconds a search waits for a local storage folder that another process holds. An indexing
# run holds it while it writes points, so a longer write leaves search with BM25 results only.
SEARCH_LOCK_TIMEOUT_S = 15.0


class SearchRuntime:
    """The embedder, vector store settings and BM25 cache for searches under one settings.

    The model is loaded at the first `embedder()` call, not at construction, so a receiver
    that never searches never loads it. Safe to share between threads.
    """

    def __init__(
        self, settings: PulseSettings, lock_timeout_s: float = SEARCH_LOCK_TIMEOUT_S
    ) -> None:
        self.settings = settings
        self.lock_timeout_s = lock_timeout_s
        self.bm25_cache = Bm25IndexCache()
        self._embedder: Embedder | None = None
        self._embedder_lock = threading.Lock()

    @property
    def model_loaded(self) -> bool:
        """Whether `embedder()` has loaded the model."""
        return self._embedder is not None

    def embedder(self) -> Embedder:
        """Return the settings' embedding model, loading it on the first call.

        Raises:
            EmbeddingModelError: the model could not be loaded. The next call tries again.
        """
        from pulse_assets.indexing.embedding import Embedder

        with self._embedder_lock:
            if self._embedder is None:
                self._embedder = Embedder(
                    self.settings.embedding_model,
                    self.settings.models_dir,
                    threads=self.settings.embedding_threads,
                    batch_size=self.settings.embedding_batch_size,
                    batch_tokens=self.settings.embedding_batch_tokens,
                )
            return self._embedder

    def open_store(self) -> VectorStore:
        """Open the vector store, waiting up to `lock_timeout_s` for a local storage folder.

        Raises:
            VectorStoreLockedError: another process still held the folder after the wait.
        """
        from pulse_assets.indexing.vector_store import VectorStore

        url = self.settings.qdrant_url or None
        path: Path | None = None if url else self.settings.qdrant_path
        return VectorStore.open(
            url=url,
            path=path,
            api_key=self.settings.qdrant_api_key or None,
            collection=self.settings.qdrant_collection,
            lock_timeout_s=self.lock_timeout_s,
        )
