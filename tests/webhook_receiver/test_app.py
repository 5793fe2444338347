"""Tests of the app factory: secret checks at start-up, insecure development mode and docs."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from receiver_support import VECTOR_BODY, make_settings, staged_rows
from sqlalchemy import Engine

from webhook_receiver.app import ReceiverConfigError, create_app


@pytest.mark.parametrize("secret", [None, ""], ids=["unset", "empty"])
def test_create_app_requires_webhook_secret(
    tmp_path: Path, engine: Engine, secret: str | None
) -> None:
    settings = make_settings(tmp_path, webhook_secret=secret)

    with pytest.raises(ReceiverConfigError, match="PULSE_WEBHOOK_SECRET"):
        create_app(settings, engine)


def test_insecure_dev_logs_startup_warning(
    tmp_path: Path, engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="webhook_receiver")

    create_app(make_settings(tmp_path, webhook_secret=None, insecure_dev=True), engine)

    warnings = [record for record in caplog.records if record.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "signatures are NOT checked" in warnings[0].getMessage()


@pytest.mark.parametrize(
    "signature",
    [None, "sha256=" + "0" * 64, "garbage"],
    ids=["no-header", "wrong-signature", "malformed-header"],
)
def test_insecure_dev_ignores_signature(
    tmp_path: Path, engine: Engine, signature: str | None
) -> None:
    app = create_app(make_settings(tmp_path, webhook_secret=None, insecure_dev=True), engine)
    headers = {} if signature is None else {"X-Firecrawl-Signature": signature}

    with TestClient(app) as client:
        response = client.post("/webhooks/firecrawl", content=VECTOR_BODY, headers=headers)

    [row] = staged_rows(engine)
    assert response.status_code == 200
    assert row["signature_verified"] is False


def test_insecure_dev_with_secret_checks(tmp_path: Path, engine: Engine) -> None:
    app = create_app(make_settings(tmp_path, insecure_dev=True), engine)

    with TestClient(app) as client:
        response = client.post("/webhooks/firecrawl", content=VECTOR_BODY)

    assert response.status_code == 401
    assert staged_rows(engine) == []


def test_openapi_documents_response_models(client: TestClient) -> None:
    schemas = client.get("/openapi.json").json()["components"]["schemas"]

    for model in ("DeliveryReceipt", "ErrorDetail", "HealthStatus", "CrawlMetrics", "CrawlList"):
        assert model in schemas, model


def test_openapi_lists_routes(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]

    assert set(paths) == {
        "/webhooks/firecrawl",
        "/health",
        "/api/metrics/crawls",
        "/api/metrics/crawls/{crawl_id}",
        "/api/search",
    }


def test_docs_page_served(client: TestClient) -> None:
    assert client.get("/docs").status_code == 200


def test_receiver_threads_limit_staging(tmp_path: Path, engine: Engine) -> None:
    settings = make_settings(tmp_path, webhook_secret="s3cret", receiver_threads=3)

    app = create_app(settings, engine)

    assert app.state.receiver.staging_limiter.total_tokens == 3


def test_receiver_writers_setting_used(tmp_path: Path, engine: Engine) -> None:
    settings = make_settings(tmp_path, webhook_secret="s3cret", receiver_writers=3)

    app = create_app(settings, engine)

    assert app.state.receiver.staging_writer.writers == 3
