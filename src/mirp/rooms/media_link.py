"""A Room's link to the media plane: which of its participants have a peer, and what the plane
was last told for them.

Why it is this small: peers, sources, readiness and listeners live in the media plane
(media/local.py, in the media process), their one home; the room keeps only what it needs to
send the plane the *changes* (the last plan, each peer's last feed) and to tell a participant its
peer is gone. Every method is called from the Room's actor task (rooms/actor.py), except
`plane.offer` and `plane.candidate`, which the runtime awaits outside it (the slow ICE/DTLS
set-up must not hold the room): they change nothing of the room's; `begin_offer` before and
`offer_done` after, both in the task, do.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from mirp.media.plan import FeedKey, MixPlan


class RoomPlane(Protocol):
    """The media plane as one room sees it: media/plane.py's MediaPlane without its lifecycle
    and events, with this room's FeedKeys (rooms/shared_plane.py's ScopedPlane namespaces them by
    meeting, so rooms never collide in the one plane of the process)."""

    async def offer(self, peer_id: str, sdp: str) -> str: ...
    async def candidate(self, peer_id: str, candidate: Mapping[str, object] | None) -> None: ...
    def close_peer(self, peer_id: str) -> None: ...
    def apply(self, plan: MixPlan) -> None: ...
    def listen(self, peer_id: str, key: FeedKey) -> None: ...
    def unlisten(self, peer_id: str) -> None: ...


class MediaLink:
    def __init__(self, plane: RoomPlane) -> None:
        self.plane = plane
        self.peers: set[str] = set()  # participants whose offer/answer is done, not gone since
        self.offering: dict[str, int] = {}  # participant -> number of its offer in flight
        self.feed_of: dict[str, FeedKey] = {}  # participant -> the feed the plane was told
        self.plan: MixPlan | None = None
        self._offers = 0

    def begin_offer(self, pid: str) -> int:
        """A new offer replaces the participant's peer (the plane does that itself)."""
        self._forget(pid)
        self._offers += 1
        self.offering[pid] = self._offers
        return self._offers

    def offer_done(self, pid: str, number: int) -> bool:
        """The answer came back: the peer counts, unless it was detached or replaced meanwhile
        (then False; the peer is closed unless a newer offer already replaced it)."""
        if self.offering.get(pid) != number:
            if pid not in self.offering and pid not in self.peers:
                self.plane.close_peer(pid)
            return False
        del self.offering[pid]
        self.peers.add(pid)
        return True

    def offer_failed(self, pid: str, number: int) -> None:
        """The plane refused the offer and released the peer already."""
        if self.offering.get(pid) == number:
            del self.offering[pid]

    def gone(self, pid: str) -> bool:
        """The plane reports the peer gone (it released everything): True if it was ours."""
        if pid not in self.peers and pid not in self.offering:
            return False
        self._forget(pid)
        return True

    def has_peer(self, pid: str) -> bool:
        return pid in self.peers or pid in self.offering

    def detach(self, pid: str) -> None:
        """The participant's Session ended or was replaced: its peer is closed."""
        if self.has_peer(pid):
            self._forget(pid)
            self.plane.close_peer(pid)

    def _forget(self, pid: str) -> None:
        self.peers.discard(pid)
        self.offering.pop(pid, None)
        self.feed_of.pop(pid, None)

    def sync(self, plan: MixPlan, feeds: Mapping[str, FeedKey]) -> None:
        """Send the plane what changed: the plan, and each peer's feed."""
        if plan != self.plan:
            self.plane.apply(plan)
            self.plan = plan
        for pid in self.peers:
            key = feeds.get(pid)
            if key == self.feed_of.get(pid):
                continue
            if key is None:
                del self.feed_of[pid]
                self.plane.unlisten(pid)
            else:
                self.feed_of[pid] = key
                self.plane.listen(pid, key)

    def close(self) -> None:
        for pid in list(self.peers | self.offering.keys()):
            self.detach(pid)
        self.plane.apply(MixPlan.of())
        self.plan = MixPlan.of()
