"""Reading a request body with a size limit, for bodies with and without Content-Length."""

from __future__ import annotations

import re

from starlette.requests import Request

_DIGITS = re.compile(r"[0-9]+")


class BodyTooLargeError(Exception):
    """The request body is larger than the configured limit."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(f"request body is larger than the limit of {max_bytes} bytes")
        self.max_bytes = max_bytes


class InvalidContentLengthError(ValueError):
    """The Content-Length header is not a non-negative integer."""


async def read_limited_body(request: Request, max_bytes: int) -> bytes:
    """Read the whole body, raising BodyTooLargeError as soon as it exceeds `max_bytes`.

    A declared Content-Length over the limit is rejected before any byte is read. The bytes
    are also counted while reading, which limits chunked bodies and bodies that are longer
    than their Content-Length. Raises starlette's ClientDisconnect if the client leaves.
    """
    declared = request.headers.get("content-length")
    if declared is not None:
        if _DIGITS.fullmatch(declared.strip()) is None:
            raise InvalidContentLengthError(f"invalid Content-Length header: {declared!r}")
        if int(declared) > max_bytes:
            raise BodyTooLargeError(max_bytes)

    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise BodyTooLargeError(max_bytes)
        chunks.append(chunk)
    return b"".join(chunks)
