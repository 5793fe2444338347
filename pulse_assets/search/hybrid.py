"""Candidate retrieval for hybrid search: dense from Qdrant, BM25 from the stored indexes.

Both retrievers return point ids, best first. `rank_candidates` fuses them by reciprocal rank
fusion, or ranks by one retriever alone, which is how the benchmark compares the three.

The fusion weighs the two lists by how well the query matches words: `fusion_weights` gives
the dense list a small weight when the best BM25 chunk contains all of the query's terms,
and a weight equal to BM25's when it contains half of them or fewer (IDF-weighted). A query
that repeats a page's wording is ranked as BM25 ranks it, and a query in other words than the
page's is ranked by both lists alike. `docs/benchmarks.md` has the measurements behind it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

from pulse_assets.indexing.bm25 import Bm25Index
from pulse_assets.indexing.embedding import Embedder
from pulse_assets.indexing.vector_store import VectorStore
from pulse_assets.search.fusion import FusedItem, reciprocal_rank_fusion

__all__ = [
    "MIN_DENSE_WEIGHT",
    "SEARCH_RRF_K",
    "STATUS_OK",
    "Candidates",
    "EmbedderSource",
    "Mode",
    "OpenStore",
    "bm25_candidates",
    "dense_candidates",
    "fusion_weights",
    "rank_candidates",
    "top_coverage",
]

logger = logging.getLogger(__name__)

STATUS_OK = "ok"

# RRF constant of the search. Below the usual 60, so that a first rank outweighs a fifth
# clearly and a small dense weight only reorders BM25 candidates of nearly equal rank.
SEARCH_RRF_K = 10
# Dense weight when the best BM25 chunk contains every query term.
MIN_DENSE_WEIGHT = 0.1

# An Embedder, or a function that loads one when the dense search first needs it.
EmbedderSource = Embedder | Callable[[], Embedder]
# Opens the vector store for one search. A VectorStore is its own context manager, so
# `lambda: VectorStore.open(...)` fits, and the store is closed right after the search.
OpenStore = Callable[[], AbstractContextManager[VectorStore]]

# Failures that leave search with BM25 results only: a locked local storage folder
# (VectorStoreLockedError is a RuntimeError), a model that fails to load (EmbeddingModelError,
# OSError), a missing collection (local mode raises ValueError) and Qdrant server errors.
_DENSE_FAILURES = (
    RuntimeError,
    ValueError,
    OSError,
    UnexpectedResponse,
    ResponseHandlingException,
)


class Mode(StrEnum):
    """Selection of the candidate lists that a ranking fuses."""

    HYBRID = "hybrid"
    DENSE = "dense"
    BM25 = "bm25"


@dataclass(frozen=True)
class Candidates:
    """The point ids of both retrievers, best first, and the status of each.

    A status is `STATUS_OK` or `unavailable: <reason>`, in which case that list is empty.
    `payloads` maps the point id of each dense candidate to its Qdrant payload.
    `bm25_coverage` is the `Bm25Index.term_coverage` of the query in the first BM25 candidate,
    0.0 when there is none.
    """

    dense: list[str]
    bm25: list[str]
    dense_status: str = STATUS_OK
    bm25_status: str = STATUS_OK
    payloads: dict[str, dict[str, Any]] = field(default_factory=dict)
    bm25_coverage: float = 0.0


def dense_candidates(
    query: str,
    crawl_id: str | None,
    depth: int,
    embedder: EmbedderSource,
    open_store: OpenStore,
) -> tuple[list[tuple[str, dict[str, Any]]], str]:
    """Embed the query and return up to `depth` (point id, payload) pairs and a status.

    The query is embedded before the store is opened, so a local storage folder is held only
    for the search itself. A failure listed in `_DENSE_FAILURES` returns no pairs and the
    status `unavailable: <error>`, and is logged.
    """
    try:
        model = embedder if isinstance(embedder, Embedder) else embedder()
        vector = model.embed([query])[0]
        with open_store() as store:
            found = store.search(vector, crawl_id, depth)
    except _DENSE_FAILURES as error:
        logger.warning(
            "Dense search failed for crawl %s, returning BM25 hits only: %s: %s",
            crawl_id or "(all crawls)",
            type(error).__name__,
            error,
        )
        return [], f"unavailable: {error}"
    return [(point_id, payload) for point_id, _score, payload in found], STATUS_OK


def bm25_candidates(query: str, indexes: Sequence[Bm25Index], depth: int) -> list[str]:
    """Return up to `depth` point ids from the indexes, merged by BM25 score, best first.

    The query is tokenized by `Bm25Index.search` with `bm25.tokenize`, as the documents were.
    """
    scored: list[tuple[float, str]] = []
    for index in indexes:
        scored.extend((score, point_id) for point_id, score in index.search(query, depth))
    # NOTE: scores of different crawls' indexes are compared directly, although each index has
    # its own IDF and mean document length, so the merge across crawls is approximate.
    scored.sort(key=lambda pair: pair[0], reverse=True)
    return [point_id for _score, point_id in scored[:depth]]


def top_coverage(query: str, indexes: Sequence[Bm25Index], point_ids: Sequence[str]) -> float:
    """Return the term coverage of the query in the first of `point_ids`, 0.0 if it is empty."""
    if not point_ids:
        return 0.0
    return max((index.term_coverage(query, point_ids[0]) for index in indexes), default=0.0)


def fusion_weights(bm25_coverage: float) -> tuple[float, float]:
    """Return the (dense, BM25) weights for a query whose best BM25 chunk has this coverage.

    The dense weight falls linearly from 1.0 at a coverage of 0.5 or less to
    `MIN_DENSE_WEIGHT` at full coverage; the BM25 weight is always 1.0.
    """
    dense = min(1.0, max(MIN_DENSE_WEIGHT, 2.0 * (1.0 - bm25_coverage)))
    return dense, 1.0


def rank_candidates(
    candidates: Candidates,
    mode: Mode = Mode.HYBRID,
    rrf_k: float = SEARCH_RRF_K,
    weights: tuple[float, float] | None = None,
) -> list[FusedItem]:
    """Rank the candidates by RRF over the lists that `mode` selects, best first.

    Each item's `ranks` is (dense rank, BM25 rank) in every mode. With one list, the order is
    that list's and the score is weight / (rrf_k + rank). `weights` are (dense, BM25); None
    takes them from `fusion_weights` of the candidates' BM25 coverage.
    """
    dense_weight, bm25_weight = weights or fusion_weights(candidates.bm25_coverage)
    if mode is Mode.DENSE:
        bm25_weight = 0.0
    elif mode is Mode.BM25:
        dense_weight = 0.0
    fused = reciprocal_rank_fusion(
        [candidates.dense, candidates.bm25], k=rrf_k, weights=[dense_weight, bm25_weight]
    )
    if mode is Mode.DENSE:
        return [item for item in fused if item.ranks[0] is not None]
    if mode is Mode.BM25:
        return [item for item in fused if item.ranks[1] is not None]
    return fused
