"""The Directory: which nodes are alive (and how loaded), and which node owns each meeting.

One meeting has one origin at a time: the node holding its lease. A lease is *fenced* by an
epoch, a per-meeting integer incremented on every acquisition and never reset (not even when the
lease expires), so a holder that was paused past its TTL and comes back can no longer renew nor
publish: every renewal and every fenced publish carries the holder's epoch and is refused
(`Conflict`) when it is not the current one. The Redis implementation does each check-and-set in
one Lua script; this module holds the contract, the value types and the one-process
`LocalDirectory` (the embedded default, and the reference the contract tests hold Redis to).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from mirp.errors import Conflict, InvalidInput

Clock = Callable[[], float]


@dataclass(frozen=True, slots=True)
class NodeLoad:
    """What a node carries now; `score` is the one number placement compares."""

    listeners: int = 0
    feeds: int = 0
    cpu: float = 0.0  # fraction of the node's cores in use, 0..1

    @property
    def score(self) -> float:
        # A feed (one mix + one Opus encode per tick) costs about as much as ~50 listeners'
        # fan-out (docs/media-net.md); CPU above a half dominates everything else.
        return self.listeners + 50.0 * self.feeds + 10_000.0 * max(0.0, self.cpu - 0.5)


@dataclass(frozen=True, slots=True)
class NodeInfo:
    node_id: str
    address: str  # where other nodes reach this one (host:port), for the media between nodes
    load: NodeLoad = field(default_factory=NodeLoad)


@dataclass(frozen=True, slots=True)
class Lease:
    """`node_id` is the meeting's origin as long as `epoch` is the meeting's current epoch."""

    meeting: str
    node_id: str
    epoch: int


class Directory(Protocol):
    """Every method raises `Unavailable` (within a bound) when the store behind it is away."""

    async def heartbeat(self, node: NodeInfo, ttl_s: float) -> None:
        """Registers or refreshes `node`; it disappears `ttl_s` after its last heartbeat."""
        ...

    async def leave(self, node_id: str) -> None: ...

    async def nodes(self) -> list[NodeInfo]:
        """The live nodes, least loaded first."""
        ...

    async def acquire(self, meeting: str, node_id: str, ttl_s: float, *,
                      after: int = 0) -> Lease:
        """Takes the meeting's lease with a new epoch, above `after` too (the highest epoch
        the caller has seen: fencing stays monotonic even if the store lost its data);
        `Conflict` while another node holds it."""
        ...

    async def renew(self, lease: Lease, ttl_s: float) -> Lease:
        """Extends the lease; `Conflict` when `lease.epoch` is no longer current (lost)."""
        ...

    async def release(self, lease: Lease) -> None:
        """Gives the lease up (no-op when it was already lost)."""
        ...

    async def holder(self, meeting: str) -> Lease | None: ...

    async def place(self, meeting: str, ttl_s: float, *, after: int = 0) -> Lease:
        """The meeting's live lease, or, at its first join, a new one on the least loaded live
        node (atomic: concurrent placements agree on one). The chosen node adopts it by renewing
        it before `ttl_s` passes. `Conflict` when no node is alive."""
        ...


def check_name(what: str, value: str) -> str:
    """Meeting and node ids become Redis keys and channel names: keep them plain."""
    if not value or len(value) > 200 or any(c in value for c in " \r\n\0:{}"):
        raise InvalidInput(f"bad {what} {value!r}", {what: value})
    return value


def check_ttl(ttl_s: float) -> int:
    """A TTL in whole milliseconds, at least one."""
    if not 0 < ttl_s <= 86_400:
        raise InvalidInput(f"bad ttl {ttl_s!r} s", {"ttl_s": ttl_s})
    return max(1, round(ttl_s * 1000))


@dataclass
class _Held:
    node_id: str
    epoch: int
    expires: float


class LocalDirectory:
    """One process: everything lives in this object, and the event loop makes each method
    atomic (none awaits anything). `clock` is injectable so tests can move time."""

    def __init__(self, clock: Clock = time.monotonic) -> None:
        self._clock = clock
        self._nodes: dict[str, tuple[NodeInfo, float]] = {}
        self._leases: dict[str, _Held] = {}
        self._epochs: dict[str, int] = {}

    async def heartbeat(self, node: NodeInfo, ttl_s: float) -> None:
        check_name("node", node.node_id)
        self._nodes[node.node_id] = (node, self._clock() + check_ttl(ttl_s) / 1000)

    async def leave(self, node_id: str) -> None:
        self._nodes.pop(node_id, None)

    def _live_nodes(self) -> list[NodeInfo]:
        now = self._clock()
        for node_id in [n for n, (_, exp) in self._nodes.items() if exp <= now]:
            del self._nodes[node_id]
        return sorted((n for n, _ in self._nodes.values()),
                      key=lambda n: (n.load.score, n.node_id))

    async def nodes(self) -> list[NodeInfo]:
        return self._live_nodes()

    def _live(self, meeting: str) -> _Held | None:
        held = self._leases.get(meeting)
        if held is not None and held.expires <= self._clock():
            del self._leases[meeting]
            return None
        return held

    def _grant(self, meeting: str, node_id: str, ttl_s: float, after: int) -> Lease:
        epoch = max(self._epochs.get(meeting, 0), after) + 1
        self._epochs[meeting] = epoch
        self._leases[meeting] = _Held(node_id, epoch, self._clock() + check_ttl(ttl_s) / 1000)
        return Lease(meeting, node_id, epoch)

    async def acquire(self, meeting: str, node_id: str, ttl_s: float, *,
                      after: int = 0) -> Lease:
        check_name("meeting", meeting)
        check_name("node", node_id)
        held = self._live(meeting)
        if held is not None and held.node_id != node_id:
            raise Conflict(f"meeting {meeting} is held by {held.node_id}",
                           {"meeting": meeting, "holder": held.node_id, "epoch": held.epoch})
        return self._grant(meeting, node_id, ttl_s, after)

    def epoch_of(self, meeting: str) -> int:
        """The meeting's current epoch (0: never leased)."""
        return self._epochs.get(meeting, 0)

    def is_current(self, lease: Lease) -> bool:
        """The fencing check (LocalBus asks it before a fenced publish)."""
        held = self._live(lease.meeting)
        return held is not None and (held.node_id, held.epoch) == (lease.node_id, lease.epoch)

    async def renew(self, lease: Lease, ttl_s: float) -> Lease:
        ms = check_ttl(ttl_s)
        if not self.is_current(lease):
            raise lost(lease, self._epochs.get(lease.meeting, 0))
        self._leases[lease.meeting].expires = self._clock() + ms / 1000
        return lease

    async def release(self, lease: Lease) -> None:
        if self.is_current(lease):
            del self._leases[lease.meeting]

    async def holder(self, meeting: str) -> Lease | None:
        held = self._live(meeting)
        return None if held is None else Lease(meeting, held.node_id, held.epoch)

    async def place(self, meeting: str, ttl_s: float, *, after: int = 0) -> Lease:
        check_name("meeting", meeting)
        held = self._live(meeting)
        if held is not None:
            return Lease(meeting, held.node_id, held.epoch)
        live = self._live_nodes()
        if not live:
            raise Conflict(f"no live node to place meeting {meeting} on", {"meeting": meeting})
        return self._grant(meeting, live[0].node_id, ttl_s, after)


def lost(lease: Lease, current: int) -> Conflict:
    """The one error for a holder whose epoch is stale (renewal or fenced publish)."""
    return Conflict(f"lease of meeting {lease.meeting} lost by {lease.node_id} "
                    f"(epoch {lease.epoch}, current {current})",
                    {"meeting": lease.meeting, "epoch": lease.epoch, "current": current})
