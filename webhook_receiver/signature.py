"""Verification of the `X-Firecrawl-Signature` header that Firecrawl sends with each delivery.

Firecrawl signs the raw request body with HMAC-SHA256 keyed by the webhook secret and sends
`sha256=<hex digest>`. The digest must be computed over the bytes as received, because any
re-serialised JSON (other spacing, key order or escapes) gives another digest.
"""

from __future__ import annotations

import hashlib
import hmac
import re

SIGNATURE_HEADER = "X-Firecrawl-Signature"

_SIGNATURE_FORMAT = re.compile(r"sha256=([0-9a-fA-F]{64})")


class SignatureError(Exception):
    """The signature header is missing, malformed or does not match the body."""

    def __init__(self, detail: str, reason: str) -> None:
        super().__init__(detail)
        self.detail = detail
        self.reason = reason


def sign_body(secret: str, body: bytes) -> str:
    """Return the `X-Firecrawl-Signature` header value for `body`."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify_signature(secret: str, body: bytes, header_value: str | None) -> None:
    """Raise SignatureError unless `header_value` is the HMAC-SHA256 of `body` under `secret`.

    `SignatureError.reason` is `missing`, `malformed` or `invalid`, for logs and tests.
    """
    if header_value is None:
        raise SignatureError(f"missing {SIGNATURE_HEADER} header", "missing")

    match = _SIGNATURE_FORMAT.fullmatch(header_value.strip())
    if match is None:
        raise SignatureError(
            f"malformed {SIGNATURE_HEADER} header: expected sha256=<64 hex digits>", "malformed"
        )

    received = bytes.fromhex(match.group(1))
    expected = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()
    if not hmac.compare_digest(received, expected):
        raise SignatureError("invalid signature", "invalid")
