"""Room snapshots another node can read: what lets a meeting survive its origin.

A Room's snapshot (rooms/durable.py) is written to the origin's local journal, which only that
machine can read. In a cluster each snapshot is also stored here, under the meeting's key, so
the node that takes the lease over restores the Room as the dead origin left it
(docs/cluster-sessions.md, "Failover").

- Written only by the lease holder: a write carries the lease and is refused (`Conflict`) when
  its epoch is no longer current, in the same atomic step (a Lua script in Redis, as the fenced
  publish does). A paused old origin can never overwrite its successor's snapshot.
- Sealed: the body is a pickle (the Room object); it is stored behind an HMAC-SHA256 made with a
  key every node shares (the app derives it from the secret key that already signs the tokens),
  and a body whose seal does not verify is not unpickled: whoever can write to Redis still
  cannot make a node run code.
- Kept `keep_s` after its last write (a meeting idle that long is not restored anyway:
  `restore_max_age_s`); deleted when the room ends.

Why Redis and not the database: the ack of most commands waits for the snapshot (docs/rooms.md,
"Durability"), and one fenced SET on Redis costs a round trip (measured in
`python -m bench.cluster_failover`), while the database is the part that may be slow or away.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import time
from collections.abc import Callable
from typing import Protocol

from mirp.cluster.directory import Clock, Lease, LocalDirectory, check_name, check_ttl, lost
from mirp.cluster.redis_common import DEFAULT_BOUND_S, Keys, bounded, connect, lease_value
from mirp.cluster.tasks import end_of
from mirp.errors import Conflict, MirpError

log = logging.getLogger("mirp.cluster.snapshots")

KEEP_S = 24 * 3600.0  # a snapshot not rewritten for this long expires
_MAC = 32  # bytes of HMAC-SHA256 in front of a stored body


class SharedSnapshots(Protocol):
    """Every method raises `Unavailable` (within a bound) when the store behind it is away."""

    async def put(self, lease: Lease, body: bytes | None) -> None:
        """The meeting's newest snapshot (None: the room ended, nothing to restore);
        `Conflict` when `lease` is no longer the meeting's current one."""
        ...

    async def get(self, meeting: str) -> bytes | None:
        """The newest snapshot, or None (none, or its seal does not verify)."""
        ...

    async def aclose(self) -> None:
        """Its connections closed (the node leaving)."""
        ...


def seal(key: bytes, meeting: str, body: bytes) -> bytes:
    """The body behind its MAC (the meeting's id is in the MAC: no snapshot under another key)."""
    return hmac.new(key, meeting.encode() + b"\0" + body, hashlib.sha256).digest() + body


def unseal(key: bytes, meeting: str, data: bytes) -> bytes | None:
    mac, body = data[:_MAC], data[_MAC:]
    want = hmac.new(key, meeting.encode() + b"\0" + body, hashlib.sha256).digest()
    if len(data) < _MAC or not hmac.compare_digest(mac, want):
        log.error("room %s: shared snapshot with a bad seal: ignored", meeting)
        return None
    return body


class LocalSnapshots:
    """One process (tests, nodes simulated in one process): fenced by a LocalDirectory."""

    def __init__(self, directory: LocalDirectory, keep_s: float = KEEP_S,
                 clock: Clock = time.monotonic) -> None:
        self._directory, self._keep_s, self._clock = directory, keep_s, clock
        self._bodies: dict[str, tuple[bytes, float]] = {}
        self.writes = 0

    async def put(self, lease: Lease, body: bytes | None) -> None:
        if not self._directory.is_current(lease):
            raise lost(lease, self._directory.epoch_of(lease.meeting))
        self.writes += 1
        if body is None:
            self._bodies.pop(lease.meeting, None)
        else:
            self._bodies[lease.meeting] = (body, self._clock() + self._keep_s)

    async def aclose(self) -> None:
        """Nothing to close: it lives in this process."""

    async def get(self, meeting: str) -> bytes | None:
        found = self._bodies.get(meeting)
        if found is None or found[1] <= self._clock():
            return None
        return found[0]


# KEYS: lease, epoch, snapshot. ARGV: "<epoch> <node>", body ('' deletes), keep_ms.
# -> {1, 0} written, {0, current epoch} refused
FENCED_PUT = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return {0, tonumber(redis.call('GET', KEYS[2]) or '0')}
end
if ARGV[2] == '' then redis.call('DEL', KEYS[3])
else redis.call('SET', KEYS[3], ARGV[2], 'PX', ARGV[3]) end
return {1, 0}
"""


class RedisSnapshots:
    """`key`: the HMAC key every node of the cluster shares; `bound_s` bounds each call."""

    def __init__(self, url: str, *, key: bytes, prefix: str = "mirp",
                 bound_s: float = DEFAULT_BOUND_S, keep_s: float = KEEP_S) -> None:
        if not key:
            raise ValueError("shared snapshots need a sealing key")
        self.keys = Keys(prefix)
        self._key, self.bound_s, self._keep_ms = key, bound_s, check_ttl(keep_s)
        self._redis = connect(url, bound_s)
        self._put = self._redis.register_script(FENCED_PUT)

    def _snapshot_key(self, meeting: str) -> str:
        return f"{self.keys.prefix}:snapshot:{check_name('meeting', meeting)}"

    async def aclose(self) -> None:
        await self._redis.aclose()

    async def put(self, lease: Lease, body: bytes | None) -> None:
        data = b"" if body is None else seal(self._key, lease.meeting, body)
        async with bounded("snapshot put", self.bound_s):
            ok, current = await self._put(
                keys=[self.keys.lease(lease.meeting), self.keys.epoch(lease.meeting),
                      self._snapshot_key(lease.meeting)],
                args=[lease_value(lease), data, self._keep_ms])
        if not ok:
            raise lost(lease, int(current))

    async def get(self, meeting: str) -> bytes | None:
        async with bounded("snapshot get", self.bound_s):
            data = await self._redis.get(self._snapshot_key(meeting))
        if data is None:
            return None
        return unseal(self._key, meeting, data if isinstance(data, bytes) else data.encode())


class SnapshotWriter:
    """The origin's side: each snapshot the Recorder takes goes to `store` as well, fenced by
    the lease `lease_of(meeting)` gives (the Keeper's `holds`: none while unproven, and then
    nothing is even tried). Writes are coalesced per meeting (only the newest counts) and run
    by one task, so a room never waits on Redis in its task; `durable()` is what an ack waits
    for. While the store is away the acks do not wait for it (the local journal still has every
    snapshot; a takeover meanwhile restores from the last one stored): the writer keeps trying
    every `retry_s` and waits again once a write went through."""

    def __init__(self, store: SharedSnapshots, lease_of: Callable[[str], Lease | None], *,
                 retry_s: float = 0.5) -> None:
        self.store, self.lease_of, self.retry_s = store, lease_of, retry_s
        self.written = 0
        self.refused = 0  # writes refused by the fence (the lease was lost meanwhile)
        self.failing: MirpError | None = None  # the last error while the store is away
        self._pending: dict[str, bytes | None] = {}
        self._waiters: list[asyncio.Future[None]] = []
        self._wake = asyncio.Event()
        self._inflight = False
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    def put(self, meeting: str, body: bytes | None) -> None:
        if self._closed or self.lease_of(meeting) is None:
            return
        self._pending[meeting] = body
        self._wake.set()
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="shared-snapshots")

    async def durable(self) -> None:
        """Returns once every snapshot put so far is stored (or the store is away)."""
        if self.failing is not None or not (self._pending or self._inflight):
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(fut)
        self._wake.set()  # the round after the one in flight, even with nothing new to write
        await fut

    async def _write(self, meeting: str, body: bytes | None) -> None:
        lease = self.lease_of(meeting)
        if lease is None:
            if self.failing is not None:  # unproven while the store is away: kept for later
                raise self.failing
            return  # given up: the next holder writes its own
        try:
            await self.store.put(lease, body)
            self.written += 1
        except Conflict:
            self.refused += 1

    async def _run(self) -> None:
        while not self._closed:
            await self._wake.wait()
            self._wake.clear()
            batch, self._pending = self._pending, {}
            waiters, self._waiters = self._waiters, []
            self._inflight = True
            results = await asyncio.gather(*(self._write(m, b) for m, b in batch.items()),
                                           return_exceptions=True)
            self._inflight = False
            failed = [(m, r) for m, r in zip(batch, results, strict=True)
                      if isinstance(r, BaseException)]
            for meeting, _ in failed:  # tried again, unless a newer one came meanwhile
                self._pending.setdefault(meeting, batch[meeting])
            errors = [r for _, r in failed]
            if errors:
                if self.failing is None:
                    log.warning("shared snapshots not stored: %s", errors[0])
                self.failing = errors[0] if isinstance(errors[0], MirpError) else MirpError(
                    f"{type(errors[0]).__name__}: {errors[0]}")
            elif self.failing is not None:
                log.info("shared snapshots stored again")
                self.failing = None
            for w in waiters:
                if not w.done():
                    w.set_result(None)  # an ack never fails for the shared copy
            if errors:
                await asyncio.sleep(self.retry_s)
                self._wake.set()

    async def close(self) -> None:
        self._closed = True
        if self._task is not None:
            self._task.cancel()
            await end_of(self._task)
            self._task = None
        for w in self._waiters:
            if not w.done():
                w.set_result(None)
