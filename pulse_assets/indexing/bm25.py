"""BM25 keyword index over chunk texts, serialized as gzip-compressed JSON.

Scoring is BM25+, from rank-bm25's `BM25Plus`: BM25 plus delta * IDF for each query term that a
document contains, with IDF log((N + 1) / df). That IDF stays positive for a term in every
document. BM25Okapi's IDF, log((N - df + 0.5) / (df + 0.5)), is 0 or negative in corpora of two
documents, so there a matching document could score no higher than one without the term.
"""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Sequence
from typing import Any

from rank_bm25 import BM25Plus

__all__ = ["TOKENIZER_NAME", "Bm25Index", "tokenize"]

TOKENIZER_NAME = "lower-word-v1"
_FORMAT_VERSION = 1
_K1 = 1.5
_B = 0.75
_DELTA = 1.0
_WORD = re.compile(r"\w+")


def tokenize(text: str) -> list[str]:
    """Split text into lowercase Unicode word tokens, the same way for queries and documents."""
    return _WORD.findall(text.lower())


class Bm25Index:
    """BM25+ index of documents identified by point id, matching the Qdrant points."""

    def __init__(self, point_ids: Sequence[str], documents: Sequence[list[str]]) -> None:
        """Index already tokenized documents; `Bm25Index.build` tokenizes raw texts."""
        if len(point_ids) != len(documents):
            raise ValueError(
                f"got {len(point_ids)} point ids but {len(documents)} documents; "
                "each document needs exactly one point id"
            )
        if len(set(point_ids)) != len(point_ids):
            raise ValueError("point ids must be unique")
        self._point_ids = list(point_ids)
        self._documents = [list(tokens) for tokens in documents]
        self._postings: dict[str, list[int]] = {}
        for position, tokens in enumerate(self._documents):
            for term in dict.fromkeys(tokens):
                self._postings.setdefault(term, []).append(position)
        # rank-bm25 divides by the corpus size and by the mean document length, so it cannot
        # index an empty corpus, and a corpus without tokens can match no query anyway.
        self._bm25: BM25Plus | None = None
        self._position_by_id: dict[str, int] | None = None
        if self._postings:
            self._bm25 = BM25Plus(self._documents, k1=_K1, b=_B, delta=_DELTA)

    @classmethod
    def build(cls, point_ids: Sequence[str], texts: Sequence[str]) -> Bm25Index:
        """Tokenize the texts with `tokenize` and index them under the given point ids."""
        return cls(point_ids, [tokenize(text) for text in texts])

    def __len__(self) -> int:
        return len(self._point_ids)

    @property
    def point_ids(self) -> list[str]:
        """Point ids of the indexed documents, in index order."""
        return list(self._point_ids)

    def search(self, query: str, limit: int = 10) -> list[tuple[str, float]]:
        """Return up to `limit` (point id, score) pairs, best first.

        Only documents that contain at least one query term are returned. Ties keep index order.
        """
        terms = tokenize(query)
        if self._bm25 is None or limit < 1:
            return []
        candidates = sorted(
            {position for term in terms for position in self._postings.get(term, [])}
        )
        if not candidates:
            return []
        scores = self._bm25.get_batch_scores(terms, candidates)
        ranked = []
        for position, score in zip(candidates, scores, strict=True):
            bonus = _absent_term_bonus(self._bm25, terms, position)
            ranked.append((self._point_ids[position], score - bonus))
        ranked.sort(key=lambda pair: pair[1], reverse=True)
        return ranked[:limit]

    def term_coverage(self, query: str, point_id: str) -> float:
        """Return the IDF-weighted share of the query's distinct terms that the document contains.

        1.0 means the document contains every query term, 0.0 that it contains none, or that
        the query has no terms or the point id is not in the index. Rare terms weigh more, as
        they do in the BM25 score.
        """
        terms = set(tokenize(query))
        position = self._positions().get(point_id)
        if self._bm25 is None or not terms or position is None:
            return 0.0
        document = set(self._documents[position])
        weights = {term: max(self._bm25.idf.get(term, 0.0), 0.0) for term in terms}
        total = sum(weights.values())
        if total == 0.0:
            return 0.0
        return sum(weight for term, weight in weights.items() if term in document) / total

    def _positions(self) -> dict[str, int]:
        if self._position_by_id is None:
            self._position_by_id = {point: index for index, point in enumerate(self._point_ids)}
        return self._position_by_id

    def to_bytes(self) -> bytes:
        """Serialize the point ids and token lists as gzip-compressed JSON."""
        document = {
            "format": _FORMAT_VERSION,
            "tokenizer": TOKENIZER_NAME,
            "point_ids": self._point_ids,
            "documents": self._documents,
        }
        encoded = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        return gzip.compress(encoded, mtime=0)

    @classmethod
    def from_bytes(cls, data: bytes) -> Bm25Index:
        """Load an index written by `to_bytes`.

        Raises:
            ValueError: the data is not such an index, or its tokenizer differs from
                `TOKENIZER_NAME`, so queries would be tokenized differently than the documents.
        """
        try:
            document: Any = json.loads(gzip.decompress(data))
        except (OSError, EOFError, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise ValueError(f"data is not a gzip-compressed JSON BM25 index: {error}") from error
        if not isinstance(document, dict) or document.get("format") != _FORMAT_VERSION:
            raise ValueError(f"BM25 index data is not in format version {_FORMAT_VERSION}")
        if document.get("tokenizer") != TOKENIZER_NAME:
            raise ValueError(
                f"BM25 index was built with tokenizer {document.get('tokenizer')!r}, but this "
                f"version of Pulse tokenizes queries with {TOKENIZER_NAME!r}; rebuild the index"
            )
        point_ids = document.get("point_ids")
        documents = document.get("documents")
        if not isinstance(point_ids, list) or not isinstance(documents, list):
            raise ValueError("BM25 index data lacks the lists 'point_ids' and 'documents'")
        return cls(point_ids, documents)


def _absent_term_bonus(bm25: BM25Plus, terms: list[str], position: int) -> float:
    """Return the delta * IDF that rank-bm25 adds for query terms the document lacks.

    rank-bm25 0.2.2 adds delta * IDF for every query term to every document. BM25+ adds it only
    for terms the document contains, which subtracting this value restores.
    """
    term_frequencies = bm25.doc_freqs[position]
    return sum(_DELTA * bm25.idf.get(term, 0.0) for term in terms if term not in term_frequencies)
