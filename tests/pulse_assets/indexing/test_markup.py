from __future__ import annotations

import pytest

from pulse_assets.indexing.markup import is_markup_only


@pytest.mark.parametrize(
    "text",
    [
        "```",
        "```python",
        "~~~ js",
        "///",
        "/// tip",
        "!!! note",
        "---",
        "***",
        "___",
        "#",
        "##",
        "|---|---|",
        "| :--- | ---: |",
        "{ #anchor }",
        "{ #path-params .class }",
        "<details>",
        "</div>",
        "- [ ]",
        "```\n---\n```",
    ],
)
def test_markup_only_detects_markup(text: str) -> None:
    assert is_markup_only(text)


@pytest.mark.parametrize(
    "text",
    [
        "# Title",
        "/// details | Translation notes",
        "```python\nx = 1",
        "{ #anchor } Path parameters",
        "| item_id | int |",
        "42",
        "<b>bold</b>",
        "ünïcode",
    ],
)
def test_markup_only_keeps_text(text: str) -> None:
    assert not is_markup_only(text)
