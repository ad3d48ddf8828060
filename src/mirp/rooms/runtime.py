"""The asyncio shell around one Room: its Sessions, its participants' peers, its durability.

Every change to the Room and to this runtime's state happens in the Room's actor task
(rooms/actor.py: a bounded command queue, a lane for the media plane's reports that is never
dropped, and timers). After every job or timer tick the task:
1. numbers the wire events and hands each to the Sessions of its audience (rooms/sessions.py);
2. acts on Removed / MeetingClosed (closes those Sessions);
3. journals the records and snapshots the Room (rooms/keeper.py); a command's ack (and a join's
   welcome) waits until those are on disk, and a decision that changes rights or the meeting is
   committed to the database first, the Room put back and the command refused if it cannot be;
4. tells the media plane what changed (rooms/media_link.py): `room.mix_plan()` and each peer's
   `room.feeds()` entry.
Where each piece of state lives: the Room (participants, floor, booths, subscriptions) in
`room`; who is connected through which Session and the event counter in `sessions`; which
participants have a peer and what the plane was last told in `media`; peers, sources and
listeners themselves in the media plane. An `offer` is begun in the task, runs the (slow)
ICE/DTLS set-up in the plane outside it, and is completed in it.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import TypeVar

from mirp.errors import Conflict, Forbidden, MirpError
from mirp.rooms.actor import Actor, Job, RoomClosing
from mirp.rooms.commands import Command
from mirp.rooms.door import JoinedRoom
from mirp.rooms.events import Event, JsonDict, MeetingClosed, Removed, WireEvent
from mirp.rooms.keeper import (
    LAZY_SNAPSHOT_COMMANDS,
    LAZY_SNAPSHOT_S,
    Durability,
    Keeper,
    RecordSink,
)
from mirp.rooms.media_link import MediaLink, RoomPlane
from mirp.rooms.model import JoinGrant, MeetingStatus
from mirp.rooms.peers import PEER_LOST_WS, RoomPeers
from mirp.rooms.room import Room
from mirp.rooms.session import Session
from mirp.rooms.sessions import Sessions

log = logging.getLogger("mirp.rooms.runtime")
T = TypeVar("T")

MEETING_CLOSED_WS = 4410  # 44xx: the client does not reconnect
REPLACED_WS = Conflict.ws_close
SNAPSHOT = "snapshot"  # the actor timer of a coalesced snapshot
LEVELS = "levels"  # the notify key of level reports (the newest replaces an older one)
STOP = "stop"  # the notify key of a server shutdown (close or suspend)
RECORDING = "recording"  # the notify key of the recorder's state (the newest counts)


class RoomRuntime(JoinedRoom):
    def __init__(
        self,
        room: Room,
        *,
        plane: RoomPlane,
        recorder: RecordSink,
        queue_size: int = 1024,
        idle_close_s: float = 60.0,
        reoffer_s: float = 8.0,
        on_closed: Callable[[RoomRuntime], None] | None = None,
        clock: Callable[[], float] = time.time,
        durability: Durability | None = None,
        seq: int = 0,
        restored: frozenset[str] = frozenset(),
    ) -> None:
        self.room = room
        self.meeting_id = room.spec.id
        self.media = MediaLink(plane)  # the room's peers; the plane holds their media
        self.keeper = Keeper(self.meeting_id, recorder, durability)
        self.sessions = Sessions(seq)
        self.idle_close_s = idle_close_s
        self.clock = clock
        self._idle_since: float | None = clock()
        self.restored = set(restored)  # participants back from a snapshot, not yet rejoined
        self.actor: Actor[Room] = Actor(
            room, name=f"room {self.meeting_id}", queue_size=queue_size, clock=clock,
            next_deadline=self._next_deadline, tick=self._on_timer,
            on_closed=None if on_closed is None else lambda: on_closed(self))
        self.peers = RoomPeers(self.actor, self.sessions, self.media, self._sync_media, reoffer_s,
                               self._after)

    @property
    def seq(self) -> int:
        return self.sessions.seq

    @property
    def closing(self) -> bool:
        return self.actor.closing

    # ---------------------------------------------------------------- lifecycle
    def start(self) -> RoomRuntime:
        self.actor.start()
        return self

    async def close(self, reason: str = "server shutting down") -> None:
        """Close every session and peer, record the leaves (idempotent). By the report lane:
        a room whose command queue is full still closes."""
        self._stop_with(lambda room, now: self._shutdown(now, 1001, reason))
        await self.actor.wait_closed()
        self.close_peers()

    async def suspend(self, reason: str = "server restarting") -> None:
        """Server shutdown that the next start undoes: the Room's state is snapshotted as it is,
        every session is closed with 1001 (clients reconnect) and every peer released, and
        nobody leaves (no leave records: a participant back within the grace period after the
        restore was never away; docs/operations.md)."""

        def job(room: Room, now: float) -> None:
            if self.closing:
                return
            self._snapshot()
            self.sessions.close_all(PEER_LOST_WS, reason)
            self.close_peers()  # every peer released, the room's plan withdrawn
            self.actor.stop()

        self._stop_with(job)
        await self.actor.wait_closed()
        self.close_peers()

    def _stop_with(self, fn: Job[Room, None]) -> None:
        """Run `fn` by the report lane (a full queue does not keep the room open), then end
        the task even if `fn` failed."""

        def job(room: Room, now: float) -> None:
            try:
                fn(room, now)
            finally:
                self.actor.stop()

        self.actor.notify(STOP, job)

    def close_peers(self) -> None:
        """Any peer still linked is closed and the room's plan withdrawn (idempotent)."""
        try:
            self.media.close()
        except Exception:
            log.exception("room %s: releasing its media failed", self.meeting_id)

    # ---------------------------------------------------------------- the actor's lanes
    async def call(self, fn: Job[Room, T]) -> T:
        """Run `fn(room, now)` in the room task and return its result (or raise its error)."""
        return await self.actor.call(fn)

    async def call_async(self, fn: Job[Room, Awaitable[T]]) -> T:
        """Like `call` for a job that awaits (durability): the room waits for it in order."""
        return await self.actor.call_async(fn)

    def submit_nowait(self, fn: Job[Room, object]) -> bool:
        """Queue a job nobody waits for; dropped when the room is busy (False)."""
        return self.actor.submit_nowait(fn)

    def levels(self, levels: Mapping[str, float]) -> None:
        """Microphone levels (dBFS) of this room's sources, from the media plane: the newest
        report is applied in the task, even when the command queue is full."""
        mine = {sid: db for sid, db in levels.items() if self.media.has_peer(sid)}
        if mine:
            self.actor.notify(LEVELS, lambda room, now: self._after(room.levels(mine, now)))

    async def caption(self, channel: str, text: str, start: float, end: float,
                      language: str) -> tuple[str, ...]:
        """A final caption of one of this room's captioned channels (the captioner's): sent
        to those hearing it; returns the floor holders' names of the moment (the transcript's)."""
        def job(room: Room, now: float) -> tuple[str, ...]:
            self._after(room.caption(channel, text, start, end, language), media=False)
            return room.floor_speakers()

        return await self.actor.call(job)

    def _next_deadline(self, room: Room) -> float | None:
        deadline = room.next_deadline()
        if self._idle_since is not None:
            idle_at = self._idle_since + self.idle_close_s
            deadline = idle_at if deadline is None else min(deadline, idle_at)
        return deadline

    def _on_timer(self, room: Room, now: float) -> None:
        try:
            self._after(room.tick(now))
        except Exception:  # the idle check below still runs
            log.exception("room %s: tick failed", self.meeting_id)
        if (
            self._idle_since is not None
            and now - self._idle_since >= self.idle_close_s
            and not self.sessions
        ):
            log.info("room %s idle: closing", self.meeting_id)
            self._shutdown(now, 1001, "room idle")

    def _shutdown(self, now: float, code: int, reason: str) -> None:
        """In the task: everyone leaves for good, every session is closed, the task ends."""
        if self.closing:
            return
        self.sessions.close_all(code, reason)
        for pid in self.sessions.ever_joined():  # Room.leave is idempotent
            with contextlib.suppress(MirpError):
                self._after(self.room.leave(pid, now), media=False)
        self.close_peers()
        self.actor.stop()
        self.actor.cancel(SNAPSHOT)
        self.keeper.snapshot(None, self.seq)  # a closed room is not restored

    # ---------------------------------------------------------------- after every change
    def _after(
        self, events: list[Event], *, media: bool = True, journaled: bool = False
    ) -> None:
        if not journaled:
            self._journal(events)
        for event in events:
            if isinstance(event, WireEvent):
                self._broadcast(event)
        if media:
            self._sync_media()

    def _journal(self, events: list[Event], now: bool = False) -> None:
        """Records to the Recorder (its journal), and the Room's new state to its snapshot:
        `now` (an ack waits for it), or soon, coalesced (an actor timer)."""
        self.keeper.record(events)
        if not events or not self.keeper.snapshots or self.closing:
            return
        if now:
            self._snapshot()
        elif self.actor.timer(SNAPSHOT) is None:
            self.actor.at(SNAPSHOT, self.clock() + LAZY_SNAPSHOT_S,
                          lambda room, at: self._snapshot())

    def _snapshot(self) -> None:
        self.actor.cancel(SNAPSHOT)
        if not self.closing:
            self.keeper.snapshot(self.room, self.seq)

    async def _durable(self, events: list[Event], snapshot: bool = True) -> None:
        """Journal `events` and wait until they (and, with `snapshot`, the Room's state) are on
        disk."""
        self._journal(events, now=snapshot)
        await self.keeper.durable()

    def _broadcast(self, event: WireEvent) -> None:
        self.sessions.broadcast(event, self.room.recipients(event.audience))
        if isinstance(event, Removed):
            pid = event.participant_id
            session = self.sessions.detach(pid)
            if session is not None:
                session.close(Forbidden.ws_close, "removed from the meeting")
            self.media.detach(pid)
        elif isinstance(event, MeetingClosed):
            self._shutdown(self.clock(), MEETING_CLOSED_WS, "the meeting is closed")

    def _sync_media(self) -> None:
        try:
            self.media.sync(self.room.mix_plan(), self.room.feeds())
        except Exception:
            log.exception("room %s: media update failed", self.meeting_id)

    # ---------------------------------------------------------------- sessions
    async def join(self, grant: JoinGrant, session: Session, resume: str | None = None) -> None:
        """Admit a Session; a previous Session of the same participant is replaced. The welcome
        (the snapshot, after the join, at `seq`) is sent from the task before any later event;
        the join's own events follow it (seq > welcome.seq), the new Session included, so it
        also gets what is addressed to it alone (e.g. `subscribed`)."""

        async def job(room: Room, now: float) -> None:
            pid = grant.participant_id
            old = self.sessions.get(pid)
            events: list[Event] = []
            if old is not None:  # a reconnect (or a second tab): the new one wins
                events += room.disconnect(pid, now)
            events += room.join(grant, now)
            if old is not None:
                self.sessions.detach(pid)
                old.close(
                    REPLACED_WS,
                    "replaced by a new connection",
                    Conflict("this participant connected again elsewhere"),
                )
                self.media.detach(pid)
            resumed = self.sessions.resumes(pid, resume)
            self.sessions.attach(pid, session)
            self._idle_since = None
            # the join's records are on disk before the welcome; its snapshot follows soon (a
            # crash before it: the participant joins afresh, as it would have without a restore)
            await self._durable(events, snapshot=False)
            view = room.snapshot(pid)
            if pid in self.restored:  # the room came back from a snapshot after a restart
                self.restored.discard(pid)
                view = {**view, "restored": True}
            session.welcome(pid, view, self.seq, resumed)
            self._after(events, journaled=True)

        await self.call_async(job)

    def _session_ended(self, participant_id: str, now: float) -> None:
        """In the task: the participant's Session is gone (ended, replaced, expelled)."""
        self.sessions.detach(participant_id)
        self.peers.forget(participant_id)
        if not self.sessions:
            self._idle_since = now

    async def leave_session(
        self, participant_id: str, session: Session, for_good: bool = False
    ) -> None:
        """The Session ended: the participant is disconnected (grace) unless it was replaced."""

        def job(room: Room, now: float) -> None:
            if not self.sessions.is_current(participant_id, session):
                return  # replaced or removed already
            self._session_ended(participant_id, now)
            leave = room.leave if for_good else room.disconnect
            self._after(leave(participant_id, now))

        with contextlib.suppress(RoomClosing):
            await self.call(job)

    async def command(
        self,
        participant_id: str,
        session: Session,
        command: Command,
        reply: JsonDict | None = None,
    ) -> None:
        """Run a participant's command. `reply` (the ack) is sent from the task once the Room
        accepted the command, before its events: it reaches the client even when an event
        then closes the Session (meeting_close)."""

        async def job(room: Room, now: float) -> None:
            if not self.sessions.is_current(participant_id, session):
                raise Conflict("this session was replaced")
            before = self.keeper.before(room, command.type)
            events = room.handle(participant_id, command, now)
            if before is not None:
                events = await self.keeper.settle(room, before, events)
            # records and the Room's state, on disk before the ack
            await self._durable(events, snapshot=command.type not in LAZY_SNAPSHOT_COMMANDS)
            if reply is not None:
                session.send(reply)
            self._after(events, journaled=True)

        await self.call_async(job)

    def overview(self) -> JsonDict:
        """A read of the Room's state from outside its task (no await: consistent)."""
        view = dict(self.room.overview())
        view.setdefault("meeting_id", self.meeting_id)
        view["seq"] = self.seq
        view["sessions"] = len(self.sessions)
        return view

    # ---------------------------------------------------------------- peers (rooms/peers.py)
    async def offer(self, participant_id: str, session: Session, sdp: str) -> str:
        return await self.peers.offer(participant_id, session, sdp)

    async def candidate(self, participant_id: str, candidate: Mapping[str, object] | None) -> None:
        await self.peers.candidate(participant_id, candidate)

    def peer_gone(self, participant_id: str, reason: str) -> None:
        self.peers.gone(participant_id, reason)

    # ---------------------------------------------------------------- decisions made outside
    # (REST today, a cluster bus later: plain data in, run in the room task like any command,
    # by the lane a full queue does not refuse: they are committed already and must land)

    async def expel(self, who: Callable[[Room], list[str]], error: MirpError) -> list[str]:
        """The participants `who(room)` names leave for good (connected or within their grace
        period): their Session is closed with `error` (its message, then its close code).
        Their ids."""

        def job(room: Room, now: float) -> list[str]:
            gone = who(room)
            for pid in gone:
                session = self.sessions.get(pid)
                self._session_ended(pid, now)
                if session is not None:
                    session.close(error.ws_close, error.message, error)
                self._after(room.leave(pid, now))
            return gone

        return await self.actor.call_anyway(job)

    async def follow_options(self, webcast: str, recording: bool) -> None:
        """The webcast or recording option changed (committed): the mix plan follows now (its
        broadcast keys), and so does the webcast worker (webcast/service.py reads the spec)."""
        def job(room: Room, now: float) -> None:
            room.follow_options(webcast, recording)
            self._after([])

        await self.actor.call_anyway(job)

    def recording_state(self, on: bool) -> None:
        """Whether a recorder writes this meeting now (webcast/service.py): every participant's
        REC badge; applied in the task even when its queue is full."""
        self.actor.notify(RECORDING, lambda room, now: self._after(room.follow_recording(on),
                                                                    media=False))

    async def follow_status(self, status: MeetingStatus, by: str | None = None) -> None:
        """The meeting's status changed outside the room (rooms/room.py `follow_status`); a
        close ends the room exactly as the chair's `meeting_close` does."""
        await self.actor.call_anyway(
            lambda room, now: self._after(room.follow_status(status, now, by)))

    async def end(self, error: MirpError) -> None:
        """The meeting is gone (deleted): every Session is closed with `error` (its message
        first, then its close code) and the room ends."""

        def job(room: Room, now: float) -> None:
            self.sessions.close_all(error.ws_close, error.message, error)
            self._shutdown(now, error.ws_close, error.message)

        await self.actor.call_anyway(job)
