"""Rate limiting of repeated log messages, such as one per delivery while the warehouse is down."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

DEFAULT_INTERVAL_S = 10.0


@dataclass
class _KeyState:
    last_logged: float
    suppressed: int = 0


class RepeatLimiter:
    """Allow the first message of each key, then at most one per `interval_s` seconds.

    Thread-safe, because sync routes run in a thread pool.
    """

    def __init__(
        self,
        interval_s: float = DEFAULT_INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._interval_s = interval_s
        self._clock = clock
        self._states: dict[str, _KeyState] = {}
        self._lock = threading.Lock()

    def allow(self, key: str) -> int | None:
        """Return None to suppress this message, else the number of repeats suppressed since
        the last message of `key` that was allowed."""
        now = self._clock()
        with self._lock:
            state = self._states.get(key)
            if state is None:
                self._states[key] = _KeyState(last_logged=now)
                return 0
            if now - state.last_logged < self._interval_s:
                state.suppressed += 1
                return None
            suppressed = state.suppressed
            state.last_logged = now
            state.suppressed = 0
            return suppressed
