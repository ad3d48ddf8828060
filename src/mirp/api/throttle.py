"""Rate limits on the unauthenticated doors (login, signup, registration, join), in process.

Token buckets (mirp/ratelimit.py) keyed by (door, client address) and (door, account): a
burst, then a steady refill. Wrong passwords also earn a growing wait (2, 4, 8... s) per account
and per address, checked BEFORE the password is hashed, so guessing costs the guesser time and
the server no CPU. A refusal is `RateLimited` (429 `rate_limited`, Retry-After).

In-process on purpose: no extra service, no per-request network round trip. A cluster's nodes
count apart (an attacker spreading over N nodes gets N times the rate); docs/api.md says so.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import Request

from mirp.config import Rate, RateLimits
from mirp.errors import RateLimited
from mirp.ratelimit import TokenBuckets

_MAX_KEYS = 100_000  # wrong-password entries kept before the expired ones are swept


@dataclass
class _Failures:
    count: int
    until: float  # no attempt before this (monotonic)


class Throttle:
    """Every door's buckets and the wrong-password back-off of one server process."""

    def __init__(self, rates: RateLimits, clock: Callable[[], float] = time.monotonic) -> None:
        self.rates = rates
        self._clock = clock
        self._doors: dict[tuple[str, Rate], TokenBuckets] = {}
        self._failures: dict[tuple[str, str], _Failures] = {}

    def hit(self, door: str, key: str, rate: Rate) -> None:
        """Take one token from (door, key)'s bucket, or raise RateLimited with the wait."""
        if not self.rates.enabled:
            return
        buckets = self._doors.get((door, rate))
        if buckets is None:
            count, period = rate
            buckets = self._doors[(door, rate)] = TokenBuckets(count / period, count, self._clock)
        wait = buckets.take(key)
        if wait > 0.0:
            raise RateLimited(f"too many {door} attempts: try again later", wait, {"door": door})

    # --- wrong passwords -------------------------------------------------------------------

    def check_login(self, ip: str, account: str) -> None:
        """Refuse at once while a back-off runs for this account or this address."""
        if not self.rates.enabled:
            return
        now = self._clock()
        for key in (("ip", ip), ("account", account)):
            f = self._failures.get(key)
            if f is not None and f.until > now:
                raise RateLimited("too many wrong passwords: wait before trying again",
                                  f.until - now, {"door": "login"})

    def login_failed(self, ip: str, account: str) -> None:
        now = self._clock()
        if len(self._failures) >= _MAX_KEYS:
            self._failures = {k: f for k, f in self._failures.items() if f.until > now}
        for key, free in ((("ip", ip), self.rates.login_free_failures_per_ip),
                          (("account", account), self.rates.login_free_failures_per_account)):
            f = self._failures.setdefault(key, _Failures(0, now))
            f.count += 1
            if f.count > free:
                f.until = now + min(self.rates.login_backoff_max_s, 2.0 ** (f.count - free))

    def login_succeeded(self, account: str) -> None:
        self._failures.pop(("account", account), None)


def account_key(value: str) -> str:
    """A bucket key for an account or a token: a short digest, so the table holds no secret."""
    return hashlib.sha256(value.strip().lower().encode()).hexdigest()[:32]


def client_ip(request: Request) -> str:
    # behind a proxy, uvicorn puts the forwarded address here (--forwarded-allow-ips)
    return request.client.host if request.client else "unknown"
