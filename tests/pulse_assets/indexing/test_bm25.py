from __future__ import annotations

import gzip
import json
import math

import pytest

from pulse_assets.indexing.bm25 import TOKENIZER_NAME, Bm25Index, tokenize

DISJOINT_CORPUS = ["refund policy days", "shipping rates europe"]
SHARED_TERM_CORPUS = ["refund policy", "refund shipping"]
DOCS_CORPUS = [
    "Path parameters are declared with the same syntax as Python format strings.",
    "Query parameters are the key-value pairs after the ? in a URL.",
    "Request bodies are declared with Pydantic models.",
    "Security: OAuth2 with password and Bearer tokens.",
]
POINT_IDS = ["p0", "p1", "p2", "p3"]


def build(texts: list[str]) -> Bm25Index:
    return Bm25Index.build([f"p{position}" for position in range(len(texts))], texts)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Refund Policy!", ["refund", "policy"]),
        ("path_params/{item_id}", ["path_params", "item_id"]),
        ("Größe über 30 Tage", ["größe", "über", "30", "tage"]),
        ("", []),
        ("... --- ///", []),
    ],
)
def test_tokenize_lowercases_words(text: str, expected: list[str]) -> None:
    assert tokenize(text) == expected


def test_tokenizer_name_is_versioned() -> None:
    assert TOKENIZER_NAME == "lower-word-v1"


def test_empty_corpus_searches_empty() -> None:
    index = Bm25Index.build([], [])
    assert len(index) == 0
    assert index.search("refund") == []


def test_tokenless_corpus_searches_empty() -> None:
    assert Bm25Index.build(["p0"], ["... ---"]).search("refund") == []


def test_disjoint_corpus_scores_match_positive() -> None:
    results = build(DISJOINT_CORPUS).search("refund")
    assert [point_id for point_id, _ in results] == ["p0"]
    assert results[0][1] > 0


def test_disjoint_corpus_score_is_bm25_plus() -> None:
    # BM25+: idf * (delta + tf * (k1 + 1) / (tf + k1 * (1 - b + b * len / avglen))), with
    # tf = 1 and len = avglen = 3, so the fraction is 2.5 / 2.5.
    [(_, score)] = build(DISJOINT_CORPUS).search("refund")
    assert score == pytest.approx(math.log(3 / 1) * (1 + 1))


def test_shared_term_corpus_scores_positive() -> None:
    results = dict(build(SHARED_TERM_CORPUS).search("refund"))
    assert results["p0"] > 0
    assert results["p1"] > 0


def test_shared_term_corpus_ranks_both_terms_first() -> None:
    results = build(SHARED_TERM_CORPUS).search("refund policy")
    assert [point_id for point_id, _ in results] == ["p0", "p1"]
    assert results[0][1] > results[1][1] > 0


def test_absent_query_term_adds_nothing() -> None:
    index = build(SHARED_TERM_CORPUS)
    alone = dict(index.search("shipping"))
    with_absent_term = dict(index.search("shipping policy"))
    assert with_absent_term["p1"] == pytest.approx(alone["p1"])


def test_search_skips_unmatched_documents() -> None:
    results = build(DOCS_CORPUS).search("declared models")
    assert {point_id for point_id, _ in results} == {"p0", "p2"}


def test_search_tokenizes_query_like_documents() -> None:
    results = build(DOCS_CORPUS).search("OAUTH2, Bearer?")
    assert results[0][0] == "p3"


def test_search_respects_limit() -> None:
    assert len(build(DOCS_CORPUS).search("are", limit=2)) == 2


def test_search_zero_limit_is_empty() -> None:
    assert build(DOCS_CORPUS).search("are", limit=0) == []


def test_search_unknown_term_is_empty() -> None:
    assert build(DOCS_CORPUS).search("kubernetes") == []


def test_point_ids_keep_build_order() -> None:
    assert build(DOCS_CORPUS).point_ids == POINT_IDS


def test_round_trip_keeps_results() -> None:
    index = build(DOCS_CORPUS)
    loaded = Bm25Index.from_bytes(index.to_bytes())
    assert loaded.point_ids == index.point_ids
    assert loaded.search("declared parameters") == index.search("declared parameters")


def test_round_trip_empty_index() -> None:
    assert len(Bm25Index.from_bytes(Bm25Index.build([], []).to_bytes())) == 0


def test_serialized_index_is_gzip_json() -> None:
    document = json.loads(gzip.decompress(build(SHARED_TERM_CORPUS).to_bytes()))
    assert document["tokenizer"] == TOKENIZER_NAME
    assert document["point_ids"] == ["p0", "p1"]
    assert document["documents"] == [["refund", "policy"], ["refund", "shipping"]]


def test_serialized_index_is_deterministic() -> None:
    assert build(DOCS_CORPUS).to_bytes() == build(DOCS_CORPUS).to_bytes()


def test_from_bytes_rejects_other_tokenizer() -> None:
    document = {"format": 1, "tokenizer": "other-v9", "point_ids": [], "documents": []}
    with pytest.raises(ValueError, match="rebuild the index"):
        Bm25Index.from_bytes(gzip.compress(json.dumps(document).encode()))


@pytest.mark.parametrize(
    "data",
    [
        b"not gzip",
        gzip.compress(b"not json"),
        gzip.compress(b"[1, 2]"),
        gzip.compress(json.dumps({"format": 1, "tokenizer": TOKENIZER_NAME}).encode()),
    ],
)
def test_from_bytes_rejects_invalid_data(data: bytes) -> None:
    with pytest.raises(ValueError):
        Bm25Index.from_bytes(data)


def test_build_rejects_length_mismatch() -> None:
    with pytest.raises(ValueError, match="exactly one point id"):
        Bm25Index.build(["p0"], ["a", "b"])


def test_build_rejects_duplicate_ids() -> None:
    with pytest.raises(ValueError, match="unique"):
        Bm25Index.build(["p0", "p0"], ["a", "b"])


def test_term_coverage_every_term_is_one() -> None:
    index = Bm25Index.build(["p1", "p2"], ["refund policy days", "shipping rates europe"])

    assert index.term_coverage("Refund policy", "p1") == pytest.approx(1.0)


def test_term_coverage_weighs_terms_by_idf() -> None:
    # "refund" is in 2 of 3 documents and "policy" in 1, so "policy" weighs more.
    index = Bm25Index.build(
        ["p1", "p2", "p3"], ["refund policy", "refund shipping", "rates europe"]
    )
    idf_refund, idf_policy = math.log(4 / 2), math.log(4 / 1)

    coverage = index.term_coverage("refund policy", "p2")

    assert coverage == pytest.approx(idf_refund / (idf_refund + idf_policy))


@pytest.mark.parametrize(
    ("query", "point_id"),
    [
        pytest.param("refund", "missing", id="unknown-point"),
        pytest.param("!!", "p1", id="no-query-terms"),
        pytest.param("volcano", "p1", id="term-not-in-corpus"),
    ],
)
def test_term_coverage_without_match_is_zero(query: str, point_id: str) -> None:
    index = Bm25Index.build(["p1"], ["refund policy"])

    assert index.term_coverage(query, point_id) == 0.0


def test_term_coverage_of_empty_index_is_zero() -> None:
    assert Bm25Index.build([], []).term_coverage("refund", "p1") == 0.0
