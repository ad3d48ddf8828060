"""A room's participants' peer connections, as the room's actor sees them.

Why apart from the runtime: a peer has its own life beside its Session. An offer is begun in the
room task, set up in the media plane outside it (ICE/DTLS take long; the room goes on), and
completed in the task, where a Session replaced meanwhile turns it into Conflict. A peer the
plane reports gone is forgotten in the task and its client told `peer_closed`; without a new
offer within `reoffer_s` the Session is closed with 1001. The plane's reports go through the
actor's report lane (never dropped), the re-offer deadline is an actor timer: nothing here
changes state outside the task. The state itself is the MediaLink's (rooms/media_link.py).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping

from mirp.errors import Conflict, NotFound, Unavailable
from mirp.media.sdp import offers_camera
from mirp.rooms.actor import Actor, RoomClosing
from mirp.rooms.events import Event
from mirp.rooms.media_link import MediaLink
from mirp.rooms.room import Room
from mirp.rooms.session import Session
from mirp.rooms.sessions import Sessions

PEER_LOST_WS = 1001  # not 44xx: the client reconnects (and makes a new peer connection)


def _reoffer(participant_id: str) -> tuple[str, str]:
    return ("reoffer", participant_id)  # the actor timer of a participant's re-offer deadline


class RoomPeers:
    def __init__(
        self,
        actor: Actor[Room],
        sessions: Sessions,
        link: MediaLink,
        sync: Callable[[], None],
        reoffer_s: float,
        after: Callable[[list[Event]], None] | None = None,
    ) -> None:
        self.actor = actor
        self.sessions = sessions
        self.link = link
        self.sync = sync  # tell the plane what changed (the runtime's, after a room change)
        self.reoffer_s = reoffer_s
        self.after = after  # publish the Room's events of a change (and sync): the runtime's

    def forget(self, participant_id: str) -> None:
        """In the task: the participant's Session ended; its peer is closed."""
        self.link.detach(participant_id)
        self.actor.cancel(_reoffer(participant_id))

    async def offer(self, participant_id: str, session: Session, sdp: str) -> str:
        """A new peer connection for this participant (replacing any previous one): the answer.
        Raises InvalidSdp for an offer the media plane refuses."""

        def begin(room: Room, now: float) -> int:
            if not self.sessions.is_current(participant_id, session):
                raise Conflict("this session was replaced")
            self.actor.cancel(_reoffer(participant_id))
            return self.link.begin_offer(participant_id)

        camera = offers_camera(sdp)

        def done(room: Room, now: float) -> None:
            if not self.link.offer_done(participant_id, number):
                raise Conflict("the peer connection was replaced while it was being set up")
            if self.after is not None:
                self.after(room.camera(participant_id, camera, now))
            else:
                self.sync()

        def failed(room: Room, now: float) -> None:
            self.link.offer_failed(participant_id, number)

        number = await self.actor.call(begin)
        try:
            answer = await self.link.plane.offer(participant_id, sdp)
        except Exception:  # refused: forgotten before the caller hears of it
            try:
                await self.actor.call(failed)
            except RoomClosing:
                pass
            except Unavailable:  # a full queue: the report lane is never refused
                self.actor.notify(("offer", participant_id, number), failed)
            raise
        except BaseException:  # cancelled: no await now, and never lost
            self.actor.notify(("offer", participant_id, number), failed)
            raise
        try:
            await self.actor.call(done)
        except RoomClosing:
            raise Conflict("the room closed while the peer connection was being set up") from None
        return answer

    async def adopt(self, participant_id: str, session: Session,
                    placed: Callable[[], None], *, camera: bool = False) -> None:
        """A peer set up on another node's media plane (an edge's, rooms/edge_plane.py) counts
        as this participant's peer, as one this room's plane answered; `placed` (in the task,
        first) tells the room's plane where it is; `camera`: its offer sends video."""

        def job(room: Room, now: float) -> None:
            if not self.sessions.is_current(participant_id, session):
                raise Conflict("this session was replaced")
            self.actor.cancel(_reoffer(participant_id))
            placed()
            self.link.offer_done(participant_id, self.link.begin_offer(participant_id))
            if self.after is not None:
                self.after(room.camera(participant_id, camera, now))
            else:
                self.sync()

        await self.actor.call(job)

    async def candidate(self, participant_id: str, candidate: Mapping[str, object] | None) -> None:
        with contextlib.suppress(NotFound):  # a late candidate of a peer already gone: harmless
            await self.link.plane.candidate(participant_id, candidate)

    def gone(self, participant_id: str, reason: str) -> None:
        """The media plane reports this participant's peer gone; applied in the task even when
        the command queue is full."""
        if self.link.has_peer(participant_id):  # a read: most rooms do not have this peer
            self.actor.notify(("gone", participant_id),
                              lambda room, now: self._on_gone(participant_id, reason, now))

    def _on_gone(self, pid: str, reason: str, now: float) -> None:
        """In the task. The plane released the peer's media; the client makes a new peer
        connection on the same Session. One that sends no new offer within `reoffer_s` is closed
        with 1001: if it is alive it reconnects (new Session, new peer; the Room keeps its place
        for the grace period); if it is gone, the Room learns it now rather than when the
        socket's own timeouts fire."""
        if not self.link.gone(pid):
            return
        self.sync()
        session = self.sessions.get(pid)
        if session is None:
            return
        session.send({"type": "peer_closed", "reason": reason})

        def no_new_offer(room: Room, at: float) -> None:
            if self.sessions.is_current(pid, session) and not self.link.has_peer(pid):
                session.close(PEER_LOST_WS, f"media connection lost ({reason})")

        self.actor.at(_reoffer(pid), now + self.reoffer_s, no_new_offer)
