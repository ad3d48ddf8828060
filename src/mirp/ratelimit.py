"""Token buckets keyed by a string (a client address, an account): the one rate limiter that the
REST doors (api/throttle.py) and the WebSocket offers (signaling/admission.py) both use.

`rate` tokens per second refill each bucket up to `burst`; a key takes one token per attempt.
In process on purpose: no extra service and no network round trip per request (a cluster's
nodes count apart; docs/operations.md says so). Memory follows the keys active recently: buckets
that are full again say nothing and are forgotten when the table is swept.
"""

from __future__ import annotations

import time
from collections.abc import Callable

SWEEP_EVERY_S = 60.0
MAX_KEYS = 100_000  # past this many, the table is swept at once


class TokenBuckets:
    def __init__(self, rate: float, burst: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("a rate limit needs rate > 0 and burst >= 1")
        self.rate = rate
        self.burst = float(burst)
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, when)
        self._swept = clock()

    def take(self, key: str) -> float:
        """Take one token: 0.0 when allowed, else the seconds until one more is allowed."""
        now = self._clock()
        if now - self._swept > SWEEP_EVERY_S or len(self._buckets) >= MAX_KEYS:
            self._sweep(now)
        tokens, when = self._buckets.get(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - when) * self.rate)
        if tokens < 1.0:
            self._buckets[key] = (tokens, now)
            return (1.0 - tokens) / self.rate
        self._buckets[key] = (tokens - 1.0, now)
        return 0.0

    def __len__(self) -> int:
        return len(self._buckets)

    def _sweep(self, now: float) -> None:
        self._swept = now
        self._buckets = {
            key: (tokens, when) for key, (tokens, when) in self._buckets.items()
            if tokens + (now - when) * self.rate < self.burst
        }
