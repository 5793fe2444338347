"""Splitting of page Markdown into chunks that fit the embedding model.

`MarkdownChunker` cuts at the largest Markdown unit that fits (heading sections, then blocks,
lines, sentences and words) with semantic-text-splitter. Each chunk contains at most
`max_tokens - special_tokens` tokens, so the chunk plus [CLS] and [SEP] fits the model input.
Chunks are trimmed of whitespace, and together they contain every other character of the
cleaned page, in page order.

A piece from the splitter that contains only markup, such as "```python", "---" or
"{ #anchor }", is merged with a neighbour, in this order of preference:

1. into the next chunk, if both together fit the token limit;
2. into the previous chunk, if both together fit;
3. with the start of the next chunk, unless that chunk is markup too. The next chunk is split
   again so that its first part fits beside the markup, and its rest stays a chunk of its own;
4. with the end of the previous chunk, split the same way.

The token limit is never exceeded to place markup. So markup stays a chunk of its own when no
word of a text neighbour fits beside it: when it nearly fills a chunk by itself, when its
neighbours are such markup chunks, or when the whole page is markup.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from semantic_text_splitter import MarkdownSplitter, TextSplitter
from tokenizers import Tokenizer

from pulse_assets.indexing.markup import is_markup_only
from pulse_assets.indexing.page_parts import PART_CHARS, heading_parts
from pulse_assets.indexing.text import clean_text
from pulse_assets.indexing.token_limit import Span, count_tokens, cut_to_token_limit, trim_span

__all__ = ["Chunk", "ChunkingResult", "MarkdownChunker"]


@dataclass(frozen=True)
class Chunk:
    """Piece of a page, numbered from 0 in page order.

    `token_count` counts the tokens of `text` without the special tokens the model adds.
    """

    index: int
    text: str
    token_count: int


@dataclass(frozen=True)
class ChunkingResult:
    """Chunks of one page and the number of chunks that had to be cut by tokens to fit."""

    chunks: list[Chunk]
    truncated: int

    @classmethod
    def join(cls, results: list[ChunkingResult]) -> ChunkingResult:
        """Join the results of a page's parts, in page order, numbering the chunks from 0."""
        texts = [(chunk.text, chunk.token_count) for result in results for chunk in result.chunks]
        return cls(
            chunks=[Chunk(index, text, tokens) for index, (text, tokens) in enumerate(texts)],
            truncated=sum(result.truncated for result in results),
        )


class MarkdownChunker:
    """Splitter of Markdown into `Chunk`s of at most `max_tokens - special_tokens` tokens."""

    def __init__(
        self,
        tokenizer: Tokenizer,
        max_tokens: int,
        special_tokens: int = 2,
        part_chars: int = PART_CHARS,
    ) -> None:
        capacity = max_tokens - special_tokens
        if capacity < 1:
            raise ValueError(
                f"max_tokens ({max_tokens}) must exceed special_tokens ({special_tokens})"
            )
        self._capacity = capacity
        self._part_chars = part_chars
        # A copy without truncation and padding, which would cap or inflate the counts.
        self._tokenizer = Tokenizer.from_str(tokenizer.to_str())
        self._tokenizer.no_truncation()
        self._tokenizer.no_padding()
        self._splitter = MarkdownSplitter.from_huggingface_tokenizer(self._tokenizer, capacity)

    @property
    def capacity(self) -> int:
        """Maximum number of tokens in one chunk, special tokens excluded."""
        return self._capacity

    def chunk(self, markdown: str) -> ChunkingResult:
        """Split Markdown into chunks, after removing what `clean_text` removes."""
        return ChunkingResult.join([self.chunk_part(part) for part in self.parts(markdown)])

    def parts(self, markdown: str) -> list[str]:
        """Clean the Markdown and cut a long page before headings, as `heading_parts` does.

        Each part can be given to `chunk_part` on its own, in parallel threads too, and
        `ChunkingResult.join` puts their results together as `chunk` returns them.
        """
        return heading_parts(clean_text(markdown), self._part_chars)

    def chunk_part(self, text: str) -> ChunkingResult:
        """Split one part from `parts` into chunks numbered from 0."""
        page = _Page(text, self._tokenizer, self._capacity)
        spans: list[Span] = []
        truncated = 0
        for start, piece in self._splitter.chunk_indices(page.text):
            span = trim_span(page.text, Span(start, start + len(piece)))
            if span is None:
                continue
            if page.fits(span):
                spans.append(span)
                continue
            truncated += 1
            for part in cut_to_token_limit(self._tokenizer, page.slice(span), self._capacity):
                spans.append(Span(span.start + part.start, span.start + part.end))

        spans = page.merge_markup(spans)
        chunks = [
            Chunk(index=index, text=page.slice(span), token_count=page.count(span))
            for index, span in enumerate(spans)
        ]
        return ChunkingResult(chunks=chunks, truncated=truncated)


class _Page:
    """Cleaned text of one page, with token counts of its spans cached."""

    def __init__(self, text: str, tokenizer: Tokenizer, capacity: int) -> None:
        self.text = text
        self._tokenizer = tokenizer
        self._capacity = capacity
        self._counts: dict[Span, int] = {}

    def slice(self, span: Span) -> str:
        return self.text[span.start : span.end]

    def count(self, span: Span) -> int:
        count = self._counts.get(span)
        if count is None:
            count = count_tokens(self._tokenizer, self.slice(span))
            self._counts[span] = count
        return count

    def fits(self, span: Span) -> bool:
        return self.count(span) <= self._capacity

    def is_markup_only(self, span: Span) -> bool:
        return is_markup_only(self.slice(span))

    def merge_markup(self, spans: list[Span]) -> list[Span]:
        """Merge each markup-only span into a neighbour, by the rules in the module docstring."""
        pending = deque(spans)
        done: list[Span] = []
        while pending:
            span = pending.popleft()
            if not self.is_markup_only(span):
                done.append(span)
                continue
            if pending and self.fits(Span(span.start, pending[0].end)):
                pending[0] = Span(span.start, pending[0].end)
                continue
            if done and self.fits(Span(done[-1].start, span.end)):
                done[-1] = Span(done[-1].start, span.end)
                continue
            # Words borrowed from a markup-only neighbour would leave markup on both sides.
            text_follows = bool(pending) and not self.is_markup_only(pending[0])
            head = self._borrow_head(span, pending[0]) if text_follows else None
            if head is not None:
                merged, rest = head
                pending.popleft()
                if rest is not None:
                    pending.appendleft(rest)
                # Checked again, because the borrowed words may be markup too.
                pending.appendleft(merged)
                continue
            tail = self._borrow_tail(done[-1], span) if done else None
            if tail is not None:
                kept, merged = tail
                done[-1] = kept
                pending.appendleft(merged)
                continue
            done.append(span)
        return done

    def _borrow_head(self, markup: Span, following: Span) -> tuple[Span, Span | None] | None:
        """Return the markup joined to the start of `following`, and the rest of `following`."""
        budget = self._capacity - self.count(markup)
        while budget > 0:
            splitter = TextSplitter.from_huggingface_tokenizer(self._tokenizer, budget)
            first_start, first_piece = splitter.chunk_indices(self.slice(following))[0]
            cut = following.start + first_start + len(first_piece)
            merged = Span(markup.start, cut)
            # Tokens of a joined text can outnumber the sum of its parts' tokens.
            overshoot = self.count(merged) - self._capacity
            if overshoot <= 0:
                return merged, trim_span(self.text, Span(cut, following.end))
            budget -= overshoot
        return None

    def _borrow_tail(self, preceding: Span, markup: Span) -> tuple[Span, Span] | None:
        """Return the start of `preceding`, and its end joined to the markup."""
        budget = self._capacity - self.count(markup)
        while budget > 0:
            splitter = TextSplitter.from_huggingface_tokenizer(self._tokenizer, budget)
            pieces = splitter.chunk_indices(self.slice(preceding))
            if len(pieces) < 2:
                return None
            cut = preceding.start + pieces[-1][0]
            kept = trim_span(self.text, Span(preceding.start, cut))
            if kept is None or self.is_markup_only(kept):
                return None
            merged = Span(cut, markup.end)
            overshoot = self.count(merged) - self._capacity
            if overshoot <= 0:
                return kept, merged
            budget -= overshoot
        return None
