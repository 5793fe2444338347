"""Tests of the rate limiter for repeated log messages, on a fake clock."""

from __future__ import annotations

from webhook_receiver.repeat_limiter import RepeatLimiter


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_first_message_allowed() -> None:
    limiter = RepeatLimiter(interval_s=10, clock=FakeClock())

    assert limiter.allow("warehouse") == 0


def test_repeat_within_interval_suppressed() -> None:
    clock = FakeClock()
    limiter = RepeatLimiter(interval_s=10, clock=clock)
    limiter.allow("warehouse")
    clock.now += 9.9

    assert limiter.allow("warehouse") is None


def test_repeat_after_interval_counts_suppressed() -> None:
    clock = FakeClock()
    limiter = RepeatLimiter(interval_s=10, clock=clock)
    limiter.allow("warehouse")
    for _ in range(3):
        clock.now += 1
        limiter.allow("warehouse")
    clock.now += 10

    assert limiter.allow("warehouse") == 3


def test_count_resets_after_allowed_message() -> None:
    clock = FakeClock()
    limiter = RepeatLimiter(interval_s=10, clock=clock)
    limiter.allow("warehouse")
    limiter.allow("warehouse")
    clock.now += 10
    limiter.allow("warehouse")
    clock.now += 10

    assert limiter.allow("warehouse") == 0


def test_keys_limited_independently() -> None:
    limiter = RepeatLimiter(interval_s=10, clock=FakeClock())
    limiter.allow("warehouse")

    assert limiter.allow("signature") == 0
