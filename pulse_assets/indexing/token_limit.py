"""Token counting and cutting of text to a token limit, the fallback behind the chunker."""

from __future__ import annotations

from typing import NamedTuple

from tokenizers import Tokenizer


class Span(NamedTuple):
    """Character range `[start, end)` of a text."""

    start: int
    end: int


def count_tokens(tokenizer: Tokenizer, text: str) -> int:
    """Return the number of tokens in the text, without special tokens."""
    return len(tokenizer.encode(text, add_special_tokens=False).ids)


def trim_span(text: str, span: Span) -> Span | None:
    """Return the span without leading and trailing whitespace, or None if nothing is left."""
    piece = text[span.start : span.end]
    stripped = piece.lstrip()
    if not stripped:
        return None
    start = span.start + len(piece) - len(stripped)
    return Span(start, start + len(stripped.rstrip()))


def cut_to_token_limit(tokenizer: Tokenizer, text: str, max_tokens: int) -> list[Span]:
    """Cut the text into spans of at most `max_tokens` tokens each, special tokens excluded.

    Cuts fall before the first token of a word where one fits, and inside a word only when the
    word alone exceeds the limit. Spans are trimmed of whitespace, and whitespace-only text
    yields no span. The tokenizer must not truncate, or it undercounts.
    """
    if max_tokens < 1:
        raise ValueError(f"max_tokens must be at least 1, got {max_tokens}")
    spans: list[Span] = []
    pending = [Span(0, len(text))]
    while pending:
        span = trim_span(text, pending.pop())
        if span is None:
            continue
        piece = text[span.start : span.end]
        encoding = tokenizer.encode(piece, add_special_tokens=False)
        if len(encoding.ids) <= max_tokens:
            spans.append(span)
            continue
        cut = span.start + _cut_offset(encoding.offsets, encoding.word_ids, max_tokens)
        if not span.start < cut < span.end:
            # Token offsets gave no usable cut, so halve the characters to keep making progress.
            cut = span.start + max(1, (span.end - span.start) // 2)
        # A piece re-tokenized on its own can count differently than inside the whole text,
        # so both halves go back through the loop and get measured again.
        pending.append(Span(cut, span.end))
        pending.append(Span(span.start, cut))
    return spans


def _cut_offset(offsets: list[tuple[int, int]], word_ids: list[int | None], max_tokens: int) -> int:
    """Return the character offset at which the first `max_tokens` tokens end."""
    for index in range(max_tokens, 0, -1):
        if word_ids[index] != word_ids[index - 1]:
            return offsets[index][0]
    return offsets[max_tokens][0]
