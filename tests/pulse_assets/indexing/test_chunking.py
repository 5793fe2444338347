from __future__ import annotations

import re

import pytest
from semantic_text_splitter import MarkdownSplitter
from tokenizers import Tokenizer

from pulse_assets.indexing.chunking import Chunk, ChunkingResult, MarkdownChunker
from pulse_assets.indexing.embedding import Embedder
from pulse_assets.indexing.markup import is_markup_only
from pulse_assets.indexing.text import clean_text

CUT_OFF_FENCE = "# Title\nintro\n\n```python\nx = 1\n\n## Important Section\ncritical content\n"
TABLE = "| Name | Type |\n|---|---|\n| item_id | int |\n| q | str |\n"
HOME_URL = "https://fastapi.tiangolo.com/"
DEMO_URLS = [
    HOME_URL,
    "https://fastapi.tiangolo.com/tutorial/path-params/",
    "https://fastapi.tiangolo.com/tutorial/query-params-str-validations/",
]
# Smaller limits make the splitter emit more markup-only pieces than the model limit does.
SMALL_MAX_TOKENS = 40
TINY_MAX_TOKENS = 12
SENTENCE = "Path parameters are declared with the same syntax as Python format strings. "
# Ten one-token words fill a chunk of the tiny limit, so the splitter cannot merge markup in.
FULL_LINE = " ".join(["word"] * (TINY_MAX_TOKENS - 2))
MARKUP_LINES = ["```", "```python", "///", "/// tip", "---", "#", "|---|---|", "{ #anchor }"]
MARKUP_LAYOUTS = {
    "between full chunks": "{full}\n\n{markup}\n\n{full}",
    "after full chunk": "{full}\n\n{markup}",
    "before full chunk": "{markup}\n\n{full}",
    "twice between full chunks": "{full}\n\n{markup}\n\n{markup}\n\n{full}",
}
DOCUMENT_NAMES = [
    *DEMO_URLS,
    "cut-off fence",
    "table",
    "nul characters",
    "surrogates",
    "long paragraph",
    "markup between full lines",
]
ChunkCache = dict[tuple[str, str], ChunkingResult]


def paragraph_of_tokens(tokenizer: Tokenizer, min_tokens: int) -> str:
    """Return one heading-free paragraph of at least `min_tokens` tokens."""
    text = ""
    while len(tokenizer.encode(text, add_special_tokens=False).ids) < min_tokens:
        text += SENTENCE
    return text.strip()


def text_without_whitespace(text: str) -> str:
    return re.sub(r"\s+", "", text)


def joined_chunks(chunks: list[Chunk]) -> str:
    return text_without_whitespace("".join(chunk.text for chunk in chunks))


@pytest.fixture(scope="module")
def small_chunker(splitter_tokenizer: Tokenizer) -> MarkdownChunker:
    return MarkdownChunker(splitter_tokenizer, SMALL_MAX_TOKENS, special_tokens=2)


@pytest.fixture(scope="module")
def tiny_chunker(splitter_tokenizer: Tokenizer) -> MarkdownChunker:
    return MarkdownChunker(splitter_tokenizer, TINY_MAX_TOKENS, special_tokens=2)


@pytest.fixture(scope="module")
def sample_documents(demo_pages: dict[str, str], splitter_tokenizer: Tokenizer) -> dict[str, str]:
    documents = {url: demo_pages[url] for url in DEMO_URLS}
    documents["cut-off fence"] = CUT_OFF_FENCE
    documents["table"] = TABLE
    documents["nul characters"] = "Total:\x00 42\n\n## Next\x00 heading\n\nmore\x00text"
    documents["surrogates"] = "broken \ud800 text and a pair \ud83d\ude00 joined"
    documents["long paragraph"] = paragraph_of_tokens(splitter_tokenizer, 900)
    documents["markup between full lines"] = f"{FULL_LINE}\n\n---\n\n{FULL_LINE}"
    return documents


@pytest.fixture(scope="module")
def chunk_cache() -> ChunkCache:
    """Return a cache of results, so each test document is chunked once per chunker."""
    return {}


@pytest.fixture(params=["model limit", "small limit"])
def limit_name(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def any_chunker(
    limit_name: str, chunker: MarkdownChunker, small_chunker: MarkdownChunker
) -> MarkdownChunker:
    return chunker if limit_name == "model limit" else small_chunker


def chunk_sample(
    cache: ChunkCache, chunker: MarkdownChunker, documents: dict[str, str], name: str
) -> ChunkingResult:
    key = (str(chunker.capacity), name)
    if key not in cache:
        cache[key] = chunker.chunk(documents[name])
    return cache[key]


@pytest.mark.parametrize("max_tokens", [256, SMALL_MAX_TOKENS, TINY_MAX_TOKENS, 6])
def test_cut_off_fence_keeps_content(splitter_tokenizer: Tokenizer, max_tokens: int) -> None:
    result = MarkdownChunker(splitter_tokenizer, max_tokens).chunk(CUT_OFF_FENCE)
    assert "critical content" in "\n".join(chunk.text for chunk in result.chunks)


@pytest.mark.parametrize(
    ("max_tokens", "url"), [(256, HOME_URL), *((SMALL_MAX_TOKENS, url) for url in DEMO_URLS)]
)
def test_splitter_alone_leaves_markup_pieces(
    splitter_tokenizer: Tokenizer, demo_pages: dict[str, str], max_tokens: int, url: str
) -> None:
    """Check that the pages used below exercise the markup merge at all."""
    splitter = MarkdownSplitter.from_huggingface_tokenizer(splitter_tokenizer, max_tokens - 2)
    assert any(is_markup_only(piece) for piece in splitter.chunks(demo_pages[url]))


@pytest.mark.parametrize("name", DOCUMENT_NAMES)
def test_chunks_lose_only_whitespace(
    any_chunker: MarkdownChunker,
    sample_documents: dict[str, str],
    chunk_cache: ChunkCache,
    name: str,
) -> None:
    result = chunk_sample(chunk_cache, any_chunker, sample_documents, name)
    assert joined_chunks(result.chunks) == text_without_whitespace(
        clean_text(sample_documents[name])
    )


@pytest.mark.parametrize("name", DOCUMENT_NAMES)
def test_chunks_are_never_blank(
    any_chunker: MarkdownChunker,
    sample_documents: dict[str, str],
    chunk_cache: ChunkCache,
    name: str,
) -> None:
    for chunk in chunk_sample(chunk_cache, any_chunker, sample_documents, name).chunks:
        assert chunk.text.strip(), chunk


# The home page at the small limit has runs of HTML that fill whole chunks, which stay markup-only
# chunks because no word fits beside them.
MARKUP_MERGE_CASES = [
    *(("model limit", name) for name in DOCUMENT_NAMES),
    *(("small limit", name) for name in DOCUMENT_NAMES if name != HOME_URL),
]


@pytest.mark.parametrize(("limit", "name"), MARKUP_MERGE_CASES)
def test_chunks_are_never_markup_only(
    chunker: MarkdownChunker,
    small_chunker: MarkdownChunker,
    sample_documents: dict[str, str],
    chunk_cache: ChunkCache,
    limit: str,
    name: str,
) -> None:
    limit_chunker = chunker if limit == "model limit" else small_chunker
    for chunk in chunk_sample(chunk_cache, limit_chunker, sample_documents, name).chunks:
        assert not is_markup_only(chunk.text), chunk


@pytest.mark.parametrize("name", DOCUMENT_NAMES)
def test_chunks_fit_model_limit(
    chunker: MarkdownChunker,
    embedder: Embedder,
    splitter_tokenizer: Tokenizer,
    sample_documents: dict[str, str],
    chunk_cache: ChunkCache,
    name: str,
) -> None:
    for chunk in chunk_sample(chunk_cache, chunker, sample_documents, name).chunks:
        with_special_tokens = len(splitter_tokenizer.encode(chunk.text).ids)
        assert with_special_tokens <= embedder.max_tokens, chunk


@pytest.mark.parametrize("name", DOCUMENT_NAMES)
def test_chunks_fit_small_limit(
    small_chunker: MarkdownChunker,
    splitter_tokenizer: Tokenizer,
    sample_documents: dict[str, str],
    chunk_cache: ChunkCache,
    name: str,
) -> None:
    for chunk in chunk_sample(chunk_cache, small_chunker, sample_documents, name).chunks:
        with_special_tokens = len(splitter_tokenizer.encode(chunk.text).ids)
        assert with_special_tokens <= SMALL_MAX_TOKENS, chunk


@pytest.mark.parametrize("name", DOCUMENT_NAMES)
def test_chunk_token_count_is_exact(
    any_chunker: MarkdownChunker,
    splitter_tokenizer: Tokenizer,
    sample_documents: dict[str, str],
    chunk_cache: ChunkCache,
    name: str,
) -> None:
    for chunk in chunk_sample(chunk_cache, any_chunker, sample_documents, name).chunks:
        encoding = splitter_tokenizer.encode(chunk.text, add_special_tokens=False)
        assert chunk.token_count == len(encoding.ids), chunk


@pytest.mark.parametrize("name", DOCUMENT_NAMES)
def test_chunk_indices_count_from_zero(
    any_chunker: MarkdownChunker,
    sample_documents: dict[str, str],
    chunk_cache: ChunkCache,
    name: str,
) -> None:
    chunks = chunk_sample(chunk_cache, any_chunker, sample_documents, name).chunks
    assert [chunk.index for chunk in chunks] == list(range(len(chunks)))


@pytest.mark.parametrize("name", DOCUMENT_NAMES)
def test_splitter_output_needs_no_truncation(
    any_chunker: MarkdownChunker,
    sample_documents: dict[str, str],
    chunk_cache: ChunkCache,
    name: str,
) -> None:
    assert chunk_sample(chunk_cache, any_chunker, sample_documents, name).truncated == 0


def test_long_paragraph_spans_several_chunks(
    chunker: MarkdownChunker, sample_documents: dict[str, str], chunk_cache: ChunkCache
) -> None:
    result = chunk_sample(chunk_cache, chunker, sample_documents, "long paragraph")
    assert len(result.chunks) >= 4


def test_demo_page_spans_several_chunks(
    chunker: MarkdownChunker, sample_documents: dict[str, str], chunk_cache: ChunkCache
) -> None:
    # A tokenizer that still truncated would count every page as one short chunk.
    result = chunk_sample(chunk_cache, chunker, sample_documents, DEMO_URLS[1])
    assert len(result.chunks) > 5


@pytest.mark.parametrize("markdown", ["", "   ", "\n\n\t\n", "\x00", "\x00 \n\x00"])
def test_blank_markdown_has_no_chunks(chunker: MarkdownChunker, markdown: str) -> None:
    assert chunker.chunk(markdown).chunks == []


def test_nul_characters_are_removed(chunker: MarkdownChunker) -> None:
    [chunk] = chunker.chunk("Total:\u0000 42").chunks
    assert chunk.text == "Total: 42"


@pytest.mark.parametrize("markup", MARKUP_LINES)
@pytest.mark.parametrize("layout", MARKUP_LAYOUTS)
def test_markup_line_is_never_alone(
    tiny_chunker: MarkdownChunker, splitter_tokenizer: Tokenizer, markup: str, layout: str
) -> None:
    document = MARKUP_LAYOUTS[layout].format(full=FULL_LINE, markup=markup)
    splitter = MarkdownSplitter.from_huggingface_tokenizer(
        splitter_tokenizer, tiny_chunker.capacity
    )
    raw_pieces = splitter.chunks(document)
    assert any(is_markup_only(piece) for piece in raw_pieces), "splitter merged the markup itself"
    result = tiny_chunker.chunk(document)
    for chunk in result.chunks:
        assert not is_markup_only(chunk.text), chunk
        assert chunk.token_count <= tiny_chunker.capacity, chunk
    assert joined_chunks(result.chunks) == text_without_whitespace(document)


def test_markup_borrows_next_chunk_start(tiny_chunker: MarkdownChunker) -> None:
    result = tiny_chunker.chunk(f"{FULL_LINE}\n\n---\n\n{FULL_LINE}")
    texts = [chunk.text for chunk in result.chunks]
    assert texts[0] == FULL_LINE
    assert texts[1].startswith("---\n\nword")


def test_markup_borrows_previous_chunk_end(tiny_chunker: MarkdownChunker) -> None:
    texts = [chunk.text for chunk in tiny_chunker.chunk(f"{FULL_LINE}\n\n---").chunks]
    assert texts[-1].endswith("word\n\n---")


def test_markup_merges_into_roomy_neighbour(tiny_chunker: MarkdownChunker) -> None:
    document = f"{FULL_LINE}\n\n```python\n\nx = 1"
    texts = [chunk.text for chunk in tiny_chunker.chunk(document).chunks]
    assert texts == [FULL_LINE, "```python\n\nx = 1"]


def test_markup_only_document_is_kept(chunker: MarkdownChunker) -> None:
    assert [chunk.text for chunk in chunker.chunk("---").chunks] == ["---"]


def test_chunker_rejects_limit_below_special_tokens(splitter_tokenizer: Tokenizer) -> None:
    with pytest.raises(ValueError, match="must exceed special_tokens"):
        MarkdownChunker(splitter_tokenizer, max_tokens=2, special_tokens=2)


def test_chunker_ignores_tokenizer_truncation(embedder: Embedder) -> None:
    truncating = embedder.splitter_tokenizer()
    truncating.enable_truncation(16)
    chunker = MarkdownChunker(truncating, embedder.max_tokens, embedder.special_tokens)
    chunks = chunker.chunk(" ".join(["word"] * 600)).chunks
    assert max(chunk.token_count for chunk in chunks) > 16


def test_long_page_parts_join_as_one_chunking(
    splitter_tokenizer: Tokenizer, embedder: Embedder, demo_pages: dict[str, str]
) -> None:
    markdown = demo_pages[HOME_URL]
    chunker = MarkdownChunker(
        splitter_tokenizer, embedder.max_tokens, embedder.special_tokens, part_chars=2000
    )

    parts = chunker.parts(markdown)
    result = chunker.chunk(markdown)

    assert len(parts) > 1
    assert [chunk.index for chunk in result.chunks] == list(range(len(result.chunks)))
    assert joined_chunks(result.chunks) == text_without_whitespace(clean_text(markdown))
    assert max(chunk.token_count for chunk in result.chunks) <= chunker.capacity
