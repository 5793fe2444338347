from __future__ import annotations

import hashlib

import pytest

from pulse_assets.indexing.text import clean_text, content_hash

CLEAN_CASES = [
    ("Total:\u0000 42", "Total: 42"),
    ("\x00\x00", ""),
    ("lone high \ud800 surrogate", "lone high  surrogate"),
    ("lone low \udfff surrogate", "lone low  surrogate"),
    ("paired \ud83d\ude00 surrogates", "paired \U0001f600 surrogates"),
    ("reversed \ude00\ud83d pair", "reversed  pair"),
    ("plain text, ünïcode and 🤝", "plain text, ünïcode and 🤝"),
]


@pytest.mark.parametrize(("value", "expected"), CLEAN_CASES)
def test_clean_text_removes_unstorable(value: str, expected: str) -> None:
    assert clean_text(value) == expected


@pytest.mark.parametrize(("value", "expected"), CLEAN_CASES)
def test_clean_text_output_encodes_utf8(value: str, expected: str) -> None:
    cleaned = clean_text(value)
    assert "\x00" not in cleaned
    cleaned.encode("utf-8")


def test_content_hash_is_sha256_hex() -> None:
    assert content_hash("abc") == hashlib.sha256(b"abc").hexdigest()


def test_content_hash_differs_per_text() -> None:
    assert content_hash("refund policy") != content_hash("refund policy.")


def test_content_hash_accepts_lone_surrogate() -> None:
    assert len(content_hash("broken \ud800 text")) == 64
