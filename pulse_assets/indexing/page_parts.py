"""Cutting of a long Markdown page before its headings, so that its parts chunk in parallel."""

from __future__ import annotations

import re

__all__ = ["PART_CHARS", "heading_parts"]

# Pages up to this many characters stay one part. The demo crawl's longest page, its release
# notes, has about 690,000 characters, and all other pages have fewer than 50,000.
PART_CHARS = 50_000

_HEADING = re.compile(r"#{1,6}[ \t]")
_FENCE = re.compile(r"[ ]{0,3}(`{3,}|~{3,})")


def heading_parts(text: str, part_chars: int = PART_CHARS) -> list[str]:
    """Cut `text` before heading lines into consecutive parts of about `part_chars` each.

    A cut goes before the last heading that keeps the part within `part_chars`, or before the
    first heading after that when there is none, so a part can be longer. Headings inside code
    fences are not headings. The parts joined give `text` back, and a text without headings
    stays one part.

    Raises:
        ValueError: `part_chars` is below 1.
    """
    if part_chars < 1:
        raise ValueError(f"part_chars must be at least 1, got {part_chars}")
    if len(text) <= part_chars:
        return [text]

    starts = [0]
    fitting: int | None = None
    for offset in _heading_offsets(text):
        if offset - starts[-1] > part_chars and fitting is not None:
            starts.append(fitting)
            fitting = None
        if offset - starts[-1] <= part_chars:
            fitting = offset
        else:
            # No heading fits since the last cut, so this part runs to the next heading.
            starts.append(offset)
    if len(text) - starts[-1] > part_chars and fitting is not None:
        starts.append(fitting)
    ends = [*starts[1:], len(text)]
    return [text[begin:end] for begin, end in zip(starts, ends, strict=True)]


def _heading_offsets(text: str) -> list[int]:
    """Return the offsets of heading lines outside code fences, except one at offset 0."""
    offsets = []
    fence: str | None = None
    position = 0
    for line in text.splitlines(keepends=True):
        opening = _FENCE.match(line)
        if fence is None and opening:
            fence = opening.group(1)
        elif fence is not None and opening and opening.group(1).startswith(fence[0] * len(fence)):
            fence = None
        elif fence is None and position > 0 and _HEADING.match(line):
            offsets.append(position)
        position += len(line)
    return offsets
