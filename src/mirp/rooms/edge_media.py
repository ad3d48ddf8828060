"""The edge's side of media through an edge: the peers of one meeting's participants who joined
here, on this node's own media plane.

The peer lives on the edge (the WebRTC set-up, the fan-out to the listener, the microphone's
receive tap); the decisions stay at the origin. `EdgeMedia` answers the edge's `offer`/`ice`
with the node's plane (its ScopedPlane for the meeting), and then the Room at the origin counts
the peer (`PeerUp`, by RemoteRoom). From the meeting's stream it takes the origin's plan for its
own peers (rooms/edge_plane.py sends it):
- `ListenOut`: the key is accepted from the relay (`relay_accept`, through the SharedPlane: the
  edge never mixes nor encodes it) and the peer listens to it, the same fan-out as on one node;
- `PeerCloseOut`: the peer is closed;
- `SourcesOut`: the microphones the origin's plan mixes; those of this edge's peers are
  forwarded to the origin's relay address (`relay_to(<meeting><origin>, ..., sources=...)`),
  undecoded; parked ones are not. Its `video` (the plan's stream -> publisher, every node's):
  this edge's viewers are given theirs (a plan of video only, applied to this node's plane),
  the cameras of its peers watched elsewhere go to the origin on the same link (`videos`), and
  the cameras its viewers want from elsewhere come from the origin (`video_from`).
Its own peer gone (the plane's `PeerGone`) is reported to the origin (`PeerDown`, by RemoteRoom)
like on one node. The origin's relay address comes from the Directory (NodeInfo.address); a
new origin (failover: a new sender or epoch on the stream) is looked up again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping

from mirp.errors import NotFound
from mirp.media.plan import PARTNER_SUFFIX, FeedKey, MixPlan
from mirp.media.relay_format import Address
from mirp.media.sdp import offers_camera
from mirp.rooms import hop
from mirp.rooms.shared_plane import ScopedPlane

log = logging.getLogger("mirp.rooms.edge_media")

AddressOf = Callable[[str], Awaitable[Address | None]]  # a node's relay address (Directory)


def sources_link(meeting_id: str) -> str:
    """The edge plane's relay link of one meeting's microphones to its origin."""
    return f"{meeting_id}<origin"


class EdgeMedia:
    def __init__(self, plane: ScopedPlane, node_id: str, address_of: AddressOf, *,
                 origin: str, origin_address: Address | None, epoch: int) -> None:
        self.plane = plane
        self.meeting_id = plane.meeting_id
        self.node_id = node_id
        self.address_of = address_of
        self.origin, self.origin_address, self.epoch = origin, origin_address, epoch
        self.peers: dict[str, str] = {}  # participant -> the session id its peer belongs to
        self.cameras: set[str] = set()  # participants whose offer sends video (PeerUp says)
        self.listening: dict[str, FeedKey] = {}
        self.active: frozenset[str] = frozenset()  # the sources the origin's plan mixes
        self.video: dict[str, str] = {}  # the origin's plan's video: stream -> publisher
        # its share for this edge's viewers, as applied (None: apply it again, whatever it is)
        self.shown: dict[str, str] | None = None
        # what the link to the origin carries: microphones, cameras sent, cameras taken
        self.forwarded: tuple[frozenset[str], frozenset[str], frozenset[str], Address | None,
                              int] = (frozenset(), frozenset(), frozenset(), None, 0)
        # the origin is this node (it took the meeting over): its room's plane is this plane,
        # the peers here are its local peers, nothing is relayed in or out for them
        self.here = origin == node_id
        self._lookup: asyncio.Task[None] | None = None

    # ---------------------------------------------------------------- the edge's Sessions
    async def offer(self, participant_id: str, session_id: str, sdp: str) -> str:
        answer = await self.plane.offer(participant_id, sdp)  # replaces an earlier peer
        self.listening.pop(participant_id, None)  # the plane dropped its listener with it
        self.peers[participant_id] = session_id
        if offers_camera(sdp):
            self.cameras.add(participant_id)
        else:
            self.cameras.discard(participant_id)
        self._changed()
        return answer

    async def candidate(self, participant_id: str,
                        candidate: Mapping[str, object] | None) -> None:
        with contextlib.suppress(NotFound):  # a late candidate of a peer already gone
            await self.plane.candidate(participant_id, candidate)

    def close(self, participant_id: str, session_id: str | None = None) -> None:
        """The peer goes (of that Session only, when given: a newer one is left alone)."""
        if session_id is not None and self.peers.get(participant_id) != session_id:
            return
        self.plane.close_peer(participant_id)
        if self._forget(participant_id):
            self._changed()

    def gone(self, participant_id: str) -> str | None:
        """The plane reports the peer gone (released there): its session id, if it was ours."""
        session_id = self.peers.get(participant_id)
        if session_id is not None:
            self._forget(participant_id)
            self._changed()
        return session_id

    def _forget(self, participant_id: str) -> bool:
        self.listening.pop(participant_id, None)
        self.cameras.discard(participant_id)
        return self.peers.pop(participant_id, None) is not None

    # ---------------------------------------------------------------- the origin's plan
    def deliver(self, message: hop.ListenOut | hop.PeerCloseOut | hop.SourcesOut) -> None:
        match message:
            case hop.ListenOut(node_id=node, participant_id=pid, key=key):
                if node != self.node_id or pid not in self.peers or self.here:
                    return
                if key is None:
                    self.listening.pop(pid, None)
                    self.plane.unlisten(pid)
                    self._accept()
                else:
                    self.listening[pid] = key
                    self._accept()  # relayed, never encoded here, before anyone listens
                    self.plane.listen(pid, key)
            case hop.PeerCloseOut(node_id=node, participant_id=pid):
                if node == self.node_id and pid in self.peers:
                    self.close(pid)
            case hop.SourcesOut(sources=sources, video=video):
                self.active = frozenset(sources)
                self.video = dict(video)
                self._forward()

    def origin_is(self, node_id: str, epoch: int) -> None:
        """The stream's sender and epoch: a new origin is looked up, then forwarded to."""
        if (node_id, epoch) == (self.origin, self.epoch):
            return
        moved = node_id != self.origin
        self.origin, self.epoch = node_id, epoch
        here, self.here = self.here, node_id == self.node_id
        if here != self.here:  # the room's own plan here, or no more: ours to give again
            self.shown = None
        if self.here and not here:  # the room next door mixes, encodes, accepts from now on
            self.listening.clear()
            self.plane.accept()
        if not moved:
            self._forward()
            return
        self.origin_address = None
        if self._lookup is not None:
            self._lookup.cancel()
        self._lookup = asyncio.create_task(self._look_up(node_id))

    async def _look_up(self, node_id: str) -> None:
        address = await self.address_of(node_id)
        if self.origin == node_id:
            self.origin_address = address
            if address is None:
                log.warning("room %s: origin %s has no relay address: microphones here are "
                            "not forwarded", self.meeting_id, node_id)
            self._forward()

    # ---------------------------------------------------------------- to the plane
    def _changed(self) -> None:
        self._accept()
        self._forward()

    def _accept(self) -> None:
        if not self.here:  # the meeting's share of the relay is the origin's then
            self.plane.accept(keys=set(self.listening.values()))

    def _forward(self) -> None:
        """This edge's peers' microphones that the origin mixes go to the origin, no other."""
        empty: frozenset[str] = frozenset()
        mine, videos, video_from = empty, set(), set()
        if not self.here:
            mine = self.active & self.peers.keys()
            shown: dict[str, str] = {}
            for stream, publisher in self.video.items():
                seen_here = stream.removesuffix(PARTNER_SUFFIX) in self.peers
                if seen_here:
                    shown[stream] = publisher
                if publisher in self.peers and not seen_here:
                    videos.add(publisher)
                elif seen_here and publisher not in self.peers:
                    video_from.add(publisher)
            if shown != self.shown:  # this edge's viewers: the plan's video, theirs only
                self.shown = shown
                self.plane.apply(MixPlan.of(video=shown))
        state = ((mine, frozenset(videos), frozenset(video_from), self.origin_address,
                  self.epoch) if mine or videos or video_from else (empty, empty, empty, None, 0))
        if state == self.forwarded:
            return
        self.forwarded = state
        link = sources_link(self.meeting_id)
        if state[3] is not None:
            self.plane.plane.relay_to(link, state[3], [], self.epoch, sources=sorted(mine),
                                      videos=sorted(videos), video_from=sorted(video_from))
        else:
            self.plane.plane.relay_stop(link)

    def stop(self) -> None:
        """The meeting has no Session here any more: its peers, links and keys go."""
        if self._lookup is not None:
            self._lookup.cancel()
        for pid in list(self.peers):
            self.plane.close_peer(pid)
        self.peers.clear()
        self.listening.clear()
        self.active = frozenset()
        self.video = {}
        self._changed()


def address_text(address: Address) -> str:
    """A relay address as the Directory's NodeInfo.address carries it (`host:port`)."""
    host, port = address
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def address_parse(text: str) -> Address | None:
    """NodeInfo.address back into an address; None for a node that relays nothing."""
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or int(port) == 0:
        return None
    return host.strip("[]"), int(port)
