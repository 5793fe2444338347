"""Reciprocal rank fusion, the per-mode rankings and deduplication, as pure functions."""

from __future__ import annotations

import pytest

from pulse_assets.indexing.bm25 import Bm25Index
from pulse_assets.search.fusion import FusedItem, dedupe_by_key, reciprocal_rank_fusion
from pulse_assets.search.hybrid import (
    MIN_DENSE_WEIGHT,
    Candidates,
    Mode,
    bm25_candidates,
    fusion_weights,
    rank_candidates,
    top_coverage,
)

RRF_CASES = [
    pytest.param([["a", "b", "c"]], 60, None, ["a", "b", "c"], id="one-list-keeps-order"),
    pytest.param([["a", "b"], ["b", "c"]], 60, None, ["b", "a", "c"], id="both-lists-win"),
    pytest.param([["a"], ["b"]], 60, None, ["a", "b"], id="tie-keeps-first-seen"),
    pytest.param([["a", "x"], ["b", "y"]], 60, None, ["a", "b", "x", "y"], id="ties-by-rank"),
    pytest.param([["a"], ["b"]], 60, [0.5, 1.0], ["b", "a"], id="weight-breaks-tie"),
    pytest.param([["a", "b", "c"], ["c"]], 0, None, ["c", "a", "b"], id="k-zero"),
    pytest.param([[], []], 60, None, [], id="empty-lists"),
    pytest.param([], 60, None, [], id="no-lists"),
]


@pytest.mark.parametrize(("rankings", "k", "weights", "expected"), RRF_CASES)
def test_rrf_orders_fused_ids(
    rankings: list[list[str]], k: float, weights: list[float] | None, expected: list[str]
) -> None:
    fused = reciprocal_rank_fusion(rankings, k=k, weights=weights)

    assert [item.item_id for item in fused] == expected


def test_rrf_scores_and_ranks() -> None:
    fused = reciprocal_rank_fusion([["a", "b"], ["b"]], k=60)

    assert fused[0] == FusedItem("b", 1 / 62 + 1 / 61, (2, 1))
    assert fused[1] == FusedItem("a", 1 / 61, (1, None))


def test_rrf_repeat_counts_once() -> None:
    fused = reciprocal_rank_fusion([["a", "a", "b"]], k=60)

    assert fused == [FusedItem("a", 1 / 61, (1,)), FusedItem("b", 1 / 63, (3,))]


@pytest.mark.parametrize(
    ("k", "weights"),
    [pytest.param(-1, None, id="negative-k"), pytest.param(60, [1.0], id="weights")],
)
def test_rrf_rejects_invalid_arguments(k: float, weights: list[float] | None) -> None:
    with pytest.raises(ValueError):
        reciprocal_rank_fusion([["a"], ["b"]], k=k, weights=weights)


def test_dedupe_keeps_best_per_url() -> None:
    hits = [("u1", "chunk 3"), ("u2", "chunk 0"), ("u1", "chunk 1"), ("u3", "chunk 2")]

    deduped = dedupe_by_key(hits, key=lambda hit: hit[0])

    assert deduped == [("u1", "chunk 3"), ("u2", "chunk 0"), ("u3", "chunk 2")]


MODE_CASES = [
    pytest.param(Mode.DENSE, ["d1", "both", "d3"], id="dense"),
    pytest.param(Mode.BM25, ["both", "b2"], id="bm25"),
    pytest.param(Mode.HYBRID, ["both", "d1", "b2", "d3"], id="hybrid"),
]


@pytest.mark.parametrize(("mode", "expected"), MODE_CASES)
def test_rank_candidates_by_mode(mode: Mode, expected: list[str]) -> None:
    candidates = Candidates(dense=["d1", "both", "d3"], bm25=["both", "b2"])

    ranked = rank_candidates(candidates, mode)

    assert [item.item_id for item in ranked] == expected


def test_rank_candidates_keep_both_ranks() -> None:
    candidates = Candidates(dense=["d1", "both"], bm25=["both"])

    ranked = rank_candidates(candidates, Mode.DENSE)

    assert ranked[1].ranks == (2, 1)


def test_bm25_candidates_merge_by_score() -> None:
    weak = Bm25Index.build(["w1", "w2"], ["lava once", "nothing here"])
    strong = Bm25Index.build(["s1", "s2"], ["lava lava lava flows", "bread"])

    merged = bm25_candidates("lava", [weak, strong], depth=10)

    assert merged == ["s1", "w1"]


def test_bm25_candidates_cut_to_depth() -> None:
    index = Bm25Index.build(["p1", "p2", "p3"], ["lava", "lava ash", "lava ash rock"])

    assert len(bm25_candidates("lava", [index], depth=2)) == 2


@pytest.mark.parametrize(
    ("coverage", "expected"),
    [
        pytest.param(1.0, (MIN_DENSE_WEIGHT, 1.0), id="every-term-found"),
        pytest.param(0.95, (MIN_DENSE_WEIGHT, 1.0), id="floor-holds-near-full"),
        pytest.param(0.75, (0.5, 1.0), id="halfway-down"),
        pytest.param(0.5, (1.0, 1.0), id="half-the-terms"),
        pytest.param(0.0, (1.0, 1.0), id="no-term-found"),
    ],
)
def test_fusion_weights_follow_coverage(coverage: float, expected: tuple[float, float]) -> None:
    assert fusion_weights(coverage) == pytest.approx(expected)


def test_rank_candidates_full_coverage_keeps_bm25_order() -> None:
    candidates = Candidates(dense=["b2", "b1"], bm25=["b1", "b2"], bm25_coverage=1.0)

    ranked = rank_candidates(candidates)

    assert [item.item_id for item in ranked] == ["b1", "b2"]


def test_rank_candidates_no_coverage_weighs_lists_alike() -> None:
    # Equal weights tie b1 and b2, and the tie goes to dense's first rank, read first.
    candidates = Candidates(dense=["b2", "b1"], bm25=["b1", "b2"], bm25_coverage=0.0)

    ranked = rank_candidates(candidates)

    assert [item.item_id for item in ranked] == ["b2", "b1"]
    assert ranked[0].score == pytest.approx(ranked[1].score)


def test_rank_candidates_fixed_weights_override_coverage() -> None:
    candidates = Candidates(dense=["b2", "b1"], bm25=["b1", "b2"], bm25_coverage=1.0)

    ranked = rank_candidates(candidates, weights=(1.0, 0.5))

    assert [item.item_id for item in ranked] == ["b2", "b1"]


def test_top_coverage_uses_first_id() -> None:
    first = Bm25Index.build(["f1"], ["volcano ash"])
    second = Bm25Index.build(["s1", "s2"], ["lava flows", "lava ash cloud"])

    assert top_coverage("lava ash", [first, second], ["s2", "f1"]) == pytest.approx(1.0)
    assert top_coverage("lava ash", [first, second], []) == 0.0
