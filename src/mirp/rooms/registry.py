"""Open rooms: one RoomRuntime per live meeting, opened on first join, closed when idle.

Every room's records, snapshots and decisions go through one Recorder (rooms/recorder.py: the
journal first, then the database). A Room is restored from its newest snapshot in the journal
when it is opened again after a restart (docs/rooms.md, "Durability").
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, fields
from typing import Protocol, TypeVar

from mirp import tokens
from mirp.config import Settings
from mirp.errors import Forbidden, MirpError, NotFound
from mirp.journal import Journal
from mirp.media.plane import Levels, MediaEvent, MediaPlane, PeerGone
from mirp.rooms.actor import RoomClosing, background
from mirp.rooms.door import RoomDoor
from mirp.rooms.durable import newest
from mirp.rooms.events import Event, JsonDict, RecordEvent
from mirp.rooms.limits import RoomLimits
from mirp.rooms.model import JoinGrant, MeetingSpec, MeetingStatus, Record, Role
from mirp.rooms.recorder import JournalHealth, Recorder
from mirp.rooms.refusals import FailedJoins
from mirp.rooms.room import Room
from mirp.rooms.runtime import RoomRuntime
from mirp.rooms.session import Session
from mirp.rooms.shared_plane import SharedPlane

log = logging.getLogger("mirp.rooms.registry")
T = TypeVar("T")


class RoomStore(Protocol):
    """What the live side needs from the store (store/admission.py's Admission): who may join,
    what a meeting is, and where records and decisions are committed. Removals have their home
    there (a RemovalRecord is committed before its ack); a live Room keeps its own copy."""

    async def authorize(self, token: str, meeting_id: str | None) -> JoinGrant: ...
    async def load_spec(self, meeting_id: str) -> MeetingSpec: ...
    async def record(self, records: Sequence[Record]) -> None: ...


@dataclass(frozen=True)
class RoomsReadout:
    """The rooms of this process at one moment, for /metrics (api/metrics.py). Summed over the
    meetings: a meeting id is never a label (unbounded), a channel (a language) is."""

    rooms: int  # open rooms
    sessions: int  # Sessions joined to them
    queue_depth_max: int  # commands waiting in the fullest room's queue
    queue_depth_sum: int
    commands_handled: int  # since start, closed rooms included
    commands_refused: int  # refused for a full queue
    listeners: dict[str, int] = field(default_factory=dict)  # connected participants per channel


class RoomRegistry(RoomDoor):
    """Routes Sessions to their meeting's RoomRuntime, opening and closing runtimes."""

    def __init__(
        self,
        *,
        settings: Settings,
        media: MediaPlane,
        store: RoomStore,
        idle_close_s: float | None = None,
        journal: Journal | None = None,
    ) -> None:
        self.settings = settings
        self.limits = settings.limits
        self.shared = SharedPlane(media)
        self.media = media
        self.store = store
        self.idle_close_s = (
            idle_close_s if idle_close_s is not None else settings.limits.reconnect_grace_s + 10.0
        )
        self.rooms: dict[str, RoomRuntime] = {}
        self.recorder = Recorder(
            store, journal, decide_timeout_s=settings.limits.decision_commit_timeout_s
        )
        with contextlib.suppress(RuntimeError):  # records a previous run left: write them now
            asyncio.get_running_loop()
            self.recorder.start()
        self._opening: dict[str, asyncio.Task[RoomRuntime]] = {}
        self._closed = False
        self._handled_closed = 0  # commands of rooms already closed (RoomsReadout)
        self._refused_closed = 0
        self.failed_joins = FailedJoins(settings.limits.failed_joins_per_meeting_minute)
        media.on_event = self._on_media_event
        with contextlib.suppress(RuntimeError):  # rooms a previous run left open: back now
            asyncio.get_running_loop()
            for meeting_id in self.recorder.journal.snapshot_keys():
                background(self._reopen(meeting_id))

    async def _reopen(self, meeting_id: str) -> None:
        """Restore a room at start (not only at its first join), so that its grace periods run
        and the turns of whoever does not come back are ended and recorded. Not in a cluster:
        there a room opens only on the holder of its lease (rooms/placement.py), which restores
        it from the newest snapshot, this journal's included."""
        if self.recorder.shared is not None:
            return
        try:
            await self.open(meeting_id)
        except NotFound:  # the meeting was deleted: nothing to restore
            self.recorder.snapshot(meeting_id, None, 0)
        except Exception as exc:  # the database is away: restored at the first join instead
            log.warning("room %s not restored at start: %s", meeting_id, exc)

    def _on_media_event(self, event: MediaEvent) -> None:
        """The media plane's events (all peers of the process) -> each room's share; a room
        ignores participants that are not its own (ids are unique across meetings)."""
        for runtime in list(self.rooms.values()):
            if isinstance(event, Levels):
                runtime.levels(event.levels)
            elif isinstance(event, PeerGone):
                runtime.peer_gone(event.peer_id, event.reason)

    # ---------------------------------------------------------------- joining
    async def authorize(self, token: str, meeting_id: str | None = None) -> JoinGrant:
        """The store's answer (a removal is committed there before its ack). A refusal is
        recorded (capped: rooms/refusals.py) against the meeting of the URL, else the one a
        genuine token names; a token that does not verify names nobody we can trust."""
        try:
            return await self.store.authorize(token, meeting_id)
        except MirpError as exc:
            pid: str | None = None
            role: Role | None = None
            try:
                claims = tokens.verify_participant(self.settings.resolved_secret_key(), token)
                meeting_id = meeting_id or claims.meeting_id
                pid = claims.participant_id
                role = Role(claims.role) if claims.role in Role.__members__.values() else None
            except MirpError:
                pass
            self._refused(meeting_id, exc, pid, role)
            raise

    def _refused(self, meeting_id: str | None, exc: MirpError, participant_id: str | None,
                 role: Role | None) -> None:
        record = self.failed_joins.refused(meeting_id, exc, time.time(), participant_id, role)
        if record is not None:
            self.recorder.put(record)

    async def join(
        self, grant: JoinGrant, session: Session, resume: str | None = None
    ) -> RoomRuntime:
        """Admit a Session into its meeting's room (opened if needed); the runtime has sent the
        welcome when this returns. A refusal (full, removed, closed...) is recorded."""
        try:
            for _ in range(3):
                runtime = await self.open(grant.meeting_id)
                try:
                    await runtime.join(grant, session, resume)
                    return runtime
                except RoomClosing:
                    await asyncio.sleep(0)  # it was closing: open a fresh one
            raise RoomClosing("the room is restarting; try again")
        except MirpError as exc:
            self._refused(grant.meeting_id, exc, grant.participant_id, grant.role)
            raise

    async def open(self, meeting_id: str) -> RoomRuntime:
        if self._closed:
            raise RoomClosing("the server is shutting down")
        runtime = self.rooms.get(meeting_id)
        if runtime is not None and not runtime.closing:
            return runtime
        task = self._opening.get(meeting_id)
        if task is None:
            task = asyncio.ensure_future(self._open(meeting_id))
            self._opening[meeting_id] = task
            task.add_done_callback(lambda _: self._opening.pop(meeting_id, None))
        return await asyncio.shield(task)

    async def _open(self, meeting_id: str) -> RoomRuntime:
        if self.recorder._task is None:
            self.recorder.start()
        spec = await self.store.load_spec(meeting_id)
        limits = RoomLimits(
            grace_s=self.limits.reconnect_grace_s,
            handover_timeout_s=self.limits.handover_timeout_s,
            quality_sample_s=self.limits.quality_sample_s,
            capacity=min(spec.capacity, self.limits.max_participants_per_meeting),
        )
        shared = await self.recorder.shared_snapshot(meeting_id)
        restored = self._restore(spec, limits, shared)
        room, seq = restored if restored is not None else (Room(spec, limits), 0)
        runtime = RoomRuntime(
            room,
            plane=self.shared.scope(meeting_id),
            recorder=self.recorder,
            queue_size=self.limits.room_queue_commands,
            idle_close_s=self.idle_close_s,
            reoffer_s=self.limits.peer_timeout_s,
            on_closed=self._on_closed,
            durability=self.recorder,
            seq=seq,
            restored=frozenset(room.participants) if restored is not None else frozenset(),
        )
        runtime.start()
        self.rooms[meeting_id] = runtime
        log.info("room %s opened%s", meeting_id, " (restored)" if restored else "")
        return runtime

    def _restore(self, spec: MeetingSpec, limits: RoomLimits,
                 shared: bytes | None = None) -> tuple[Room, int] | None:
        """The Room as the newest snapshot left it (a previous process died with it open, or,
        in a cluster, the meeting's previous origin: `shared`, cluster/snapshots.py), its
        participants disconnected with the grace period starting now; None: start fresh. The
        database has the last word on the meeting's status and on removals. A snapshot older
        than `restore_max_age_s` is closed out: everyone leaves at the snapshot's time."""
        journaled = self.recorder.journal.snapshot_of(spec.id)
        if journaled is None and shared is None:
            return None
        found = newest(spec.id, journaled, shared)
        if found is not None and (spec.status is MeetingStatus.CLOSED or found.room.closed):
            log.info("room %s: meeting closed since its snapshot: starting fresh", spec.id)
            found = None
        now = time.time()
        if found is not None and now - found.at > self.limits.restore_max_age_s:
            log.info("room %s: snapshot %.0f s old: closed out", spec.id, now - found.at)
            for pid in list(found.room.participants):
                with contextlib.suppress(MirpError):
                    self._put_records(found.room.leave(pid, found.at))
            found = None
        if found is None:
            self.recorder.snapshot(spec.id, None, 0)
            return None
        room, seq, _ = found
        room.limits = limits
        room.capacity = min(spec.capacity, limits.capacity or spec.capacity)
        room.status = spec.status
        room.removed |= set(spec.removed_participants)
        events: list[Event] = []
        for pid in list(room.participants):
            try:
                if pid in room.removed:  # removal committed, snapshot not yet rewritten
                    events += room.leave(pid, now)
                elif room.participants[pid].connected:
                    events += room.disconnect(pid, now)
                else:
                    room.participants[pid].lost_at = now  # the grace restarts now
            except MirpError:
                log.exception("room %s: restoring %s failed", spec.id, pid)
        self._put_records(events)
        self.recorder.snapshot(spec.id, room, seq)  # restored once more if we die again now
        return room, seq

    def _put_records(self, events: list[Event]) -> None:
        for event in events:
            if isinstance(event, RecordEvent):
                self.recorder.put(event.record)

    def _on_closed(self, runtime: RoomRuntime) -> None:
        if self.rooms.get(runtime.meeting_id) is runtime:
            del self.rooms[runtime.meeting_id]
        self._handled_closed += runtime.actor.handled
        self._refused_closed += runtime.actor.refused
        self.shared.apply(runtime.meeting_id, None)
        runtime.close_peers()
        log.info("room %s closed", runtime.meeting_id)

    # ---------------------------------------------------------------- reading
    def get(self, meeting_id: str) -> RoomRuntime | None:
        runtime = self.rooms.get(meeting_id)
        return runtime if runtime is not None and not runtime.closing else None

    def overview(self, meeting_id: str) -> JsonDict | None:
        """The organizer's live view of an open meeting; None when its room is not open."""
        runtime = self.get(meeting_id)
        return runtime.overview() if runtime is not None else None

    async def live_overview(self, meeting_id: str) -> JsonDict | None:
        """`overview` as the API asks for it (api/deps.py LiveRooms: in a cluster, the room may
        be on another node, rooms/cluster_rooms.py)."""
        return self.overview(meeting_id)

    def health(self) -> JournalHealth:
        """The journal's state for /readyz (records not yet in the database, their age)."""
        return self.recorder.health()

    async def media_check(self) -> JsonDict | None:
        """The media plane's start-up self-check (media/compat.py) for /readyz: versions, and
        each fast path over aiortc's internals on or off with the reason. Raises what the plane
        raises when it does not answer (the caller bounds the wait)."""
        check = (await self.media.stats()).self_check
        return check.to_wire() if check is not None else None

    def readout(self) -> RoomsReadout:
        """The rooms' numbers for /metrics: a read from outside the tasks, like `overview`."""
        open_ = list(self.rooms.values())
        depths = [r.actor.depth for r in open_]
        listeners: Counter[str] = Counter()
        for runtime in open_:
            listeners.update(
                p.channel for p in runtime.room.participants.values() if p.connected)
        return RoomsReadout(
            rooms=len(open_),
            sessions=sum(len(r.sessions) for r in open_),
            queue_depth_max=max(depths, default=0),
            queue_depth_sum=sum(depths),
            commands_handled=self._handled_closed + sum(r.actor.handled for r in open_),
            commands_refused=self._refused_closed + sum(r.actor.refused for r in open_),
            listeners=dict(listeners),
        )

    async def media_readout(self) -> dict[str, float]:
        """The media plane's counters (`EngineStats`' numbers, `peers`, `restarts`) by name.
        Raises what the plane raises when it does not answer (the caller bounds the wait)."""
        stats = await self.media.stats()
        engine = stats.engine
        numbers = {f.name: getattr(engine, f.name) for f in fields(engine)}
        out = {k: float(v) for k, v in numbers.items() if isinstance(v, int | float)}
        out["peers"] = float(stats.peers)
        out["restarts"] = float(stats.restarts)
        return out

    # ---------------------------------------------------------------- closing
    async def close(self) -> None:
        """Close every room (sessions, peers), then flush the records (idempotent). With a
        journal file the rooms are suspended rather than ended: the next start restores them."""
        self._closed = True
        for task in list(self._opening.values()):
            task.cancel()
        keep = self.recorder.journal.path is not None
        await asyncio.gather(
            *(r.suspend() if keep else r.close() for r in list(self.rooms.values())),
            return_exceptions=True,
        )
        self.rooms.clear()
        await self.recorder.close()

    # ------------------------------------------------- decisions made outside the room
    # The API calls these after its database commit. They take plain data (ids, a status
    # string), so the same calls can later arrive over a cluster Bus on the room's owner node.
    # A meeting whose room is not open here: nothing to do (admission reads the database).

    async def revoke_invitation(self, meeting_id: str, invitation_id: str) -> list[str]:
        """Close the Sessions of everyone who joined through this invitation (4403, reason
        `revoked`); they leave the room for good. The participant ids."""
        error = Forbidden("this invitation was revoked", {"reason": "revoked"})
        return await self._decide(
            meeting_id, lambda r: r.expel(lambda room: room.revoke_invitation(invitation_id),
                                          error)) or []

    async def booths_changed(self, meeting_id: str, booths: Sequence[str]) -> list[str]:
        """The meeting's booths are now `booths` (languages): interpreters of a booth that is
        gone leave (4403, reason `booth_removed`), as admission would refuse them. The room
        keeps its channels until it next opens. Their participant ids."""
        keep = frozenset(booths)
        error = Forbidden("your booth was removed from the meeting", {"reason": "booth_removed"})

        def gone(room: Room) -> list[str]:
            return [pid for pid, p in room.participants.items()
                    if p.booth is not None and p.booth not in keep]

        return await self._decide(meeting_id, lambda r: r.expel(gone, error)) or []

    async def options_changed(self, meeting_id: str, webcast: str, recording: bool) -> None:
        """The webcast or recording option changed (committed): the open room follows now
        (docs/webcast.md), not at its next opening."""
        await self._decide(meeting_id, lambda r: r.follow_options(webcast, recording))

    async def meeting_deleted(self, meeting_id: str) -> None:
        """Close every Session of the meeting (4404, `not_found`) and the room."""
        error = NotFound("the meeting was deleted", {"reason": "deleted"})
        await self._decide(meeting_id, lambda r: r.end(error))

    async def meeting_status(self, meeting_id: str, status: str, by: str | None = None) -> None:
        """The room follows a status set by REST: `closed` closes it as the chair's
        `meeting_close` does (4410, the same events and records); `open`/`scheduled` change
        who may join."""
        target = MeetingStatus(status)  # a bad value fails here, in the caller
        await self._decide(meeting_id, lambda r: r.follow_status(target, by))

    async def _decide(
        self, meeting_id: str, job: Callable[[RoomRuntime], Awaitable[T]]
    ) -> T | None:
        """Run `job` on the meeting's open room, if any. A room being opened is waited for (it
        may have read the database before the decision); a busy room is not an obstacle (the
        runtime's decisions go by the actor's lane that a full queue does not refuse)."""
        opening = self._opening.get(meeting_id)
        if opening is not None:
            with contextlib.suppress(Exception):
                await asyncio.shield(opening)
        runtime = self.get(meeting_id)
        if runtime is None:
            return None
        try:
            return await job(runtime)
        except RoomClosing:
            return None  # it is ending anyway; admission refuses newcomers
        except Exception:  # committed already: the caller's answer must not become a 500
            log.exception("room %s: a decision failed in the room", meeting_id)
            return None
