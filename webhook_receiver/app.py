"""The FastAPI application factory of the webhook receiver."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

import anyio
from fastapi import FastAPI
from sqlalchemy import Engine

from pulse_assets.settings import PulseSettings, load_settings
from webhook_receiver.deps import ReceiverState
from webhook_receiver.known_crawls import KnownCrawls
from webhook_receiver.repeat_limiter import RepeatLimiter
from webhook_receiver.routes import health, metrics, search, webhooks
from webhook_receiver.staging import stage_deliveries
from webhook_receiver.staging_writer import StagingWriter
from webhook_receiver.warehouse import create_receiver_engine

log = logging.getLogger(__name__)


class ReceiverConfigError(RuntimeError):
    """The settings do not allow the receiver to start."""


def create_app(settings: PulseSettings | None = None, engine: Engine | None = None) -> FastAPI:
    """Create the receiver app.

    `settings` default to the `PULSE_*` environment. Without `engine`, the app creates one
    for the configured warehouse and disposes of it at shutdown. A given engine stays
    open. Raises ReceiverConfigError when no webhook secret is set outside insecure
    development mode.
    """
    settings = settings if settings is not None else load_settings()
    webhook_secret = _webhook_secret(settings)

    owns_engine = engine is None
    receiver_engine = engine if engine is not None else create_receiver_engine(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        log.info(
            "Webhook receiver started, signatures %s",
            "checked" if webhook_secret is not None else "NOT checked",
        )
        try:
            yield
        finally:
            # Rows of requests that went away while waiting are still written before the
            # engine closes.
            await app.state.receiver.staging_writer.wait_written()
            if owns_engine:
                receiver_engine.dispose()
            log.info("Webhook receiver stopped")

    app = FastAPI(
        title="Pulse webhook receiver",
        summary="Stores Firecrawl webhook deliveries and serves crawl metrics.",
        version="0.1.0",
        lifespan=lifespan,
    )
    known_crawls = KnownCrawls()
    limiter = anyio.CapacityLimiter(settings.receiver_threads)
    write = partial(stage_deliveries, receiver_engine, known_crawls=known_crawls)
    app.state.receiver = ReceiverState(
        settings=settings,
        engine=receiver_engine,
        webhook_secret=webhook_secret,
        log_limiter=RepeatLimiter(),
        known_crawls=known_crawls,
        staging_limiter=limiter,
        staging_writer=StagingWriter(write, writers=settings.receiver_writers, limiter=limiter),
    )
    app.include_router(webhooks.router)
    app.include_router(metrics.router)
    app.include_router(search.router)
    app.include_router(health.router)
    return app


def _webhook_secret(settings: PulseSettings) -> str | None:
    """Return the secret to verify signatures with, or None in insecure development mode."""
    if settings.webhook_secret:
        return settings.webhook_secret
    if not settings.insecure_dev:
        raise ReceiverConfigError(
            "PULSE_WEBHOOK_SECRET is not set. Set it to the secret of the Firecrawl webhook, "
            "or set PULSE_INSECURE_DEV=true to accept unsigned deliveries during development."
        )
    log.warning(
        "PULSE_WEBHOOK_SECRET is not set and PULSE_INSECURE_DEV is on: webhook signatures "
        "are NOT checked, and any X-Firecrawl-Signature header is ignored"
    )
    return None
