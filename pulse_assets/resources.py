"""Dagster resources: the warehouse, the Qdrant collection and the embedding model."""

from __future__ import annotations

from pathlib import Path

from dagster import ConfigurableResource, Failure
from pydantic import Field, PrivateAttr
from sqlalchemy import Engine

from pulse_assets.indexing.embedding import Embedder
from pulse_assets.indexing.vector_store import CollectionMismatchError, VectorStore
from pulse_assets.settings import BUNDLED_MODEL_NAME, DEFAULT_BATCH_TOKENS, PulseSettings
from warehouse_sql.connection import create_warehouse_engine, warehouse_url


class WarehouseResource(ConfigurableResource):
    """The PostgreSQL warehouse; an empty URL means the embedded server under `home`."""

    url: str = ""
    home: str = ".pulse"
    record_metrics: bool = True

    _engine: Engine | None = PrivateAttr(default=None)

    def engine(self) -> Engine:
        if self._engine is None:
            settings = PulseSettings(home=Path(self.home), warehouse_url=self.url or None)
            self._engine = create_warehouse_engine(warehouse_url(settings))
        return self._engine


class QdrantResource(ConfigurableResource):
    """The Qdrant collection of chunk vectors: a server URL, or local mode in `path`."""

    url: str = ""
    api_key: str = ""
    path: str = ".pulse/qdrant"
    collection: str = "pulse_chunks"
    lock_timeout_s: float = 120.0

    def open(self) -> VectorStore:
        """Open a client; close it soon, because local mode lets only one client hold the folder."""
        return VectorStore.open(
            url=self.url or None,
            path=None if self.url else Path(self.path),
            api_key=self.api_key or None,
            collection=self.collection,
            lock_timeout_s=self.lock_timeout_s,
        )

    def check_collection(self, dim: int, model_name: str) -> None:
        """Create the collection if missing; raise if its vectors have another size."""
        try:
            with self.open() as store:
                store.ensure_collection(dim, model_name)
        except CollectionMismatchError as error:
            # A wrong collection stays wrong: fail at once rather than after the retries.
            raise Failure(description=str(error), allow_retries=False) from error


class EmbedderResource(ConfigurableResource):
    """A fastembed model, loaded once per process; the default is the bundled MiniLM."""

    model_name: str = BUNDLED_MODEL_NAME
    models_dir: str = ".pulse/models"
    threads: int = 0
    batch_size: int = Field(default=64, description="Largest number of texts in one batch.")
    batch_tokens: int = Field(
        default=DEFAULT_BATCH_TOKENS,
        description="Largest number of padded tokens in one batch, which bounds its memory.",
    )

    _embedder: Embedder | None = PrivateAttr(default=None)

    def load(self) -> Embedder:
        if self._embedder is None:
            self._embedder = Embedder(
                self.model_name,
                Path(self.models_dir),
                threads=self.threads or None,
                batch_size=self.batch_size,
                batch_tokens=self.batch_tokens,
            )
        return self._embedder


def resources_from_settings(settings: PulseSettings) -> dict[str, ConfigurableResource]:
    """Build the resources that the code location uses from `PULSE_*` settings."""
    return {
        "warehouse": WarehouseResource(
            url=settings.warehouse_url or "", home=str(settings.home_dir)
        ),
        "qdrant": QdrantResource(
            url=settings.qdrant_url or "",
            api_key=settings.qdrant_api_key or "",
            path=str(settings.qdrant_path),
            collection=settings.qdrant_collection,
        ),
        "embedder": EmbedderResource(
            model_name=settings.embedding_model,
            models_dir=str(settings.models_dir),
            threads=settings.embedding_threads or 0,
            batch_size=settings.embedding_batch_size,
            batch_tokens=settings.embedding_batch_tokens,
        ),
    }
