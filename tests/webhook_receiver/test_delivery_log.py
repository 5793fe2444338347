"""log_delivery: one line per delivery, with failures that stored nothing rate limited."""

from __future__ import annotations

import logging

import pytest

from webhook_receiver.delivery import DeliveryResult, Outcome
from webhook_receiver.delivery_log import log_delivery
from webhook_receiver.repeat_limiter import RepeatLimiter

DISCONNECTED = DeliveryResult(
    outcome=Outcome.REJECTED,
    status_code=400,
    reason="client disconnected before the receiver read the whole body",
)
STORED_REJECTED = DeliveryResult(
    outcome=Outcome.REJECTED,
    status_code=400,
    delivery_id=7,
    detail="invalid JSON at line 1 column 2: Expecting value",
    reason="invalid body",
)


def delivery_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.name == "webhook_receiver.deliveries"
    ]


def test_log_delivery_disconnects_rate_limited(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="webhook_receiver.deliveries")
    limiter = RepeatLimiter()

    for _ in range(5):
        log_delivery(limiter, DISCONNECTED, 1.0)

    [line] = delivery_lines(caplog)
    assert "outcome=rejected status=400" in line
    assert "client disconnected before the receiver read the whole body" in line


def test_log_delivery_stored_rejections_each_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="webhook_receiver.deliveries")
    limiter = RepeatLimiter()

    for _ in range(3):
        log_delivery(limiter, STORED_REJECTED, 1.0)

    lines = delivery_lines(caplog)
    assert len(lines) == 3
    assert all("delivery_id=7" in line for line in lines)
