"""Text cleaning and hashing shared by the chunker, the index and the warehouse."""

from __future__ import annotations

import hashlib
import re

_SURROGATE = re.compile("[\ud800-\udfff]")


def clean_text(value: str) -> str:
    """Remove what PostgreSQL cannot store in `text` or `jsonb` columns.

    NUL characters are dropped. Surrogate code points cannot be encoded as UTF-8, so a high and low
    surrogate written next to each other become the character they encode, and lone surrogates
    are dropped.
    """
    cleaned = value.replace("\x00", "")
    if _SURROGATE.search(cleaned) is None:
        return cleaned
    # UTF-16 with surrogatepass turns each surrogate into its two bytes, so the decoder joins
    # valid pairs and, with errors="ignore", skips the lone ones.
    utf16 = cleaned.encode("utf-16-le", "surrogatepass")
    return utf16.decode("utf-16-le", "ignore")


def content_hash(text: str) -> str:
    """Return the SHA-256 hex digest of the text's UTF-8 bytes.

    Lone surrogates are hashed as their surrogatepass bytes instead of raising, so hash the
    output of `clean_text` to get the hash of what the warehouse stores.
    """
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
