"""Constants and helpers shared by the receiver tests: test settings, signing and reading the
warehouse tables."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine, text

from pulse_assets.settings import PulseSettings

WEBHOOK_SECRET = "test-secret-42"
API_SECRET = "test-api-secret"

# A Firecrawl crawl.page body of 257 bytes and its signature under WEBHOOK_SECRET.
VECTOR_BODY = (
    '{"success":true,"type":"crawl.page","id":"3f1c2a9e-7b4d-4c1e-9a55-0d2e8f6b1a77",'
    '"webhookId":"9d0e4b2c-1111-4a2b-8c3d-5e6f7a8b9c0d","data":[{"markdown":"# Café menu",'
    '"metadata":{"sourceURL":"https://shop.example.test/menu","statusCode":200}}],'
    '"metadata":{}}'
).encode()
VECTOR_SIGNATURE = "sha256=0072cf9c9eb6817f685e184913783fa5054d395a808c743510c66ed6f007bb56"

# The type of the `post_delivery` fixture, which posts raw bytes, signed unless sign=False.
PostDelivery = Callable[..., httpx.Response]


def make_settings(home: Path, **overrides: Any) -> PulseSettings:
    """Return settings for tests.

    Every field that the receiver reads is set explicitly, so PULSE_* variables of the
    environment do not change the outcome.
    """
    fields: dict[str, Any] = {
        "home": home,
        "warehouse_url": None,
        "webhook_secret": WEBHOOK_SECRET,
        "api_secret": API_SECRET,
        "insecure_dev": False,
        "max_body_bytes": 32 * 1024 * 1024,
    }
    fields.update(overrides)
    return PulseSettings(**fields)


def staged_rows(engine: Engine) -> list[dict[str, Any]]:
    """Return every webhook.staged_deliveries row, oldest first, with raw_body as bytes."""
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT * FROM webhook.staged_deliveries ORDER BY id"))
        return [{**row, "raw_body": bytes(row["raw_body"])} for row in rows.mappings().all()]


def crawl_sessions(engine: Engine) -> dict[str, dict[str, Any]]:
    """Return the webhook.crawl_sessions rows keyed by crawl id."""
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT * FROM webhook.crawl_sessions"))
        return {row["crawl_id"]: dict(row) for row in rows.mappings().all()}
