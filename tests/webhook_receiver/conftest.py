"""Fixtures for the receiver tests: settings and a TestClient on the real warehouse."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from receiver_support import WEBHOOK_SECRET, PostDelivery, make_settings
from sqlalchemy import Engine

from pulse_assets.settings import PulseSettings
from webhook_receiver.app import create_app
from webhook_receiver.signature import sign_body


@pytest.fixture
def settings(tmp_path: Path) -> PulseSettings:
    return make_settings(tmp_path)


@pytest.fixture
def client(settings: PulseSettings, engine: Engine) -> Iterator[TestClient]:
    with TestClient(create_app(settings, engine)) as test_client:
        yield test_client


@pytest.fixture
def post_delivery(client: TestClient) -> PostDelivery:
    """Return a function that posts raw bytes to the webhook route, signed by default."""

    def post(
        body: bytes,
        *,
        signature: str | None = None,
        sign: bool = True,
        header_name: str = "X-Firecrawl-Signature",
        test_client: TestClient | None = None,
    ) -> httpx.Response:
        """Post `body`, with `signature` as the header if given, else its real signature
        unless `sign` is False."""
        headers = {"Content-Type": "application/json"}
        if signature is not None:
            headers[header_name] = signature
        elif sign:
            headers[header_name] = sign_body(WEBHOOK_SECRET, body)
        return (test_client or client).post("/webhooks/firecrawl", content=body, headers=headers)

    return post
