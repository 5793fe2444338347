"""The `X-API-Secret` check that guards the metrics API."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import HTTPException, Security
from fastapi.security import APIKeyHeader

from webhook_receiver.deps import SettingsDep

API_SECRET_HEADER = "X-API-Secret"

api_secret_scheme = APIKeyHeader(
    name=API_SECRET_HEADER,
    auto_error=False,
    description="The value of PULSE_API_SECRET.",
)


def require_api_secret(
    settings: SettingsDep,
    provided: Annotated[str | None, Security(api_secret_scheme)],
) -> None:
    """Raise 401 unless the request's `X-API-Secret` equals `settings.api_secret`.

    Without a configured secret the routes raise 503, unless insecure development mode is
    on, which leaves them open.
    """
    expected = settings.api_secret or None
    if expected is None:
        if settings.insecure_dev:
            return
        raise HTTPException(
            status_code=503,
            detail=(
                "metrics and search API disabled because PULSE_API_SECRET is not set. Set it to "
                f"the secret that clients send in the {API_SECRET_HEADER} header."
            ),
        )

    if provided is None:
        raise HTTPException(status_code=401, detail=f"missing {API_SECRET_HEADER} header")
    # Starlette decodes header values as Latin-1, so encoding back yields the bytes sent.
    if not hmac.compare_digest(provided.encode("latin-1"), expected.encode("utf-8")):
        raise HTTPException(status_code=401, detail=f"invalid {API_SECRET_HEADER} header")
