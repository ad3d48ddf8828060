"""Open rooms: one RoomRuntime per live meeting, opened on first join, closed when idle.

Also the Recorder: statistics records from every room go through one bounded queue to
`hooks.record()` in batches, in its own task, so a slow database never slows a Room down.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Protocol, TypeVar

from mirp.config import Settings
from mirp.errors import Forbidden, NotFound, Unavailable
from mirp.media.plan import FeedKey, Ingredient, MixPlan
from mirp.media.plane import Levels, MediaEvent, MediaPlane, PeerGone
from mirp.rooms.model import JoinGrant, MeetingSpec, MeetingStatus, Record
from mirp.rooms.outlet import Outlet
from mirp.rooms.room import Room, RoomLimits
from mirp.rooms.runtime import RoomClosing, RoomRuntime, background

log = logging.getLogger("mirp.rooms.registry")
T = TypeVar("T")


class Hooks(Protocol):
    """What the live side needs from the store (store/admission.py's Admission)."""

    async def authorize(self, token: str, meeting_id: str | None) -> JoinGrant: ...
    async def load_spec(self, meeting_id: str) -> MeetingSpec: ...
    async def record(self, records: Sequence[Record]) -> None: ...


class SharedEngine:
    """One media plane serves every room of the process, but a MixPlan and a FeedKey know no
    meeting: each room gets a RoomMedia whose keys are namespaced by meeting id (`<id>/fr`), and
    the plane is given the union of all rooms' plans. Peer and source ids are participant ids,
    unique across meetings."""

    def __init__(self, plane: MediaPlane) -> None:
        self.plane = plane
        self.plans: dict[str, MixPlan] = {}

    def scope(self, meeting_id: str) -> RoomMedia:
        return RoomMedia(self, meeting_id)

    def apply(self, meeting_id: str, plan: MixPlan | None) -> None:
        if plan is None:
            if self.plans.pop(meeting_id, None) is None:
                return
        else:
            self.plans[meeting_id] = plan
        merged: dict[FeedKey, tuple[Ingredient, ...]] = {}
        for mid, room_plan in self.plans.items():
            for key, recipe in room_plan.feeds.items():
                merged[namespaced(mid, key)] = recipe
        self.plane.apply(MixPlan.of(merged))


def namespaced(meeting_id: str, key: FeedKey) -> FeedKey:
    return FeedKey(f"{meeting_id}/{key.channel}", key.under_level_db, key.minus)


class RoomMedia:
    """The media plane as one room sees it (implements rooms.media_link.Engine)."""

    def __init__(self, shared: SharedEngine, meeting_id: str) -> None:
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
        self.shared.apply(self.meeting_id, plan if plan.feeds else None)

    def listen(self, peer_id: str, key: FeedKey) -> None:
        self.plane.listen(peer_id, namespaced(self.meeting_id, key))

    def unlisten(self, peer_id: str) -> None:
        self.plane.unlisten(peer_id)


class Recorder:
    """Batches records to `hooks.record`; `put` never blocks (a full queue drops, loudly)."""

    def __init__(
        self, hooks: Hooks, capacity: int = 10_000, batch: int = 500, retries: int = 3
    ) -> None:
        self.hooks = hooks
        self.batch = batch
        self.retries = retries
        self.queue: asyncio.Queue[Record] = asyncio.Queue(capacity)
        self.dropped = 0
        self.written = 0
        self._task: asyncio.Task[None] | None = None
        self._busy = False

    def start(self) -> Recorder:
        self._task = asyncio.create_task(self._run(), name="recorder")
        return self

    def put(self, record: Record) -> None:
        try:
            self.queue.put_nowait(record)
        except asyncio.QueueFull:
            self.dropped += 1
            log.error(
                "recorder queue full: %s dropped (%d so far)", type(record).__name__, self.dropped
            )

    async def _run(self) -> None:
        while True:
            first = await self.queue.get()
            self._busy = True
            try:
                await self._write(first)
            finally:
                self._busy = False

    async def _write(self, first: Record | None) -> None:
        batch = [first] if first is not None else []
        while len(batch) < self.batch and not self.queue.empty():
            batch.append(self.queue.get_nowait())
        if not batch:
            return
        for attempt in range(self.retries):
            try:
                await self.hooks.record(batch)
                self.written += len(batch)
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("recording %d records failed (attempt %d)", len(batch), attempt + 1)
                await asyncio.sleep(0.2 * 2**attempt)
        self.dropped += len(batch)

    async def flush(self) -> None:
        while not self.queue.empty():
            await self._write(None)

    async def close(self, timeout_s: float = 10.0) -> None:
        """Write what is queued (waiting up to `timeout_s` for a batch in flight), then stop."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while self._task is not None and (self._busy or not self.queue.empty()):
            if loop.time() > deadline:
                log.error("recorder: %d records not written at close", self.queue.qsize())
                break
            await asyncio.sleep(0.01)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.flush()


class RoomRegistry:
    """Routes Sessions to their meeting's RoomRuntime, opening and closing runtimes."""

    def __init__(
        self,
        *,
        settings: Settings,
        media: MediaPlane,
        hooks: Hooks,
        idle_close_s: float | None = None,
    ) -> None:
        self.settings = settings
        self.limits = settings.limits
        self.shared = SharedEngine(media)
        self.media = media
        self.hooks = hooks
        self.idle_close_s = (
            idle_close_s if idle_close_s is not None else settings.limits.reconnect_grace_s + 10.0
        )
        self.rooms: dict[str, RoomRuntime] = {}
        self.removed: dict[str, set[str]] = {}  # meeting id -> participants removed
        self.recorder = Recorder(hooks)
        self._opening: dict[str, asyncio.Task[RoomRuntime]] = {}
        self._closed = False
        media.on_event = self._on_media_event

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
        grant = await self.hooks.authorize(token, meeting_id)
        if grant.participant_id in self.removed.get(grant.meeting_id, ()):
            raise Forbidden("you were removed from this meeting")
        return grant

    async def join(
        self, grant: JoinGrant, outlet: Outlet, resume: str | None = None
    ) -> RoomRuntime:
        """Admit a Session into its meeting's room (opened if needed); the runtime has sent the
        welcome when this returns."""
        for _ in range(3):
            runtime = await self.open(grant.meeting_id)
            try:
                await runtime.join(grant, outlet, resume)
                return runtime
            except RoomClosing:
                await asyncio.sleep(0)  # it was closing: open a fresh one
        raise RoomClosing("the room is restarting; try again")

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
        spec = await self.hooks.load_spec(meeting_id)
        removed = self.removed.get(meeting_id)
        if removed:
            from dataclasses import replace

            spec = replace(spec, removed_participants=spec.removed_participants | removed)
        room = Room(
            spec,
            RoomLimits(
                grace_s=self.limits.reconnect_grace_s,
                handover_timeout_s=self.limits.handover_timeout_s,
                capacity=min(spec.capacity, self.limits.max_participants_per_meeting),
            ),
        )
        runtime = RoomRuntime(
            room,
            engine=self.shared.scope(meeting_id),
            recorder=self.recorder,
            queue_size=self.limits.room_queue_commands,
            idle_close_s=self.idle_close_s,
            reoffer_s=self.limits.peer_timeout_s,
            on_removed=self._on_removed,
            on_closed=self._on_closed,
        ).start()
        self.rooms[meeting_id] = runtime
        log.info("room %s opened", meeting_id)
        return runtime

    def _on_removed(self, meeting_id: str, participant_id: str) -> None:
        self.removed.setdefault(meeting_id, set()).add(participant_id)

    def _on_closed(self, runtime: RoomRuntime) -> None:
        if self.rooms.get(runtime.meeting_id) is runtime:
            del self.rooms[runtime.meeting_id]
        self.shared.apply(runtime.meeting_id, None)
        background(runtime._close_peers())
        log.info("room %s closed", runtime.meeting_id)

    # ---------------------------------------------------------------- reading
    def get(self, meeting_id: str) -> RoomRuntime | None:
        runtime = self.rooms.get(meeting_id)
        return runtime if runtime is not None and not runtime.closing else None

    def overview(self, meeting_id: str) -> dict[str, Any] | None:
        """The organizer's live view of an open meeting; None when its room is not open."""
        runtime = self.get(meeting_id)
        return runtime.overview() if runtime is not None else None

    # ---------------------------------------------------------------- closing
    async def close(self) -> None:
        """Close every room (sessions, peers), then flush the records (idempotent)."""
        self._closed = True
        for task in list(self._opening.values()):
            task.cancel()
        await asyncio.gather(
            *(r.close() for r in list(self.rooms.values())), return_exceptions=True
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

    async def meeting_deleted(self, meeting_id: str) -> None:
        """Close every Session of the meeting (4404, `not_found`) and the room."""
        self.removed.pop(meeting_id, None)
        error = NotFound("the meeting was deleted", {"reason": "deleted"})
        await self._decide(meeting_id, lambda r: r.end(error))

    async def meeting_status(self, meeting_id: str, status: str, by: str | None = None) -> None:
        """The room follows a status set by REST: `closed` closes it as the chair's
        `meeting_close` does (4410, the same events and records); `open`/`scheduled` change
        who may join."""
        target = MeetingStatus(status)  # a bad value fails here, in the caller
        await self._decide(meeting_id, lambda r: r.follow_status(target, by))

    async def _decide(
        self, meeting_id: str, job: Callable[[RoomRuntime], Awaitable[T]], tries: int = 50
    ) -> T | None:
        """Run `job` on the meeting's open room, if any. A room being opened is waited for (it
        may have read the database before the decision); a busy room is retried for ~1 s."""
        opening = self._opening.get(meeting_id)
        if opening is not None:
            with contextlib.suppress(Exception):
                await asyncio.shield(opening)
        for _ in range(tries):
            runtime = self.get(meeting_id)
            if runtime is None:
                return None
            try:
                return await job(runtime)
            except RoomClosing:
                return None  # it is ending anyway; admission refuses newcomers
            except Unavailable:
                await asyncio.sleep(0.02)  # its queue is full: the decision must still land
            except Exception:  # committed already: the caller's answer must not become a 500
                log.exception("room %s: a decision failed in the room", meeting_id)
                return None
        log.error("room %s: a decision could not reach the room", meeting_id)
        return None
