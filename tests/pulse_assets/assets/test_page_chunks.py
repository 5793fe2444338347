"""`chunk_pages`: pages chunked in parallel threads give what chunking each page alone gives."""

from __future__ import annotations

from collections.abc import Callable

from pulse_assets.assets.page_chunks import chunk_pages
from pulse_assets.indexing.chunking import ChunkingResult, MarkdownChunker


class FailingChunker(MarkdownChunker):
    """A chunker whose parts that contain "broken" fail, as a tokenizer error would."""

    def chunk_part(self, text: str) -> ChunkingResult:
        if "broken" in text:
            raise RuntimeError("tokenizer failed")
        return super().chunk_part(text)


MakeChunker = Callable[..., MarkdownChunker]


def test_chunk_pages_matches_page_by_page(
    make_chunker: MakeChunker, demo_markdowns: list[str]
) -> None:
    chunker = make_chunker()
    markdowns = demo_markdowns[:20]

    results = chunk_pages(chunker, markdowns, threads=2)

    assert [result for result, _ms, _error in results] == [chunker.chunk(m) for m in markdowns]
    assert all(error is None for _result, _ms, error in results)
    assert all(elapsed_ms > 0 for _result, elapsed_ms, _error in results)


def test_chunk_pages_joins_long_page_parts(
    make_chunker: MakeChunker, demo_markdowns: list[str]
) -> None:
    chunker = make_chunker(part_chars=2000)
    markdown = max(demo_markdowns, key=len)

    [(result, _ms, error)] = chunk_pages(chunker, [markdown], threads=2)

    assert len(chunker.parts(markdown)) > 1
    assert error is None
    assert result == chunker.chunk(markdown)


def test_chunk_pages_reports_failed_page(make_chunker: MakeChunker) -> None:
    chunker = make_chunker(FailingChunker)

    results = chunk_pages(chunker, ["# Fine\n\ntext", "# broken page\n\ntext"], threads=2)

    assert results[0][0] is not None
    assert results[0][2] is None
    assert results[1][0] is None
    assert str(results[1][2]) == "tokenizer failed"
