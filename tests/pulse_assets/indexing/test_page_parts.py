"""Cutting long pages before headings: the parts join to the page and start at headings."""

from __future__ import annotations

import pytest

from pulse_assets.indexing.page_parts import heading_parts

SECTION = "## Section {number}\n\n" + "Words of the section body. " * 20 + "\n\n"
PAGE = "# Page title\n\nIntroduction.\n\n" + "".join(
    SECTION.format(number=number) for number in range(20)
)
FENCED = "# Title\n\nintro\n\n```python\n# a comment, not a heading\nx = 1\n```\n\n## After\n"


def test_short_text_stays_one_part() -> None:
    assert heading_parts(PAGE, part_chars=len(PAGE)) == [PAGE]


@pytest.mark.parametrize("part_chars", [1, 100, 600, 1500, 5000])
def test_parts_join_to_text(part_chars: int) -> None:
    assert "".join(heading_parts(PAGE, part_chars)) == PAGE


def test_parts_start_at_headings() -> None:
    parts = heading_parts(PAGE, part_chars=1500)

    assert len(parts) > 1
    for part in parts[1:]:
        assert part.startswith("## Section ")


def test_parts_keep_within_limit_when_headings_allow() -> None:
    parts = heading_parts(PAGE, part_chars=1500)

    assert max(len(part) for part in parts) <= 1500


def test_parts_take_several_sections_each() -> None:
    section_chars = len(SECTION.format(number=10))

    parts = heading_parts(PAGE, part_chars=3 * section_chars)

    assert len(parts) < 20


def test_fenced_heading_is_not_cut() -> None:
    parts = heading_parts(FENCED, part_chars=10)

    assert parts == [FENCED[: FENCED.index("## After")], "## After\n"]


def test_text_without_headings_stays_one_part() -> None:
    text = "No heading here. " * 1000

    assert heading_parts(text, part_chars=100) == [text]


def test_part_chars_below_one_is_rejected() -> None:
    with pytest.raises(ValueError, match="part_chars must be at least 1, got 0"):
        heading_parts(PAGE, part_chars=0)
