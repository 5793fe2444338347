"""Qdrant point ids, chunk payloads and the planning of bounded upsert batches."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from pulse_assets.indexing.chunking import Chunk

__all__ = [
    "POINT_ID_NAMESPACE",
    "PointRecord",
    "chunk_key",
    "chunk_payload",
    "estimate_request_bytes",
    "plan_batches",
    "point_id",
]

# Changing this namespace changes every point id, so existing points would no longer be found.
POINT_ID_NAMESPACE = uuid.UUID("8a8b83e0-729a-49dd-8fab-0869c6f9a0bf")

# A float64 in shortest round-trip form, such as "-2.2250738585072014e-308", has at most 24
# characters, and a comma follows it in a JSON array.
_MAX_JSON_FLOAT_BYTES = 25
# JSON around one point: {"id":"<uuid>","vector":[],"payload":}, a comma, and spare room.
_POINT_OVERHEAD_BYTES = 96


def point_id(crawl_id: str, url: str, chunk_index: int) -> str:
    """Return the deterministic UUID of a chunk, so that re-indexing a page overwrites it."""
    return str(uuid.uuid5(POINT_ID_NAMESPACE, f"{crawl_id}\n{url}\n{chunk_index}"))


def chunk_key(crawl_id: str, url: str, chunk_index: int) -> str:
    """Return the readable key of a chunk, `crawl_id:url#chunk_index`."""
    return f"{crawl_id}:{url}#{chunk_index}"


def chunk_payload(crawl_id: str, url: str, title: str | None, chunk: Chunk) -> dict[str, Any]:
    """Return the Qdrant payload of a chunk, whose `text` is the chunk's text, not the page."""
    return {
        "crawl_id": crawl_id,
        "url": url,
        "title": title,
        "chunk_index": chunk.index,
        "chunk_key": chunk_key(crawl_id, url, chunk.index),
        "text": chunk.text,
    }


@dataclass
class PointRecord:
    """Qdrant point to upsert: its id, its dense vector and its payload."""

    point_id: str
    vector: Sequence[float] | np.ndarray
    payload: dict[str, Any]


def estimate_request_bytes(point: PointRecord) -> int:
    """Return an upper estimate of the bytes the point adds to a JSON upsert request."""
    payload_bytes = len(json.dumps(point.payload, ensure_ascii=False).encode("utf-8"))
    vector_bytes = len(point.vector) * _MAX_JSON_FLOAT_BYTES
    return _POINT_OVERHEAD_BYTES + len(point.point_id) + vector_bytes + payload_bytes


def plan_batches(
    points: Sequence[PointRecord], max_points: int = 256, max_bytes: int = 8 * 1024 * 1024
) -> list[list[PointRecord]]:
    """Group points, in order, into batches of at most `max_points` and `max_bytes` each.

    Bytes are estimated by `estimate_request_bytes`. A point whose estimate alone exceeds
    `max_bytes` is sent in a batch of its own, because a point cannot be split.
    """
    if max_points < 1:
        raise ValueError(f"max_points must be at least 1, got {max_points}")
    if max_bytes < 1:
        raise ValueError(f"max_bytes must be at least 1, got {max_bytes}")
    batches: list[list[PointRecord]] = []
    batch: list[PointRecord] = []
    batch_bytes = 0
    for point in points:
        point_bytes = estimate_request_bytes(point)
        if batch and (len(batch) >= max_points or batch_bytes + point_bytes > max_bytes):
            batches.append(batch)
            batch = []
            batch_bytes = 0
        batch.append(point)
        batch_bytes += point_bytes
    if batch:
        batches.append(batch)
    return batches
