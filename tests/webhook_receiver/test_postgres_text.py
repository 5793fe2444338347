"""Tests of the removal of NUL characters and lone surrogates from derived values."""

from __future__ import annotations

import pytest

from webhook_receiver.postgres_text import strip_unstorable_json, strip_unstorable_text


@pytest.mark.parametrize(
    ("text", "cleaned"),
    [
        ("plain", "plain"),
        ("a\x00b", "ab"),
        ("\x00\x00", ""),
        ("a\ud800b", "ab"),
        ("a\udfffb", "ab"),
        ("emoji \U0001f600", "emoji \U0001f600"),
        ("café", "café"),
    ],
    ids=["plain", "nul", "only-nul", "high-surrogate", "low-surrogate", "emoji", "accent"],
)
def test_strip_unstorable_text(text: str, cleaned: str) -> None:
    assert strip_unstorable_text(text) == cleaned


def test_strip_unstorable_json_nested_values() -> None:
    value = {"k\x00": [{"m": "x\x00y"}, 1, 2.5, True, None, "\ud800"]}

    assert strip_unstorable_json(value) == {"k": [{"m": "xy"}, 1, 2.5, True, None, ""]}


def test_strip_unstorable_json_leaves_input() -> None:
    value = {"m": "x\x00y"}

    strip_unstorable_json(value)

    assert value == {"m": "x\x00y"}
