"""Open rooms: one RoomRuntime per live meeting, opened on first join, closed when idle.

Also the Recorder: statistics records from every room go first to the journal (mirp/journal.py),
then to `hooks.record()` in batches, in its own task, so a slow or absent database never slows a
Room down and never loses a record. A Room is restored from its newest snapshot in the journal
when it is opened again after a restart (docs/rooms.md, "Restore").
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from typing import Any, Protocol

from mirp.config import Settings
from mirp.errors import Forbidden, MirpError
from mirp.journal import Journal
from mirp.media.plan import FeedKey, MixPlan
from mirp.rooms.durable import decode_record, decode_room, encode_record, encode_room
from mirp.rooms.events import RecordEvent
from mirp.rooms.model import JoinGrant, MeetingSpec, MeetingStatus, Record
from mirp.rooms.room import Room, RoomLimits
from mirp.rooms.runtime import Outlet, RoomClosing, RoomRuntime, background

log = logging.getLogger("mirp.rooms.registry")


class Hooks(Protocol):
    """What the live side needs from the store (store/admission.py's Admission)."""

    async def authorize(self, token: str, meeting_id: str | None) -> JoinGrant: ...
    async def load_spec(self, meeting_id: str) -> MeetingSpec: ...
    async def record(self, records: Sequence[Record]) -> None: ...


class SharedEngine:
    """One MediaEngine serves every room of the process, but a MixPlan and a FeedKey know no
    meeting: each room gets a RoomMedia whose keys are namespaced by meeting id (`<id>/fr`), and
    the engine is given the union of all rooms' plans. Source and listener ids are participant
    ids, unique across meetings."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self.plans: dict[str, MixPlan] = {}

    def scope(self, meeting_id: str) -> RoomMedia:
        return RoomMedia(self, meeting_id)

    def apply(self, meeting_id: str, plan: MixPlan | None) -> None:
        if plan is None:
            self.plans.pop(meeting_id, None)
        else:
            self.plans[meeting_id] = plan
        merged: dict[FeedKey, Any] = {}
        for mid, room_plan in self.plans.items():
            for key, recipe in room_plan.feeds.items():
                merged[namespaced(mid, key)] = recipe
        self.engine.apply(MixPlan.of(merged))


def namespaced(meeting_id: str, key: FeedKey) -> FeedKey:
    return FeedKey(f"{meeting_id}/{key.channel}", key.under_level_db, key.minus)


class RoomMedia:
    """The engine as one room sees it (implements Engine)."""

    def __init__(self, shared: SharedEngine, meeting_id: str) -> None:
        self.shared = shared
        self.engine = shared.engine
        self.meeting_id = meeting_id

    def add_source(self, source_id: str, receiver: Any, track: Any) -> None:
        self.engine.add_source(source_id, receiver, track)

    def remove_source(self, source_id: str) -> None:
        self.engine.remove_source(source_id)

    def apply(self, plan: MixPlan) -> None:
        self.shared.apply(self.meeting_id, plan if plan.feeds else None)

    def add_listener(self, listener_id: str, sender: Any, key: FeedKey) -> None:
        self.engine.add_listener(listener_id, sender, namespaced(self.meeting_id, key))

    def switch(self, listener_id: str, key: FeedKey) -> None:
        self.engine.switch(listener_id, namespaced(self.meeting_id, key))

    def remove_listener(self, listener_id: str) -> None:
        self.engine.remove_listener(listener_id)


class Recorder:
    """Records and snapshots go to the journal first (`put` and `snapshot` never block; the
    journal's group commit makes them durable, and `durable()` waits for that), then this task
    copies the records to `hooks.record` in batches, in order, retried without limit (capped
    back-off) and marked done; nothing is dropped. `decide` commits a decision now, bounded by
    `decide_timeout_s` (the room's command waits for it)."""

    def __init__(
        self,
        hooks: Hooks,
        journal: Journal | None = None,
        batch: int = 500,
        max_backoff_s: float = 5.0,
        decide_timeout_s: float = 5.0,
        write_timeout_s: float = 30.0,
    ) -> None:
        self.hooks = hooks
        self.journal = journal if journal is not None else Journal(None)
        self.batch = batch
        self.max_backoff_s = max_backoff_s
        self.decide_timeout_s = decide_timeout_s
        self.write_timeout_s = write_timeout_s  # a hung database: give up this try, retry
        self.dropped = 0  # bodies in the journal that are not records (never a record)
        self.written = 0
        self.failures = 0  # consecutive failed writes (the database is away)
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._busy = False

    def start(self) -> Recorder:
        if self._task is None:
            if self.journal.path is not None:
                self.journal.start()
            self._task = asyncio.create_task(self._run(), name="recorder")
        return self

    def put(self, record: Record) -> None:
        self.journal.append(encode_record(record))
        self._wake.set()

    def snapshot(self, meeting_id: str, room: Room | None, seq: int) -> None:
        if self.journal.path is not None:  # nothing to restore from without a file
            self.journal.snapshot(meeting_id, None if room is None else encode_room(room, seq))

    async def durable(self) -> None:
        await self.journal.durable()

    async def decide(self, records: Sequence[Record]) -> None:
        await asyncio.wait_for(self.hooks.record(records), self.decide_timeout_s)

    def health(self) -> dict[str, Any]:
        """The journal's depth (records not yet in the database) and age (seconds)."""
        return {
            "depth": self.journal.depth,
            "age_s": round(self.journal.age_s(), 3),
            "failures": self.failures,
            "journal": "error" if self.journal.failed is not None else "ok",
        }

    async def _run(self) -> None:
        while True:
            if not self.journal.depth:
                self._wake.clear()
                await self._wake.wait()
                continue
            self._busy = True
            try:
                ok = await self._write()
            finally:
                self._busy = False
            if not ok:
                delay = min(self.max_backoff_s, 0.2 * 2 ** min(self.failures, 10))
                await asyncio.sleep(delay)

    async def _write(self) -> bool:
        """One batch of the oldest pending records to the database; False if it failed."""
        entries = self.journal.pending(self.batch)
        if not entries:
            return True
        records: list[Record] = []
        for _, body in entries:
            try:
                records.append(decode_record(body))
            except Exception:
                self.dropped += 1
                log.error("journal entry is not a record: skipped: %r", body[:200])
        try:
            await asyncio.wait_for(self.hooks.record(records), self.write_timeout_s)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self.failures += 1
            if self.failures == 1 or self.failures % 50 == 0:
                log.warning(
                    "recording %d records failed (%d in a row; kept in the journal): %s",
                    len(records), self.failures, exc,
                )
            return False
        if self.failures:
            log.info("recording works again after %d failures", self.failures)
        self.failures = 0
        self.written += len(records)
        self.journal.done(entries[-1][0])
        return True

    async def flush(self) -> None:
        """Write what is pending now (one attempt per batch; tests and shutdown)."""
        while self.journal.depth:
            if not await self._write():
                return

    async def close(self, timeout_s: float = 10.0) -> None:
        """Write what is pending (up to `timeout_s`), then stop; the rest stays in the journal
        and is written by the next start."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while self._task is not None and (self._busy or self.journal.depth):
            if loop.time() > deadline:
                log.error("recorder: %d records left in the journal for the next start",
                          self.journal.depth)
                break
            self._wake.set()
            await asyncio.sleep(0.01)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self.journal.path is None:
            await self.flush()
        await self.journal.close()


class RoomRegistry:
    """Routes Sessions to their meeting's RoomRuntime, opening and closing runtimes."""

    def __init__(
        self,
        *,
        settings: Settings,
        engine: Any,
        peers: Any,
        hooks: Hooks,
        idle_close_s: float | None = None,
        journal: Journal | None = None,
    ) -> None:
        self.settings = settings
        self.limits = settings.limits
        self.shared = SharedEngine(engine)
        self.engine = engine
        self.peers = peers
        self.hooks = hooks
        self.idle_close_s = (
            idle_close_s if idle_close_s is not None else settings.limits.reconnect_grace_s + 10.0
        )
        self.rooms: dict[str, RoomRuntime] = {}
        self.removed: dict[str, set[str]] = {}  # meeting id -> participants removed
        self.recorder = Recorder(
            hooks, journal, decide_timeout_s=settings.limits.decision_commit_timeout_s
        )
        with contextlib.suppress(RuntimeError):  # records a previous run left: write them now
            asyncio.get_running_loop()
            self.recorder.start()
        self._opening: dict[str, asyncio.Task[RoomRuntime]] = {}
        self._closed = False
        if hasattr(engine, "on_levels"):
            engine.on_levels = self._on_levels

    def _on_levels(self, levels: dict[str, float]) -> None:
        """The engine's level callback (all sources of the process) -> each room's share."""
        for runtime in list(self.rooms.values()):
            runtime.levels(levels)

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
        limits = RoomLimits(
            grace_s=self.limits.reconnect_grace_s,
            handover_timeout_s=self.limits.handover_timeout_s,
            capacity=min(spec.capacity, self.limits.max_participants_per_meeting),
        )
        restored = self._restore(spec, limits)
        room, seq = restored if restored is not None else (Room(spec, limits), 0)
        runtime = RoomRuntime(
            room,
            engine=self.shared.scope(meeting_id),
            peers=self.peers,
            recorder=self.recorder,
            queue_size=self.limits.room_queue_commands,
            idle_close_s=self.idle_close_s,
            reoffer_s=self.limits.peer_timeout_s,
            on_removed=self._on_removed,
            on_closed=self._on_closed,
            durability=self.recorder,
        )
        if restored is not None:
            runtime.seq = seq
            runtime.restored = set(room.participants)
        runtime.start()
        self.rooms[meeting_id] = runtime
        log.info("room %s opened%s", meeting_id, " (restored)" if restored else "")
        return runtime

    def _restore(self, spec: MeetingSpec, limits: RoomLimits) -> tuple[Room, int] | None:
        """The Room as the newest snapshot left it (a previous process died with it open), its
        participants disconnected with the grace period starting now; None: start fresh. The
        database has the last word on the meeting's status and on removals."""
        body = self.recorder.journal.snapshot_of(spec.id)
        if body is None:
            return None
        found = decode_room(body, spec.id)
        if found is not None and (spec.status is MeetingStatus.CLOSED or found[0].closed):
            log.info("room %s: meeting closed since its snapshot: starting fresh", spec.id)
            found = None
        if found is None:
            self.recorder.snapshot(spec.id, None, 0)
            return None
        room, seq = found
        now = time.time()
        room.limits = limits
        room.capacity = min(spec.capacity, limits.capacity or spec.capacity)
        room.status = spec.status
        room.removed |= set(spec.removed_participants)
        events = []
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
        for event in events:
            if isinstance(event, RecordEvent):
                self.recorder.put(event.record)
        self.recorder.snapshot(spec.id, room, seq)  # restored once more if we die again now
        return room, seq

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
