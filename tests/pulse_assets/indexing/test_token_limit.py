from __future__ import annotations

import pytest
from tokenizers import Tokenizer

from pulse_assets.indexing.token_limit import Span, count_tokens, cut_to_token_limit, trim_span

TEXTS = [
    "word " * 50,
    "supercalifragilisticexpialidocious " * 12,
    "pneumonoultramicroscopicsilicovolcanoconiosis" * 2,
    "ünïcode wörds and 🤝 emoji " * 10,
    "one",
]


@pytest.mark.parametrize("text", TEXTS)
@pytest.mark.parametrize("max_tokens", [1, 3, 7])
def test_cut_spans_fit_limit(splitter_tokenizer: Tokenizer, text: str, max_tokens: int) -> None:
    for span in cut_to_token_limit(splitter_tokenizer, text, max_tokens):
        assert count_tokens(splitter_tokenizer, text[span.start : span.end]) <= max_tokens, span


@pytest.mark.parametrize("text", TEXTS)
@pytest.mark.parametrize("max_tokens", [1, 3, 7])
def test_cut_spans_keep_text(splitter_tokenizer: Tokenizer, text: str, max_tokens: int) -> None:
    spans = cut_to_token_limit(splitter_tokenizer, text, max_tokens)
    joined = "".join(text[span.start : span.end] for span in spans)
    assert "".join(joined.split()) == "".join(text.split())


def test_cut_prefers_word_boundaries(splitter_tokenizer: Tokenizer) -> None:
    text = "supercalifragilisticexpialidocious " * 4
    per_word = count_tokens(splitter_tokenizer, "supercalifragilisticexpialidocious")
    spans = cut_to_token_limit(splitter_tokenizer, text, per_word * 2 + 1)
    pieces = [text[span.start : span.end] for span in spans]
    assert pieces == ["supercalifragilisticexpialidocious supercalifragilisticexpialidocious"] * 2


def test_cut_whitespace_yields_nothing(splitter_tokenizer: Tokenizer) -> None:
    assert cut_to_token_limit(splitter_tokenizer, " \n\t ", 4) == []


def test_cut_rejects_zero_limit(splitter_tokenizer: Tokenizer) -> None:
    with pytest.raises(ValueError, match="max_tokens"):
        cut_to_token_limit(splitter_tokenizer, "text", 0)


@pytest.mark.parametrize(
    ("text", "span", "expected"),
    [
        ("  ab  ", Span(0, 6), Span(2, 4)),
        ("ab", Span(0, 2), Span(0, 2)),
        ("a  b", Span(1, 3), None),
    ],
)
def test_trim_span_strips_whitespace(text: str, span: Span, expected: Span | None) -> None:
    assert trim_span(text, span) == expected
