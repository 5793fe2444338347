"""Hybrid search over the index: dense and BM25 candidates fused by RRF, one hit per URL."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine

from pulse_assets.search.fusion import FusedItem, dedupe_by_key
from pulse_assets.search.hybrid import (
    SEARCH_RRF_K,
    STATUS_OK,
    Candidates,
    EmbedderSource,
    OpenStore,
    bm25_candidates,
    dense_candidates,
    rank_candidates,
    top_coverage,
)
from pulse_assets.search.stored import Bm25IndexCache, ChunkRow, crawl_has_chunks, fetch_chunks

__all__ = [
    "CANDIDATE_DEPTH",
    "SearchHit",
    "SearchResults",
    "resolve_hits",
    "retrieve_candidates",
    "search",
]

# Chunks that each retriever contributes to the fusion, or `limit` chunks when it is larger.
CANDIDATE_DEPTH = 50


@dataclass(frozen=True)
class SearchHit:
    """The best chunk of one URL, with its fused score and its 1-based rank in each list.

    `dense_rank` or `bm25_rank` is None when that retriever did not return the chunk.
    """

    url: str
    title: str | None
    text: str
    score: float
    dense_rank: int | None
    bm25_rank: int | None
    crawl_id: str
    chunk_index: int


@dataclass(frozen=True)
class SearchResults:
    """Hits, best first, and the status of each retriever: `ok` or `unavailable: <reason>`."""

    hits: list[SearchHit]
    dense: str = STATUS_OK
    bm25: str = STATUS_OK


def search(
    query: str,
    *,
    crawl_id: str | None,
    limit: int = 10,
    engine: Engine,
    embedder: EmbedderSource,
    open_store: OpenStore,
    bm25_cache: Bm25IndexCache | None = None,
    candidate_depth: int = CANDIDATE_DEPTH,
    rrf_k: float = SEARCH_RRF_K,
    weights: tuple[float, float] | None = None,
) -> SearchResults:
    """Search the chunks of `crawl_id`, or of every crawl when it is None, for `query`.

    Each retriever returns up to max(candidate_depth, limit) chunks, which are fused by RRF
    with `rrf_k` and the (dense, BM25) `weights`, then deduplicated by URL, keeping the best
    chunk of each, and cut to `limit`. Without `weights`, `fusion_weights` sets them from how
    much of the query the best BM25 chunk contains.

    An unknown crawl, or one without chunks, returns no hits and never opens the store. When
    the dense search fails, for example because another process holds the local storage folder
    for longer than `open_store` waits, the hits are BM25 hits alone and `dense` contains the
    reason.

    Raises:
        ValueError: `query` is blank, or `limit` or `candidate_depth` is below 1.
        sqlalchemy.exc.SQLAlchemyError: the warehouse query failed.
    """
    if not query.strip():
        raise ValueError("query must contain a non-space character")
    if limit < 1 or candidate_depth < 1:
        raise ValueError(
            f"limit and candidate_depth must be at least 1, got {limit} and {candidate_depth}"
        )
    if crawl_id is not None and not crawl_has_chunks(engine, crawl_id):
        return SearchResults(hits=[])

    candidates = retrieve_candidates(
        query,
        crawl_id=crawl_id,
        depth=max(candidate_depth, limit),
        engine=engine,
        embedder=embedder,
        open_store=open_store,
        bm25_cache=bm25_cache if bm25_cache is not None else Bm25IndexCache(),
    )
    fused = rank_candidates(candidates, rrf_k=rrf_k, weights=weights)
    hits = resolve_hits(engine, fused, candidates.payloads, limit)
    return SearchResults(hits, dense=candidates.dense_status, bm25=candidates.bm25_status)


def retrieve_candidates(
    query: str,
    *,
    crawl_id: str | None,
    depth: int,
    engine: Engine,
    embedder: EmbedderSource,
    open_store: OpenStore,
    bm25_cache: Bm25IndexCache,
) -> Candidates:
    """Return up to `depth` point ids from each retriever, as `search` fuses them."""
    loaded = bm25_cache.load(engine, crawl_id)
    indexes = list(loaded.indexes.values())
    bm25_ids = bm25_candidates(query, indexes, depth)
    bm25_status = STATUS_OK
    if loaded.errors:
        reasons = "; ".join(f"crawl {crawl}: {error}" for crawl, error in loaded.errors.items())
        bm25_status = f"unavailable: {reasons}"

    dense, dense_status = dense_candidates(query, crawl_id, depth, embedder, open_store)
    return Candidates(
        dense=[point_id for point_id, _payload in dense],
        bm25=bm25_ids,
        dense_status=dense_status,
        bm25_status=bm25_status,
        payloads=dict(dense),
        bm25_coverage=top_coverage(query, indexes, bm25_ids),
    )


def resolve_hits(
    engine: Engine, fused: Sequence[FusedItem], payloads: dict[str, dict[str, Any]], limit: int
) -> list[SearchHit]:
    """Turn fused point ids into hits, keep the best chunk of each URL, and cut to `limit`.

    Text and title come from `webhook.chunks` and `webhook.pages`. A dense candidate whose
    chunk row is gone, because the page was re-chunked since it was indexed, falls back to its
    Qdrant payload. A BM25 candidate without a row is dropped.
    """
    rows = fetch_chunks(engine, [item.item_id for item in fused])
    hits = []
    for item in fused:
        hit = _hit(item, rows.get(item.item_id), payloads.get(item.item_id))
        if hit is not None:
            hits.append(hit)
    return dedupe_by_key(hits, key=lambda hit: hit.url)[:limit]


def _hit(item: FusedItem, row: ChunkRow | None, payload: dict[str, Any] | None) -> SearchHit | None:
    dense_rank, bm25_rank = item.ranks
    if row is not None:
        return SearchHit(
            row.url,
            row.title,
            row.text,
            item.score,
            dense_rank,
            bm25_rank,
            row.crawl_id,
            row.chunk_index,
        )
    if payload is None or not isinstance(payload.get("url"), str):
        return None
    return SearchHit(
        url=payload["url"],
        title=payload.get("title"),
        text=str(payload.get("text", "")),
        score=item.score,
        dense_rank=dense_rank,
        bm25_rank=bm25_rank,
        crawl_id=str(payload.get("crawl_id", "")),
        chunk_index=int(payload.get("chunk_index", 0)),
    )
