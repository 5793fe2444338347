"""Qdrant collection of chunk vectors, in server mode or local mode.

Point ids, payloads and batch planning live in `points`, and waiting for a locked local storage
folder in `local_storage`. Both are re-exported here.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
from qdrant_client import QdrantClient, models
from qdrant_client.http.exceptions import UnexpectedResponse

from pulse_assets.indexing.local_storage import VectorStoreLockedError, open_local_client
from pulse_assets.indexing.points import PointRecord, plan_batches, point_id

__all__ = [
    "CollectionMismatchError",
    "PointRecord",
    "VectorStore",
    "VectorStoreLockedError",
    "plan_batches",
    "point_id",
]

logger = logging.getLogger(__name__)

_SCROLL_PAGE_SIZE = 1024
_DELETE_BATCH_SIZE = 1024


class CollectionMismatchError(RuntimeError):
    """The existing collection's vectors do not fit the embedding model."""


class VectorStore:
    """One Qdrant collection of chunk points, filtered by the payload field `crawl_id`."""

    def __init__(self, client: QdrantClient, collection: str, *, local: bool) -> None:
        """Wrap an open client. `VectorStore.open` is the usual way to get one."""
        self._client = client
        self._collection = collection
        self._local = local

    @classmethod
    def open(
        cls,
        *,
        url: str | None,
        path: Path | None,
        api_key: str | None,
        collection: str,
        lock_timeout_s: float = 60.0,
    ) -> VectorStore:
        """Connect to a Qdrant server at `url`, or else open local-mode storage at `path`.

        `path` is ignored when `url` is set. Only one client at a time can hold a local storage
        folder, so opening one that another process holds waits up to `lock_timeout_s` seconds.

        Raises:
            VectorStoreLockedError: the local storage folder was still held after the wait.
        """
        if url is not None:
            return cls(QdrantClient(url=url, api_key=api_key), collection, local=False)
        if path is None:
            raise ValueError("set either url, for a Qdrant server, or path, for local mode")
        return cls(open_local_client(path, lock_timeout_s), collection, local=True)

    @property
    def collection(self) -> str:
        """Name of the Qdrant collection."""
        return self._collection

    def close(self) -> None:
        """Close the client, which releases a local storage folder for other processes."""
        self._client.close()

    def __enter__(self) -> VectorStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def ensure_collection(self, dim: int, model_name: str) -> None:
        """Create the collection with cosine distance if it is missing, or check the existing one.

        An existing collection is never dropped or recreated.

        Raises:
            CollectionMismatchError: the collection exists with another vector size or distance.
        """
        if not self._client.collection_exists(self._collection):
            self._create_collection(dim)
        params = self._client.get_collection(self._collection).config.params.vectors
        if not isinstance(params, models.VectorParams):
            raise CollectionMismatchError(
                f"collection {self._collection!r} has named vectors, but Pulse stores one "
                "unnamed vector per point; re-index into a new collection (set "
                "PULSE_QDRANT_COLLECTION) or delete the collection yourself"
            )
        if params.size != dim:
            raise CollectionMismatchError(
                f"collection {self._collection!r} has vectors of dim {params.size} but model "
                f"{model_name!r} produces dim {dim} (expected dim: {params.size}, got {dim}); "
                "re-index into a new collection (set PULSE_QDRANT_COLLECTION) or delete the "
                "collection yourself"
            )
        if params.distance != models.Distance.COSINE:
            raise CollectionMismatchError(
                f"collection {self._collection!r} uses distance {params.distance.value} but "
                "Pulse searches with Cosine; re-index into a new collection (set "
                "PULSE_QDRANT_COLLECTION) or delete the collection yourself"
            )

    def _create_collection(self, dim: int) -> None:
        vectors = models.VectorParams(size=dim, distance=models.Distance.COSINE)
        try:
            self._client.create_collection(self._collection, vectors_config=vectors)
        except UnexpectedResponse:
            # Another process may have created it first, which the caller then checks.
            if not self._client.collection_exists(self._collection):
                raise
            return
        logger.info("created Qdrant collection %s with dim %d", self._collection, dim)
        # Local mode keeps no payload indexes and warns when asked for one.
        if not self._local:
            # NOTE: server mode is not exercised by the tests, which run local mode only.
            self._client.create_payload_index(
                self._collection, "crawl_id", field_schema=models.PayloadSchemaType.KEYWORD
            )

    def upsert(
        self,
        points: Sequence[PointRecord],
        max_points: int = 256,
        max_bytes: int = 8 * 1024 * 1024,
    ) -> list[int]:
        """Upsert the points in batches planned by `plan_batches`, and return the batch sizes.

        A Qdrant server rejects requests larger than 32 MiB by default, so `max_bytes` must stay
        below the server's `service.max_request_size_mb`.
        """
        sizes = []
        for batch in plan_batches(points, max_points=max_points, max_bytes=max_bytes):
            structs = [
                models.PointStruct(
                    id=point.point_id, vector=_as_list(point.vector), payload=point.payload
                )
                for point in batch
            ]
            self._client.upsert(self._collection, points=structs, wait=True)
            sizes.append(len(batch))
        return sizes

    def delete(self, point_ids: Sequence[str]) -> None:
        """Delete the points with these ids, ignoring ids that have no point."""
        ids = list(point_ids)
        for start in range(0, len(ids), _DELETE_BATCH_SIZE):
            selector = models.PointIdsList(points=ids[start : start + _DELETE_BATCH_SIZE])
            self._client.delete(self._collection, points_selector=selector, wait=True)

    def count(self, crawl_id: str) -> int:
        """Return the exact number of points whose payload `crawl_id` matches."""
        result = self._client.count(
            self._collection, count_filter=_crawl_filter(crawl_id), exact=True
        )
        return result.count

    def point_ids(self, crawl_id: str) -> set[str]:
        """Return the ids of all points whose payload `crawl_id` matches."""
        ids: set[str] = set()
        offset: Any = None
        while True:
            records, offset = self._client.scroll(
                self._collection,
                scroll_filter=_crawl_filter(crawl_id),
                limit=_SCROLL_PAGE_SIZE,
                offset=offset,
                with_payload=False,
                with_vectors=False,
            )
            ids.update(str(record.id) for record in records)
            if offset is None:
                return ids

    def search(
        self, vector: Sequence[float] | np.ndarray, crawl_id: str | None, limit: int
    ) -> list[tuple[str, float, dict[str, Any]]]:
        """Return up to `limit` (point id, cosine score, payload) triples, best first.

        `crawl_id` restricts the search to that crawl's points, and None searches all points.
        """
        query_filter = None if crawl_id is None else _crawl_filter(crawl_id)
        response = self._client.query_points(
            self._collection,
            query=_as_list(vector),
            query_filter=query_filter,
            limit=limit,
            with_payload=True,
        )
        return [(str(point.id), point.score, point.payload or {}) for point in response.points]


def _crawl_filter(crawl_id: str) -> models.Filter:
    condition = models.FieldCondition(key="crawl_id", match=models.MatchValue(value=crawl_id))
    return models.Filter(must=[condition])


def _as_list(vector: Sequence[float] | np.ndarray) -> list[float]:
    if isinstance(vector, np.ndarray):
        return vector.astype(np.float64).tolist()
    return [float(value) for value in vector]
