"""The MediaPlane: the one door between the control side (rooms, signaling, REST) and media.

Why a door this narrow: the media clock must never wait for a request handler, a database call or
a password hash, so the engine and the peers run in a process of their own (media/process.py),
and everything that crosses is keyed by plain string ids: no aiortc object, no Meeting, no Role.
The same interface has an in-process implementation (media/local.py), which is also the core the
child process runs; a future cluster node would speak the same messages (media/wire.py).

Peer ids are participant ids; a participant's microphone becomes source `peer_id` inside the
plane as soon as it arrives. Events flow back through `on_event`: `PeerGone` (the peer vanished:
ICE/DTLS failed or closed, silence, or the media process died) and `Levels`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from mirp.media.engine import EngineStats
from mirp.media.plan import FeedKey, MixPlan
from mirp.media.relay_format import Address, RelayStats
from mirp.media.selfcheck import SelfCheck

Candidate = Mapping[str, object]  # the browser's RTCIceCandidate.toJSON()


@dataclass(frozen=True, slots=True)
class PeerGone:
    """A peer ended without being asked to. `generation` numbers the offers of one peer id, so
    a late report about a peer that a new offer already replaced can be told apart."""

    peer_id: str
    generation: int
    reason: str


@dataclass(frozen=True, slots=True)
class Levels:
    """Microphone levels (dBFS) of the sources the current plan mixes, a few times a second."""

    levels: dict[str, float]


MediaEvent = PeerGone | Levels
EventCallback = Callable[[MediaEvent], None]


def emit(handler: EventCallback | None, event: MediaEvent) -> None:
    """Hand `event` to the control side's handler; a failing handler is logged, never raised
    into the plane (both planes, local and process, deliver events this way)."""
    if handler is not None:
        try:
            handler(event)
        except Exception:
            logging.getLogger(__name__).exception("media event handler failed on %s",
                                                  type(event).__name__)


@dataclass(frozen=True, slots=True)
class PlaneConfig:
    """What the media side needs from the settings (plain values: it crosses to the child)."""

    ice_servers: tuple[dict[str, object], ...] = ()  # {"urls": [...], "username", "credential"}
    loopback_only: bool = False
    join_batch: int = 100
    peer_timeout_s: float = 8.0
    handshake_stall_s: float = 3.0  # these three: media/peer.py's PeerFactory, media/watch.py
    consent_interval_s: float = 5.0
    consent_lapse_s: float = 30.0
    # niceness the media process lowers itself by (needs CAP_SYS_NICE; else it runs at the
    # parent's): on a loaded machine the clock then wins the CPU from request handlers
    priority_boost: int = 10
    video_bitrate_cap: int = 0  # bit/s a publisher may send its camera at (REMB), 0: no cap


@dataclass(frozen=True, slots=True)
class PlaneStats:
    engine: EngineStats
    peers: int  # peer sessions open in the plane
    restarts: int = 0  # media processes started after the first (crashes)
    # which fast paths over aiortc's internals are on in the plane, and why not (media/compat.py)
    self_check: SelfCheck | None = None
    relay: RelayStats = field(default_factory=RelayStats)  # relayed feeds (media/relay.py)
    # the floor video's forwarder (media/video.py): publishers, viewers, packets, PLIs, NACKs
    video: dict[str, int] = field(default_factory=dict)


class MediaPlane(Protocol):
    """What the control side may ask of the media side (both implementations)."""

    on_event: EventCallback | None

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def offer(self, peer_id: str, sdp: str) -> str:
        """A new peer for `peer_id` (replacing any earlier one): the answer SDP. Raises
        InvalidSdp for an offer the plane refuses, Conflict when replaced meanwhile, Unavailable
        when the media process is away."""
        ...

    async def candidate(self, peer_id: str, candidate: Candidate | None) -> None:
        """A trickled remote candidate (None: end of candidates); InvalidInput when malformed.
        NotFound for an unknown peer id (the caller may ignore it: a late candidate of a peer
        already gone is harmless)."""
        ...

    def close_peer(self, peer_id: str) -> None:
        """Close the peer and release its source and listener (idempotent)."""
        ...

    def apply(self, plan: MixPlan) -> None:
        """The whole plan of the process, swapped in at the next tick."""
        ...

    def listen(self, peer_id: str, key: FeedKey) -> None:
        """Send `key` to this peer (add or switch); takes effect once its answer is done."""
        ...

    def unlisten(self, peer_id: str) -> None: ...

    async def stats(self) -> PlaneStats: ...

    # A cluster: feeds mixed once by an origin plane, relayed to edge planes (media/relay.py).
    async def relay_listen(self, host: str, port: int = 0) -> Address:
        """As an edge: open the UDP socket relayed feeds arrive on (once); its address, for
        the origins. A restarted media process listens on the same address again."""
        ...

    def relay_accept(self, keys: Collection[FeedKey], sources: Collection[str] = ()) -> None:
        """What arrives relayed (both sets, replacing the last ones). As an edge, the feeds
        `keys`: their listeners hear the relayed packets; this plane never mixes or encodes
        them. As an origin, the microphones `sources` of participants on edges: a source each,
        decoded only while the plan uses it."""
        ...

    def relay_to(self, link_id: str, address: Address, keys: Collection[FeedKey],
                 epoch: int, sources: Collection[str] = (), videos: Collection[str] = (),
                 video_from: Collection[str] = ()) -> None:
        """Send to the plane at `address` (replaces the link's keys, sources, address and
        epoch). As an origin: each encoded packet of `keys`. As an edge: the Opus payloads of
        the local microphones `sources` (the active ones only: parked sources are not
        forwarded). Either way: the video of the publishers `videos`; those of `video_from`
        are taken from that plane (media/video_relay.py). `epoch` (32-bit unsigned) is the
        meeting's lease epoch: a receiver drops a feed's or a source's packets of an older
        epoch than the newest it has seen."""
        ...

    def relay_stop(self, link_id: str) -> None: ...
