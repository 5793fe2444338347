"""FastAPI dependencies: the receiver's shared state and its settings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import anyio
from fastapi import Depends, Request
from sqlalchemy import Engine

from pulse_assets.settings import PulseSettings
from webhook_receiver.known_crawls import KnownCrawls
from webhook_receiver.repeat_limiter import RepeatLimiter
from webhook_receiver.staging_writer import StagingWriter


@dataclass(frozen=True)
class ReceiverState:
    """Route state that `create_app` keeps on `app.state.receiver`.

    `webhook_secret` is None when signatures are not checked (insecure development mode).
    """

    settings: PulseSettings
    engine: Engine
    webhook_secret: str | None
    log_limiter: RepeatLimiter
    known_crawls: KnownCrawls
    # Worker threads for bodies too large to parse on the loop and for batch writes,
    # `settings.receiver_threads`. Fewer than anyio's default of 40 contend less for the GIL.
    staging_limiter: anyio.CapacityLimiter
    staging_writer: StagingWriter


def get_receiver_state(request: Request) -> ReceiverState:
    state: ReceiverState = request.app.state.receiver
    return state


ReceiverStateDep = Annotated[ReceiverState, Depends(get_receiver_state)]


def get_settings(state: ReceiverStateDep) -> PulseSettings:
    return state.settings


SettingsDep = Annotated[PulseSettings, Depends(get_settings)]
