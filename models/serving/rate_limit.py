"""Per-key rate limits of one serving process: a token bucket per key name, filled at
the key's rate (requests per second) up to a burst of ``max(1, rate)`` requests. A
request finding the bucket empty is refused with 429 and ``Retry-After``: the whole
seconds until a token is back. Kept in memory; each server process limits on its own.

Called from the event loop only (not thread-safe, no lock needed)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable

RATE_LIMITED = ("API key '{name}' is over its rate limit of {rate:g} requests/s; "
                "retry after {retry} s")


class TokenBucket:
    __slots__ = ("rate", "burst", "tokens", "stamp")

    def __init__(self, rate: float, now: float) -> None:
        self.rate, self.burst = rate, max(1.0, rate)
        self.tokens, self.stamp = self.burst, now

    def take(self, now: float) -> float:
        """Take one token; 0.0 when there was one, else the seconds until there is."""
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate


class RateLimiter:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._buckets: dict[str, TokenBucket] = {}

    def retry_after(self, name: str, rate: float | None) -> int | None:
        """None when a request of key ``name`` may go ahead (or the key is unlimited),
        else the whole seconds to wait (at least 1)."""
        if rate is None:
            return None
        now = self._clock()
        bucket = self._buckets.get(name)
        if bucket is None or bucket.rate != rate:
            bucket = self._buckets[name] = TokenBucket(rate, now)
        wait = bucket.take(now)
        return None if wait == 0.0 else max(1, math.ceil(wait))
