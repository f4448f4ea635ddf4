"""A per-key rate limit: a token bucket for each API key, in each server worker process.

A key may send `per_minute` requests a minute on average and `burst` at once; a request over the
limit is refused with 429 `rate_limited` and `Retry-After` (seconds until a token is back). The
buckets live in the worker's memory: with `drgaudit serve --workers N` each worker keeps its own, so a
key's total is at most N × the limit (the operating system spreads connections over the workers).
Refused requests do not count.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable


class RateLimiter:
    """Token buckets by key id (see the module docstring)."""

    def __init__(self, *, per_minute: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        if per_minute <= 0 or burst < 1:
            raise ValueError("the rate limit needs per_minute > 0 and burst ≥ 1")
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self.clock = clock
        self._buckets: dict[object, tuple[float, float]] = {}  # key -> (tokens, at)
        self._lock = threading.Lock()

    def take(self, key: object) -> float:
        """Take a token for `key`: 0 when allowed, else the seconds to wait before the next one."""
        now = self.clock()
        with self._lock:
            tokens, at = self._buckets.get(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - at) * self.rate)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                return 0.0
            self._buckets[key] = (tokens, now)
            return (1.0 - tokens) / self.rate

    @staticmethod
    def retry_after(wait: float) -> int:
        """Whole seconds for the Retry-After header (at least 1)."""
        return max(1, math.ceil(wait))
