"""The Keeper: one task per node that keeps it in the Directory (heartbeats with its current
load) and renews the leases it holds, and tells the node when it must stop acting as a
meeting's origin.

A holder cannot learn that it was paused: it must judge its lease from its own clock. A lease
counts as held only until (start of its last successful renewal + TTL); past that it is
"unproven" (Redis away: nobody may have taken it, but we cannot show it), and `holds()` no
longer returns it, so a fenced publish is not even tried. A renewal refused with `Conflict`
(another node has a newer epoch) makes it "lost": `on_lost` is called once and the lease is
forgotten; refused with no newer epoch (it expired unclaimed while Redis was away, or Redis lost
its data), it is taken again with a newer epoch. Renewals run every TTL/3, so two can fail
before the lease runs out.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from mirp.cluster.directory import Clock, Directory, Lease, NodeInfo
from mirp.cluster.tasks import end_of
from mirp.errors import Conflict, MirpError, Unavailable

log = logging.getLogger(__name__)

LeaseState = Literal["held", "unproven"]
OnLost = Callable[[Lease, MirpError], None]


@dataclass
class _Kept:
    lease: Lease
    valid_until: float


class Keeper:
    def __init__(self, directory: Directory, node: Callable[[], NodeInfo], *, ttl_s: float,
                 on_lost: OnLost, clock: Clock = time.monotonic) -> None:
        self._directory, self._node = directory, node
        self.ttl_s, self._on_lost, self._clock = ttl_s, on_lost, clock
        self._kept: dict[str, _Kept] = {}
        self._task: asyncio.Task[None] | None = None
        self.rounds = 0  # completed rounds (heartbeat + renewals), for tests and metrics
        self.node_alive = False  # the last heartbeat reached the Directory
        self.retaken = 0  # leases taken again after they expired unclaimed (Redis away)
        self._stopping = False

    @property
    def node_id(self) -> str:
        return self._node().node_id

    async def acquire(self, meeting: str, *, after: int = 0) -> Lease:
        """Takes the meeting's lease and keeps it (`Conflict` while another node holds it)."""
        start = self._clock()
        lease = await self._directory.acquire(meeting, self.node_id, self.ttl_s, after=after)
        self._kept[meeting] = _Kept(lease, start + self.ttl_s)
        return lease

    async def adopt(self, lease: Lease) -> Lease:
        """Keeps a lease that placement gave this node (renewed once now: `Conflict` if lost)."""
        start = self._clock()
        await self._directory.renew(lease, self.ttl_s)
        self._kept[lease.meeting] = _Kept(lease, start + self.ttl_s)
        return lease

    def holds(self, meeting: str) -> Lease | None:
        """The lease while it is proven held; None once unproven or lost."""
        kept = self._kept.get(meeting)
        if kept is None or self._clock() >= kept.valid_until:
            return None
        return kept.lease

    def state(self, meeting: str) -> LeaseState | None:
        kept = self._kept.get(meeting)
        if kept is None:
            return None
        return "held" if self._clock() < kept.valid_until else "unproven"

    async def release(self, meeting: str) -> None:
        kept = self._kept.pop(meeting, None)
        if kept is not None:
            try:
                await self._directory.release(kept.lease)
            except Unavailable:
                pass  # it expires by itself

    async def round(self) -> None:
        """One heartbeat and one renewal of each lease; the loop calls it every TTL/3."""
        try:
            await self._directory.heartbeat(self._node(), self.ttl_s)
            self.node_alive = True
        except Unavailable as exc:
            if self.node_alive:
                log.warning("keeper: heartbeat failed: %s", exc)
            self.node_alive = False
        # All at once: with Redis hung, a round lasts one bound, not one bound per lease.
        await asyncio.gather(*(self._renew(m, k) for m, k in list(self._kept.items())))
        self.rounds += 1

    async def _renew(self, meeting: str, kept: _Kept) -> None:
        start = self._clock()
        try:
            await self._directory.renew(kept.lease, self.ttl_s)
        except Conflict as exc:
            if self._kept.get(meeting) is not kept:
                return
            if await self._retake(meeting, kept, exc, start):
                return
            del self._kept[meeting]
            log.warning("keeper: %s", exc.message)
            self._on_lost(kept.lease, exc)
        except Unavailable:
            pass  # unproven once valid_until passes; the next round tries again
        else:
            kept.valid_until = max(kept.valid_until, start + self.ttl_s)

    async def _retake(self, meeting: str, kept: _Kept, exc: Conflict, start: float) -> bool:
        """A renewal refused while no newer epoch exists: nobody took the meeting, its key
        expired (Redis away longer than the TTL) or Redis lost its data. The holder takes it
        again with a newer epoch (edges resync to it) instead of deposing a Room nobody else
        has: the cluster heals when Redis returns. True when retaken."""
        current = exc.details.get("current")
        if not isinstance(current, int) or current > kept.lease.epoch:
            return False
        try:
            lease = await self._directory.acquire(meeting, kept.lease.node_id, self.ttl_s,
                                                  after=kept.lease.epoch)
        except Conflict:
            return False  # placed elsewhere meanwhile: lost after all
        except Unavailable:
            return True  # unproven meanwhile; the next round tries again
        if self._kept.get(meeting) is kept:
            self._kept[meeting] = _Kept(lease, start + self.ttl_s)
            self.retaken += 1
            log.info("keeper: lease of %s taken again (epoch %d)", meeting, lease.epoch)
        return True

    async def _loop(self) -> None:
        # The flag as well as the cancellation: redis-py's read timeouts can swallow a
        # cancellation that lands at the wrong moment, and the loop must end all the same.
        while not self._stopping:
            try:
                await self.round()
            except Exception:  # a bug in a callback must not stop the node's heartbeats
                log.exception("keeper: round failed")
            await asyncio.sleep(self.ttl_s / 3)  # the renewal period

    def start(self) -> None:
        if self._task is None:
            self._stopping = False
            self._task = asyncio.create_task(self._loop(), name="cluster-keeper")

    async def stop(self, *, leave: bool = True) -> None:
        """Stops the rounds; `leave`: release every lease and leave the Directory at once
        (a drain), else they expire by themselves (what a crash looks like)."""
        if self._task is not None:
            self._stopping = True
            self._task.cancel()
            await end_of(self._task)
            self._task = None
        if leave:
            for meeting in list(self._kept):
                await self.release(meeting)
            try:
                await self._directory.leave(self.node_id)
            except Unavailable:
                pass

