"""The origin's side of media through an edge: one room's plane, routing each peer's media to
the node that holds the peer.

A participant who joined through an edge has their peer on the *edge's* media plane
(rooms/edge_media.py); the origin's Room still counts that peer (its MediaLink, rooms/peers.py),
so the floor, on-air and listening logic is exactly the single-process one. `EdgePlane` is the
RoomPlane the origin's runtime talks to while its room is served to edges (rooms/host.py
installs it): calls about a local peer go to the node's own plane unchanged (the ScopedPlane),
calls about a peer on an edge become
- `listen`/`unlisten`: a `ListenOut` on the meeting's stream (the edge's plane listens) and the
  edge's relay link (`relay_to(<meeting>><edge>, its relay address, the keys its listeners hear,
  the lease epoch)`): each encoded packet goes once to each edge that has listeners of it;
- `close_peer`: a `PeerCloseOut` (the edge closes its peer);
- `apply`: the plan is mixed here as always; the sources it mixes go out as a `SourcesOut` (each
  edge forwards the active microphones of its own peers) and those on edges are accepted from
  the relay (`relay_accept(sources=...)`): parked sources never cross. The plan's video goes
  out with them (`SourcesOut.video`), and each edge's link carries the cameras its viewers
  watch (`videos`) and brings the cameras of its peers that viewers elsewhere watch
  (`video_from`): the origin is the hub, so a camera on one edge reaches another through it,
  and a camera nobody watches off its node crosses to nobody (media/video_relay.py).
One home per state: where a peer lives is known here only (`where`, set when the peer is made);
what each edge relays follows from the listeners, recomputed on each change. Every method runs
in the room's task, except `offer`/`candidate` (as with any RoomPlane).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

from mirp.media.plan import PARTNER_SUFFIX, FeedKey, MixPlan
from mirp.media.relay_format import Address
from mirp.media.sdp import offers_camera
from mirp.rooms import hop
from mirp.rooms.media_link import RoomPlane
from mirp.rooms.shared_plane import ScopedPlane

log = logging.getLogger("mirp.rooms.edge_plane")


def feeds_link(meeting_id: str, edge: str) -> str:
    """The origin plane's relay link of one meeting to one edge (each carries its epoch)."""
    return f"{meeting_id}>{edge}"


class EdgePlane(RoomPlane):
    def __init__(self, local: ScopedPlane, put: Callable[[hop.Out], None],
                 epoch: Callable[[], int], here: str = "") -> None:
        self.local = local
        self.here = here  # this node: an edge Session of its own has its peer on `local`
        self.meeting_id = local.meeting_id
        self.put = put  # into the meeting's stream (the host's outbox)
        self.epoch = epoch  # the lease's epoch, for the relay links
        self.where: dict[str, str] = {}  # participant -> the edge holding its peer
        self.edges: dict[str, Address] = {}  # edge -> its relay address
        self.listening: dict[str, FeedKey] = {}  # participant on an edge -> what it hears
        # edge -> what its link carries: the keys, the cameras sent, the cameras taken
        self.links: dict[str, tuple[frozenset[FeedKey], frozenset[str], frozenset[str]]] = {}
        self.sources: frozenset[str] = frozenset()  # what the last plan mixes
        self.video: dict[str, str] = {}  # the last plan's video: stream -> publisher
        # participants whose last offer (here or on an edge) sends no camera: shown to nobody
        self.no_camera: set[str] = set()

    # ---------------------------------------------------------------- RoomPlane
    async def offer(self, peer_id: str, sdp: str) -> str:
        self._move(peer_id, None)  # a local offer replaces a peer on an edge
        self._camera(peer_id, offers_camera(sdp))  # applied with the plan's next video
        return await self.local.offer(peer_id, sdp)

    async def candidate(self, peer_id: str, candidate: Mapping[str, object] | None) -> None:
        if peer_id not in self.where:  # a peer on an edge gets its candidates there
            await self.local.candidate(peer_id, candidate)

    def close_peer(self, peer_id: str) -> None:
        if peer_id in self.where:
            self._move(peer_id, None)
        else:
            self.local.close_peer(peer_id)

    def apply(self, plan: MixPlan) -> None:
        self.local.apply(plan)
        sources = plan.sources()
        if sources != self.sources or plan.video != self.video:
            self.sources, video_changed = sources, plan.video != self.video
            self.video = dict(plan.video)
            self.put(self._sources_out())
            self._accept()
            if video_changed:
                self._relay_all()

    def listen(self, peer_id: str, key: FeedKey) -> None:
        edge = self.where.get(peer_id)
        if edge is None:
            self.local.listen(peer_id, key)
            return
        self.listening[peer_id] = key
        self._relay(edge)  # the packets first: the edge's listener starts on a flowing feed
        self.put(hop.ListenOut(edge, peer_id, key))

    def unlisten(self, peer_id: str) -> None:
        edge = self.where.get(peer_id)
        if edge is None:
            self.local.unlisten(peer_id)
            return
        self.put(hop.ListenOut(edge, peer_id, None))
        self._drop_listener(peer_id, edge)

    # ---------------------------------------------------------------- peers on edges
    def peer_up(self, peer_id: str, edge: str, address: Address, camera: bool = False) -> None:
        """The edge's plane answered this participant's offer (in the room task, before the
        MediaLink counts the peer): its media goes to that edge from now on. A peer on this
        very node (an edge of the meeting that took it over) is a local one: same plane, same
        name. `camera`: its offer sends video (without, it is shown to nobody off its edge)."""
        self._camera(peer_id, camera)
        if edge == self.here:
            if peer_id in self.where:
                self._move(peer_id, None)  # closes the one elsewhere, not the one here
            self.put(self._sources_out())
            self._relay_all()
            return
        self._move(peer_id, edge)
        self.edges[edge] = address
        self.where[peer_id] = edge
        self._accept()
        self._relay_all()
        # that edge may have come after the plan's last change: which sources are active
        self.put(self._sources_out())

    def peer_down(self, peer_id: str, edge: str) -> bool:
        """The edge reports the peer gone (its plane released it already): True if that edge
        held it (a late report about a peer made elsewhere since is ignored)."""
        if edge == self.here and peer_id not in self.where:
            return True  # a local peer, reported by this node's own edge side
        if self.where.get(peer_id) != edge:
            return False
        del self.where[peer_id]
        self._drop_listener(peer_id, edge)
        self._accept()
        self._relay_all()
        return True

    def replay(self, edge: str) -> None:
        """The edge resynchronised (it may have missed any of the stream): its listeners'
        feeds and the active sources again, right after its `Resynced`."""
        for pid, key in self.listening.items():
            if self.where.get(pid) == edge:
                self.put(hop.ListenOut(edge, pid, key))
        self.put(self._sources_out())

    def stop(self) -> None:
        """The room is no longer served from here: no more relaying."""
        for edge in list(self.links):
            self.local.plane.relay_stop(feeds_link(self.meeting_id, edge))
        self.links.clear()
        self.local.accept()

    # ---------------------------------------------------------------- state
    def _move(self, peer_id: str, to: str | None) -> None:
        """The participant's peer is made on `to` (None: here): the previous one elsewhere goes
        (a new offer on the same plane replaces it there by itself)."""
        edge = self.where.get(peer_id)
        if edge == to:
            return
        if edge is None:
            self.local.close_peer(peer_id)
            return
        del self.where[peer_id]
        self.put(hop.PeerCloseOut(edge, peer_id))
        self._drop_listener(peer_id, edge)
        self._accept()
        self._relay_all()

    def _drop_listener(self, peer_id: str, edge: str) -> None:
        if self.listening.pop(peer_id, None) is not None:
            self._relay(edge)

    def _relay(self, edge: str) -> None:
        """The edge's link carries exactly the keys its listeners hear and the cameras its
        viewers watch, and brings its cameras watched elsewhere (none of them: stopped)."""
        keys = frozenset(k for p, k in self.listening.items() if self.where.get(p) == edge)
        videos, video_from = set(), set()
        for stream, publisher in self._routed().items():
            seen_on = self.where.get(stream.removesuffix(PARTNER_SUFFIX))
            shown_on = self.where.get(publisher)
            if seen_on == edge and shown_on != edge:
                videos.add(publisher)
            elif shown_on == edge and seen_on != edge:
                video_from.add(publisher)
        state = (keys, frozenset(videos), frozenset(video_from))
        empty: frozenset[str] = frozenset()
        if state == self.links.get(edge, (frozenset(), empty, empty)):
            return
        link, plane = feeds_link(self.meeting_id, edge), self.local.plane
        if any(state) and edge in self.edges:
            self.links[edge] = state
            named = sorted((self.local.key(k) for k in keys), key=str)  # minus None or a name
            plane.relay_to(link, self.edges[edge], named, self.epoch(),
                           videos=sorted(videos), video_from=sorted(video_from))
        elif self.links.pop(edge, None) is not None:
            plane.relay_stop(link)

    def _relay_all(self) -> None:
        for edge in sorted(self.edges.keys() | self.links.keys()):
            self._relay(edge)

    def _routed(self) -> dict[str, str]:
        """The plan's video less the streams of a publisher without a camera: every node stops
        their viewers at once, as one plane does for a peer it has no camera of (a peer whose
        offer this plane never saw, made before the room was served to edges, is kept)."""
        return {s: p for s, p in self.video.items() if p not in self.no_camera}

    def _camera(self, peer_id: str, on: bool) -> None:
        if on:
            self.no_camera.discard(peer_id)
        else:
            self.no_camera.add(peer_id)

    def _sources_out(self) -> hop.SourcesOut:
        return hop.SourcesOut(tuple(sorted(self.sources)), tuple(sorted(self._routed().items())))

    def _accept(self) -> None:
        """The microphones of peers on edges that the plan mixes arrive relayed."""
        self.local.accept(sources=self.sources & self.where.keys())
