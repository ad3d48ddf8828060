"""Admission of `hello`s under a storm, and the per-address offer limit.

Why a gate: each `hello` is authorized against the database (a short transaction). Left alone, a
storm of hellos opens as many transactions as there are sockets, the connection pool runs dry,
everyone waits on it, and nobody is admitted in time. The gate lets a fixed number of
authorizations run at once (fewer than the pool has connections, so REST and the recorder keep
theirs), in the order the hellos arrived (FIFO: nobody is overtaken for ever), and answers the
ones it cannot take with `Unavailable` (close 1013, which clients retry with back-off) instead
of letting them starve:
- more than `limits.admission_queue` waiting: refused at once;
- waiting longer than `limits.admission_wait_s`: refused, its place given up;
- one authorization stalled past `limits.authorize_timeout_s`: refused, its slot given back.

One handshake per participant: a second `hello` with the same token waits behind the first one
(it takes no second slot); when its turn comes, the Room replaces the first Session (4409) as it
does for any reconnect. A participant reloading its page in a loop thus costs one slot, not many.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from mirp.config import Settings
from mirp.errors import RateLimited, Unavailable
from mirp.ratelimit import TokenBuckets


def admission_slots(settings: Settings) -> int:
    """Hellos authorized at once: `limits.admission_slots`, or one less than the database pool's
    steady size (its overflow is left to REST and the recorder)."""
    if settings.limits.admission_slots > 0:
        return settings.limits.admission_slots
    return max(1, settings.db_pool_size - 1)


def busy(reason: str, retry_after_s: float) -> Unavailable:
    return Unavailable(
        f"the server is busy admitting others ({reason}); try again",
        {"reason": reason, "retry_after_s": round(retry_after_s, 1)},
    )


class AdmissionGate:
    """A FIFO limit on concurrent authorizations, one handshake per participant (module doc)."""

    def __init__(self, slots: int, max_waiting: int, wait_s: float) -> None:
        self.slots = slots
        self.max_waiting = max_waiting
        self.wait_s = wait_s
        self._free = slots
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._keys: dict[bytes, tuple[asyncio.Lock, int]] = {}
        self.admitted = 0
        self.refused = 0

    @property
    def waiting(self) -> int:
        return len(self._waiters)

    @property
    def in_flight(self) -> int:
        return self.slots - self._free

    async def _acquire(self) -> None:
        if self._free > 0 and not self._waiters:
            self._free -= 1
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(fut)
        try:
            await fut
        except BaseException:
            if fut.done() and not fut.cancelled():
                self._release()  # handed the slot just as we gave up: pass it on
            else:
                self._waiters.remove(fut)
            raise

    def _release(self) -> None:
        while self._waiters:
            fut = self._waiters.popleft()
            if not fut.done():
                fut.set_result(None)
                return
        self._free += 1

    @asynccontextmanager
    async def participant(self, token: str) -> AsyncIterator[None]:
        """The handshake of `token` (authorize and join): one at a time per participant."""
        key = hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()[:16]
        lock, users = self._keys.get(key) or (asyncio.Lock(), 0)
        self._keys[key] = (lock, users + 1)
        try:
            try:
                async with asyncio.timeout(self.wait_s):
                    await lock.acquire()
            except TimeoutError:
                self.refused += 1
                raise busy("waited too long", self.wait_s / 2) from None
            try:
                yield
            finally:
                lock.release()
        finally:
            lock_, users = self._keys[key]
            if users <= 1:
                del self._keys[key]
            else:
                self._keys[key] = (lock_, users - 1)

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """One of the `slots` (held while the database is asked); FIFO; raises Unavailable
        when too many wait or the wait is too long."""
        if len(self._waiters) >= self.max_waiting:
            self.refused += 1
            raise busy("queue full", self.wait_s / 2)
        try:
            async with asyncio.timeout(self.wait_s):
                await self._acquire()
        except TimeoutError:
            self.refused += 1
            raise busy("waited too long", self.wait_s / 2) from None
        self.admitted += 1
        try:
            yield
        finally:
            self._release()

    @asynccontextmanager
    async def admit(self, token: str) -> AsyncIterator[None]:
        """Both: the participant's turn, then a slot."""
        async with self.participant(token), self.slot():
            yield


class AdmissionControl:
    """What every SessionHandler of one app shares: the hello gate and the per-address limits."""

    def __init__(self, settings: Settings) -> None:
        limits = settings.limits
        self.gate = AdmissionGate(
            admission_slots(settings), limits.admission_queue, limits.admission_wait_s
        )
        self.authorize_timeout_s = limits.authorize_timeout_s
        self.offers = TokenBuckets(limits.offers_per_ip_per_s, limits.offers_per_ip_burst)

    def check_offer(self, ip: str) -> None:
        wait = self.offers.take(ip)
        if wait > 0.0:
            raise RateLimited(
                "too many offers from your address; wait and try again",
                wait,
                {"limit_per_s": self.offers.rate, "burst": int(self.offers.burst)},
            )
