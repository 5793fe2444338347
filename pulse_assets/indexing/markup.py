"""Detection of chunks that contain only Markdown markup and no text worth embedding."""

from __future__ import annotations

import re

# Markup that contains letters but carries no text: fence info strings (```python), MkDocs
# block and admonition openers without a title (/// tip, !!! note), attribute lists
# ({ #anchor .class }) and HTML tags (<details>).
_MARKUP_WITH_LETTERS = re.compile(
    r"""
    ^[ \t]*(?:`{3,}|~{3,})[ \t]*[\w+#.-]*[ \t]*$    # code fence line, with its language
    | ^[ \t]*(?:/{3}|!{3}|\?{3}\+?)[ \t]*[\w-]*[ \t]*$  # block or admonition opener or closer
    | \{[ \t]*[#.][^{}\n]*\}                      # attribute list
    | </?[A-Za-z][^<>\n]*>                        # HTML tag
    """,
    re.MULTILINE | re.VERBOSE,
)
_LETTER_OR_DIGIT = re.compile(r"[^\W_]")


def is_markup_only(text: str) -> bool:
    """Return whether the text has no letter or digit outside Markdown markup.

    Examples are "```", "```python", "---", "#", "|---|---|", "/// tip" and "{ #anchor }".
    """
    content = _MARKUP_WITH_LETTERS.sub("", text)
    return _LETTER_OR_DIGIT.search(content) is None
