"""The one log line per delivery, with repeated failures rate limited.

Lines carry ids, outcome, status, reason and timing, never the body or a secret. Failures
that store nothing and tend to repeat in bursts (warehouse down, bad signatures, oversized
bodies, clients that disconnect) are logged on their first occurrence and then at most once
per RepeatLimiter interval (10 s by default), with the number of lines suppressed in between.
"""

from __future__ import annotations

import logging

from webhook_receiver.delivery import DeliveryResult, Outcome
from webhook_receiver.repeat_limiter import RepeatLimiter

log = logging.getLogger("webhook_receiver.deliveries")


def log_delivery(limiter: RepeatLimiter, result: DeliveryResult, elapsed_ms: float) -> None:
    """Log the outcome of one delivery, unless the limiter suppresses a repeated failure."""
    suppressed = 0
    # A failure that stored nothing (bad signature, oversized body, client gone, warehouse
    # down) can repeat in a burst, while a stored delivery gets a line each.
    if result.delivery_id is None and result.outcome in (Outcome.REJECTED, Outcome.UNAVAILABLE):
        allowed = limiter.allow(f"{result.outcome}:{result.status_code}")
        if allowed is None:
            return
        suppressed = allowed

    level = _LEVELS[result.outcome]
    message = "delivery outcome=%s status=%d crawl_id=%r webhook_id=%r type=%r ms=%.1f"
    arguments: list[object] = [
        result.outcome.value,
        result.status_code,
        result.ids.crawl_id,
        result.ids.webhook_id,
        result.ids.event_type,
        elapsed_ms,
    ]
    if result.delivery_id is not None:
        message += " delivery_id=%d"
        arguments.append(result.delivery_id)
    if result.reason is not None:
        message += " reason=%r"
        arguments.append(result.reason)
    if suppressed:
        message += " (%d similar messages suppressed)"
        arguments.append(suppressed)
    log.log(level, message, *arguments)


_LEVELS = {
    Outcome.STORED: logging.INFO,
    Outcome.DUPLICATE: logging.INFO,
    Outcome.REJECTED: logging.WARNING,
    Outcome.UNAVAILABLE: logging.ERROR,
}
