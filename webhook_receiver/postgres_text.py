"""Removal of text that PostgreSQL cannot store in `text` or `jsonb` values.

PostgreSQL rejects the NUL character in both types. A lone UTF-16 surrogate (U+D800 to
U+DFFF), which `json.loads` produces from an unpaired escape such as `"\\ud800"`, has no UTF-8
encoding, so psycopg2 cannot send it. Only derived values are cleaned, and the raw body is
stored as bytes unchanged.
"""

from __future__ import annotations

import re
from typing import Any

# json.loads joins a valid surrogate pair into one code point, so any surrogate left in a
# str is unpaired.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def strip_unstorable_text(text: str) -> str:
    """Return `text` without NUL characters and lone surrogates."""
    return _UNSTORABLE.sub("", text)


def strip_unstorable_json(value: Any) -> Any:
    """Return a copy of a parsed JSON value with unstorable text removed from keys and strings.

    Raises RecursionError for values nested deeper than the interpreter's recursion limit.
    """
    if isinstance(value, str):
        return strip_unstorable_text(value)
    if isinstance(value, list):
        return [strip_unstorable_json(item) for item in value]
    if isinstance(value, dict):
        return {
            strip_unstorable_text(key): strip_unstorable_json(item) for key, item in value.items()
        }
    return value
