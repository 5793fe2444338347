"""Reciprocal rank fusion of ranked lists, and deduplication of ranked hits by URL.

Reciprocal rank fusion (RRF) scores an item as the sum, over the lists that contain it, of
weight / (k + rank), with ranks counted from 1. It needs no score normalization, so it can
combine cosine similarities and BM25 scores, whose scales differ. The default k = 60 is the
constant of Cormack, Clarke and Buettcher, "Reciprocal Rank Fusion outperforms Condorcet and
individual Rank Learning Methods", SIGIR 2009, doi:10.1145/1571941.1572114.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import TypeVar

__all__ = ["RRF_K", "FusedItem", "dedupe_by_key", "reciprocal_rank_fusion"]

RRF_K = 60

Item = TypeVar("Item")
Key = TypeVar("Key", bound=Hashable)


@dataclass(frozen=True)
class FusedItem:
    """An item of the fused ranking with its RRF score and its 1-based rank in each list.

    `ranks[i]` is None when list i does not contain the item.
    """

    item_id: str
    score: float
    ranks: tuple[int | None, ...]


def reciprocal_rank_fusion(
    rankings: Sequence[Sequence[str]],
    k: float = RRF_K,
    weights: Sequence[float] | None = None,
) -> list[FusedItem]:
    """Fuse ranked lists of item ids, best first, into one list ordered by RRF score.

    An id repeated within one list counts at its first, best rank only. Ties in score keep
    the order in which the ids first appear, reading the lists in turn rank by rank, so the
    result does not depend on set or dict ordering.

    Raises:
        ValueError: `k` is negative, or `weights` does not have one weight per list.
    """
    if k < 0:
        raise ValueError(f"RRF k must be 0 or more, got {k}")
    if weights is None:
        weights = [1.0] * len(rankings)
    if len(weights) != len(rankings):
        raise ValueError(f"got {len(weights)} weights for {len(rankings)} ranked lists")

    ranks: dict[str, list[int | None]] = {}
    for position, ranking in enumerate(rankings):
        for rank, item_id in enumerate(ranking, start=1):
            item_ranks = ranks.setdefault(item_id, [None] * len(rankings))
            if item_ranks[position] is None:
                item_ranks[position] = rank

    first_seen = _first_seen_order(rankings)
    fused = [
        FusedItem(item_id, _rrf_score(item_ranks, k, weights), tuple(item_ranks))
        for item_id, item_ranks in ranks.items()
    ]
    fused.sort(key=lambda item: (-item.score, first_seen[item.item_id]))
    return fused


def dedupe_by_key(items: Iterable[Item], key: Callable[[Item], Key]) -> list[Item]:
    """Keep the first item of each key, in input order, so a ranking keeps its best per key."""
    seen: set[Key] = set()
    kept = []
    for item in items:
        item_key = key(item)
        if item_key in seen:
            continue
        seen.add(item_key)
        kept.append(item)
    return kept


def _rrf_score(ranks: Sequence[int | None], k: float, weights: Sequence[float]) -> float:
    return sum(
        weight / (k + rank) for rank, weight in zip(ranks, weights, strict=True) if rank is not None
    )


def _first_seen_order(rankings: Sequence[Sequence[str]]) -> dict[str, int]:
    """Number each id by when it first appears, reading rank 1 of every list, then rank 2."""
    order: dict[str, int] = {}
    depth = max((len(ranking) for ranking in rankings), default=0)
    for rank in range(depth):
        for ranking in rankings:
            if rank < len(ranking):
                order.setdefault(ranking[rank], len(order))
    return order
