"""The MediaPlane in this process: one MediaEngine and one PeerFactory on the caller's loop.

Unit tests use it directly; the media process (media/worker.py) runs exactly this behind the
socket. It is the single home of peer/media state: which Peers exist (and their offer
generation), which are ready (answer done, sender bound to RTP), which sources the engine drains
and which feed each listener wants. The control side only says what it wants.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection

from mirp.errors import Conflict, NotFound, Unavailable
from mirp.media import compat
from mirp.media.engine import MediaEngine
from mirp.media.peer import Peer, PeerFactory
from mirp.media.plan import FeedKey, MixPlan, partner_stream
from mirp.media.plane import (
    Candidate,
    EventCallback,
    Levels,
    MediaEvent,
    PeerGone,
    PlaneConfig,
    PlaneStats,
    emit,
)
from mirp.media.relay import Relay
from mirp.media.relay_format import Address
from mirp.media.selfcheck import SelfCheck
from mirp.media.video import VideoForwarder, mixer_delay

log = logging.getLogger(__name__)


class LocalPlane:
    """Implements media.plane.MediaPlane on the running loop."""

    def __init__(self, config: PlaneConfig | None = None, *, engine: MediaEngine | None = None
                 ) -> None:
        config = config or PlaneConfig()
        # decided once per process, before the engine's fan-out and the peers consult it
        self.self_check: SelfCheck = compat.self_check()
        self.engine = engine or MediaEngine()
        self.factory = PeerFactory(config.ice_servers, loopback_only=config.loopback_only,
                                   join_batch=config.join_batch,
                                   peer_timeout_s=config.peer_timeout_s,
                                   handshake_stall_s=config.handshake_stall_s,
                                   consent_interval_s=config.consent_interval_s,
                                   consent_lapse_s=config.consent_lapse_s)
        self.on_event: EventCallback | None = None
        self._peers: dict[str, Peer] = {}
        self._generation: dict[str, int] = {}
        self._ready: set[str] = set()
        self._wanted: dict[str, FeedKey] = {}  # what the control side asked each peer to hear
        self._listening: dict[str, FeedKey] = {}  # what the engine sends it
        self._sources: set[str] = set()
        self._next_generation = 0
        self._plan = MixPlan.of()
        self._closed = False
        self.engine.on_levels = lambda levels: self._emit(Levels(levels))
        self.relay = Relay(self.engine)
        self.engine.relay = self.relay
        self.video = VideoForwarder(bitrate_cap=config.video_bitrate_cap or None,
                                    audio_delay=mixer_delay(self.engine.source_of))
        self.video.relay = self.relay.video  # cameras watched on other nodes, both ways
        self.relay.video.attach(self.video)

    async def start(self) -> None:
        await self.engine.start()

    async def close(self) -> None:
        self._closed = True
        for peer_id in list(self._peers):
            self.close_peer(peer_id)
        self.relay.close()
        self.video.close()
        await self.factory.close()
        await self.engine.close()

    def _emit(self, event: MediaEvent) -> None:
        emit(self.on_event, event)

    # ---------------------------------------------------------------- peers
    async def offer(self, peer_id: str, sdp: str, generation: int | None = None) -> str:
        """See MediaPlane.offer. `generation`: given by the process plane (it numbers offers
        on its side, so its own filter and ours agree); else numbered here."""
        return await self.complete_offer(peer_id, self.begin_offer(peer_id, generation), sdp)

    def begin_offer(self, peer_id: str, generation: int | None = None) -> Peer:
        """The synchronous half: the new peer replaces the old one *now*, so a command that
        follows on the same stream (close_peer, listen) already finds it (media/worker.py)."""
        if self._closed:
            raise Unavailable("the media plane is closed")
        self.close_peer(peer_id)
        if generation is None:
            self._next_generation += 1
            generation = self._next_generation
        peer = self.factory.create_peer(peer_id)
        self._peers[peer_id] = peer
        self._generation[peer_id] = generation
        peer.on_track = lambda receiver, track: self._on_track(peer_id, peer, receiver,
                                                                  track)
        peer.on_gone = lambda reason: self._on_gone(peer_id, peer, generation, reason)
        peer.on_video_track = lambda receiver: (
            self._peers.get(peer_id) is peer and self.video.add_publisher(peer_id, receiver))
        return peer

    async def complete_offer(self, peer_id: str, peer: Peer, sdp: str) -> str:
        try:
            answer: str = await peer.accept_offer(sdp)
        except BaseException:
            if self._peers.get(peer_id) is peer:
                self.close_peer(peer_id)
            raise
        if self._peers.get(peer_id) is not peer:
            await peer.close()
            raise Conflict("the peer connection was replaced while it was being set up")
        self._ready.add(peer_id)
        self._bind(peer_id)
        for stream, line in ((peer_id, peer.video_line),
                             (partner_stream(peer_id), peer.partner_line)):
            if line is not None:
                self.video.add_viewer(stream, line.sender, line.binding.payload_type,
                                      line.binding.extension, line.payload_types)
        return answer

    async def candidate(self, peer_id: str, candidate: Candidate | None) -> None:
        peer = self._peers.get(peer_id)
        if peer is None:
            raise NotFound(f"no peer {peer_id!r}")
        await peer.add_remote_candidate(candidate)

    def close_peer(self, peer_id: str) -> None:
        peer = self._peers.pop(peer_id, None)
        self._generation.pop(peer_id, None)
        self._release(peer_id)
        self._wanted.pop(peer_id, None)
        if peer is not None and not peer.closed:
            peer.on_gone = None
            peer.on_track = None
            self._spawn_close(peer)

    def _release(self, peer_id: str) -> None:
        self._ready.discard(peer_id)
        self.video.remove_publisher(peer_id)
        self.video.remove_viewer(peer_id)
        self.video.remove_viewer(partner_stream(peer_id))
        if self._listening.pop(peer_id, None) is not None:
            self.engine.remove_listener(peer_id)
        if peer_id in self._sources:
            self._sources.discard(peer_id)
            self.engine.remove_source(peer_id)

    def _spawn_close(self, peer: Peer) -> None:
        task = asyncio.ensure_future(peer.close())
        task.add_done_callback(lambda t: t.cancelled() or t.exception())

    def _on_track(self, peer_id: str, peer: Peer, receiver: object,
                  track: object) -> None:
        if self._peers.get(peer_id) is not peer:
            return
        self.engine.add_source(peer_id, receiver, track)  # replaces an earlier one
        self._sources.add(peer_id)

    def _on_gone(self, peer_id: str, peer: Peer, generation: int, reason: str) -> None:
        if self._peers.get(peer_id) is not peer:
            return
        del self._peers[peer_id]
        self._generation.pop(peer_id, None)
        self._wanted.pop(peer_id, None)
        self._release(peer_id)
        self._emit(PeerGone(peer_id, generation, reason))

    # ---------------------------------------------------------------- media
    @property
    def plan(self) -> MixPlan:
        """The plan last applied (the engine swaps it in at its next tick)."""
        return self._plan

    def apply(self, plan: MixPlan) -> None:
        self._plan = plan
        self.engine.apply(plan)
        self.video.set_wanted(plan.video)

    def listen(self, peer_id: str, key: FeedKey) -> None:
        if peer_id not in self._peers:
            return  # no such peer (gone, or never offered): nothing to send to
        self._wanted[peer_id] = key
        self._bind(peer_id)

    def unlisten(self, peer_id: str) -> None:
        self._wanted.pop(peer_id, None)
        if self._listening.pop(peer_id, None) is not None:
            self.engine.remove_listener(peer_id)

    def _bind(self, peer_id: str) -> None:
        """Make the engine send what is wanted, once the sender is bound to RTP."""
        peer = self._peers.get(peer_id)
        key = self._wanted.get(peer_id)
        if peer is None or key is None or peer_id not in self._ready or peer.sender is None:
            return
        current = self._listening.get(peer_id)
        if current == key:
            return
        if current is None:
            self.engine.add_listener(peer_id, peer.sender, key)
        else:
            self.engine.switch(peer_id, key)
        self._listening[peer_id] = key

    # ---------------------------------------------------------------- relay
    async def relay_listen(self, host: str, port: int = 0) -> Address:
        if self._closed:
            raise Unavailable("the media plane is closed")
        return await self.relay.listen(host, port)

    def relay_accept(self, keys: Collection[FeedKey], sources: Collection[str] = ()) -> None:
        self.relay.relay_accept(keys, sources)

    def relay_to(self, link_id: str, address: Address, keys: Collection[FeedKey],
                 epoch: int, sources: Collection[str] = (), videos: Collection[str] = (),
                 video_from: Collection[str] = ()) -> None:
        self.relay.relay_to(link_id, address, keys, epoch, sources, videos, video_from)

    def relay_stop(self, link_id: str) -> None:
        self.relay.relay_stop(link_id)

    async def stats(self) -> PlaneStats:
        return PlaneStats(engine=self.engine.stats(), peers=len(self._peers),
                          self_check=self.self_check, relay=self.relay.stats(),
                          video=self.video.stats())
