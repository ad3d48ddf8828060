"""One media plane for every room of the process, each room seeing only its own share.

Why: a MixPlan and a FeedKey know no meeting (media knows no Meeting), yet one plane serves all
rooms. Each room gets a ScopedPlane (rooms/media_link.py's RoomPlane) whose keys are namespaced
by meeting id (`<id>/fr`); the SharedPlane gives the plane the union of the rooms' plans. Peer
and source ids are participant ids, unique across meetings, so they pass through unchanged.
In a cluster the same holds for what arrives relayed (`relay_accept` replaces the plane's whole
set): each meeting says its share (the feeds its edge listeners hear, the microphones its
origin takes from edges), the plane gets the union.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from mirp.media.plan import FeedKey, Ingredient, MixPlan
from mirp.media.plane import MediaPlane
from mirp.rooms.media_link import RoomPlane


def namespaced(meeting_id: str, key: FeedKey) -> FeedKey:
    return FeedKey(f"{meeting_id}/{key.channel}", key.under_level_db, key.minus)


class SharedPlane:
    def __init__(self, plane: MediaPlane) -> None:
        self.plane = plane
        self.plans: dict[str, MixPlan] = {}  # meeting id -> its room's plan (non-empty ones)
        # meeting id -> (relayed feeds it accepts, as an edge; microphones, as an origin)
        self.accepted: dict[str, tuple[frozenset[FeedKey], frozenset[str]]] = {}

    def scope(self, meeting_id: str) -> ScopedPlane:
        return ScopedPlane(self, meeting_id)

    def apply(self, meeting_id: str, plan: MixPlan | None) -> None:
        """A room's new plan (None: it has none any more); the plane gets the union."""
        if plan is None:
            if self.plans.pop(meeting_id, None) is None:
                return
        else:
            self.plans[meeting_id] = plan
        merged: dict[FeedKey, tuple[Ingredient, ...]] = {}
        video: dict[str, str] = {}  # peer ids are unique across meetings: a plain union
        aliases: dict[FeedKey, FeedKey] = {}
        for mid, room_plan in self.plans.items():
            for key, recipe in room_plan.feeds.items():
                merged[namespaced(mid, key)] = recipe
            video.update(room_plan.video)
            for alias, target in room_plan.aliases.items():
                aliases[namespaced(mid, alias)] = namespaced(mid, target)
        self.plane.apply(MixPlan.of(merged, aliases, video=video))

    def accept(self, meeting_id: str, keys: Collection[FeedKey] = (),
               sources: Collection[str] = ()) -> None:
        """A meeting's share of what arrives relayed (its own keys, not yet namespaced)."""
        share = (frozenset(namespaced(meeting_id, k) for k in keys), frozenset(sources))
        if self.accepted.get(meeting_id, (frozenset(), frozenset())) == share:
            return
        if share[0] or share[1]:
            self.accepted[meeting_id] = share
        else:
            del self.accepted[meeting_id]
        all_keys = frozenset().union(*(k for k, _ in self.accepted.values()))
        all_sources = frozenset().union(*(s for _, s in self.accepted.values()))
        self.plane.relay_accept(all_keys, all_sources)


class ScopedPlane(RoomPlane):
    """The media plane as one room sees it (implements rooms.media_link.RoomPlane)."""

    def __init__(self, shared: SharedPlane, meeting_id: str) -> None:
        self.shared = shared
        self.plane = shared.plane
        self.meeting_id = meeting_id

    async def offer(self, peer_id: str, sdp: str) -> str:
        return await self.plane.offer(peer_id, sdp)

    async def candidate(self, peer_id: str, candidate: Mapping[str, object] | None) -> None:
        await self.plane.candidate(peer_id, candidate)

    def close_peer(self, peer_id: str) -> None:
        self.plane.close_peer(peer_id)

    def apply(self, plan: MixPlan) -> None:
        self.shared.apply(self.meeting_id, plan if plan.feeds or plan.video else None)

    def listen(self, peer_id: str, key: FeedKey) -> None:
        self.plane.listen(peer_id, namespaced(self.meeting_id, key))

    def unlisten(self, peer_id: str) -> None:
        self.plane.unlisten(peer_id)

    # in a cluster (rooms/edge_plane.py, rooms/edge_media.py): this room's relayed share
    def accept(self, keys: Collection[FeedKey] = (), sources: Collection[str] = ()) -> None:
        self.shared.accept(self.meeting_id, keys, sources)

    def key(self, key: FeedKey) -> FeedKey:
        """The plane's name of this room's key (what crosses the relay)."""
        return namespaced(self.meeting_id, key)
