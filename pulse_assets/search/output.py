"""Text and JSON renderings of search results, for the `pulse search` command."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from pulse_assets.search.hybrid import STATUS_OK
from pulse_assets.search.service import SearchResults

__all__ = ["format_results", "results_as_dict"]

_FIRST_LINE_CHARS = 100


def results_as_dict(query: str, crawl_id: str | None, results: SearchResults) -> dict[str, Any]:
    """Return the results in the shape of the `GET /api/search` response."""
    return {
        "query": query,
        "crawl_id": crawl_id,
        "hits": [asdict(hit) for hit in results.hits],
        "dense": results.dense,
        "bm25": results.bm25,
    }


def format_results(results: SearchResults) -> list[str]:
    """Return lines of rank, score, URL and title of each hit, each followed by its text's
    first non-blank line, and a note for each retriever that was unavailable."""
    lines = []
    for rank, hit in enumerate(results.hits, start=1):
        lines.append(f"{rank:>3}. {hit.score:.4f}  {hit.url}  {hit.title or '(no title)'}")
        lines.append(f"     {_first_line(hit.text)}")
    if not results.hits:
        lines.append("No hits.")
    for name, status in (("Dense", results.dense), ("BM25", results.bm25)):
        if status != STATUS_OK:
            lines.append(f"{name} search {status}")
    return lines


def _first_line(text: str) -> str:
    for line in text.splitlines():
        stripped = line.strip()
        if stripped:
            if len(stripped) > _FIRST_LINE_CHARS:
                return stripped[: _FIRST_LINE_CHARS - 3] + "..."
            return stripped
    return ""
