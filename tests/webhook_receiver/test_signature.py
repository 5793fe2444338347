"""Tests of X-Firecrawl-Signature verification against a known vector and malformed headers."""

from __future__ import annotations

import pytest
from receiver_support import VECTOR_BODY, VECTOR_SIGNATURE, WEBHOOK_SECRET

from webhook_receiver.signature import SignatureError, sign_body, verify_signature

MALFORMED_DETAIL = "malformed X-Firecrawl-Signature header: expected sha256=<64 hex digits>"


def test_vector_body_is_257_bytes() -> None:
    assert len(VECTOR_BODY) == 257


def test_sign_body_matches_vector() -> None:
    assert sign_body(WEBHOOK_SECRET, VECTOR_BODY) == VECTOR_SIGNATURE


def test_verify_signature_accepts_vector() -> None:
    verify_signature(WEBHOOK_SECRET, VECTOR_BODY, VECTOR_SIGNATURE)


@pytest.mark.parametrize(
    "header",
    [
        VECTOR_SIGNATURE.upper().replace("SHA256=", "sha256="),
        f"  {VECTOR_SIGNATURE}  ",
    ],
    ids=["upper-case-hex", "surrounding-spaces"],
)
def test_verify_signature_accepts_variants(header: str) -> None:
    verify_signature(WEBHOOK_SECRET, VECTOR_BODY, header)


def test_verify_signature_missing_header() -> None:
    with pytest.raises(SignatureError) as caught:
        verify_signature(WEBHOOK_SECRET, VECTOR_BODY, None)

    assert caught.value.detail == "missing X-Firecrawl-Signature header"
    assert caught.value.reason == "missing"


@pytest.mark.parametrize(
    "header",
    [
        "",
        "sha256=",
        "sha256=abc123",
        VECTOR_SIGNATURE.removeprefix("sha256="),
        VECTOR_SIGNATURE.replace("sha256=", "sha1="),
        "sha256=" + "g" * 64,
        VECTOR_SIGNATURE + "00",
        "sha256=" + "0" * 64 + ",sha256=" + "0" * 64,
    ],
    ids=[
        "empty",
        "no-digest",
        "short-digest",
        "no-prefix",
        "wrong-algorithm",
        "non-hex",
        "long-digest",
        "two-signatures",
    ],
)
def test_verify_signature_malformed_header(header: str) -> None:
    with pytest.raises(SignatureError) as caught:
        verify_signature(WEBHOOK_SECRET, VECTOR_BODY, header)

    assert caught.value.detail == MALFORMED_DETAIL
    assert caught.value.reason == "malformed"


@pytest.mark.parametrize(
    ("secret", "body"),
    [
        ("other-secret", VECTOR_BODY),
        (WEBHOOK_SECRET, VECTOR_BODY.replace(b'"success":true', b'"success": true')),
        (WEBHOOK_SECRET, VECTOR_BODY + b"\n"),
        (WEBHOOK_SECRET, b""),
    ],
    ids=["wrong-secret", "reserialised-body", "trailing-newline", "empty-body"],
)
def test_verify_signature_invalid_signature(secret: str, body: bytes) -> None:
    with pytest.raises(SignatureError) as caught:
        verify_signature(secret, body, VECTOR_SIGNATURE)

    assert caught.value.detail == "invalid signature"
    assert caught.value.reason == "invalid"
