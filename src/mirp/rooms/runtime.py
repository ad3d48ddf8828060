"""The asyncio shell around one Room: its actor task, its Sessions and its participants' Peers.

Why an actor: every change to a Room happens in this one task, which reads a bounded queue of
jobs (each with a future for its reply), so rooms/ needs no locks and a flood of commands meets a
typed Unavailable instead of growing memory. After every job or timer tick the task:
1. numbers the wire events (`seq`, one counter per room, so every client sees the same order)
   and hands each to the outlets of its audience (Session.send_json never blocks);
2. acts on Removed / MeetingClosed (closes those sessions);
3. queues Record events for the Recorder, which journals them (mirp/journal.py) and snapshots the
   Room; a command's ack (and a join's welcome) waits until those are on disk, and a decision
   that changes rights or the meeting (DECISION_COMMANDS) is committed to the database first,
   the Room rolled back and the command refused with Unavailable if it cannot be (docs/rooms.md);
4. tells the media plane what changed (rooms/media_link.py): `room.mix_plan()` and each peer's
   `room.feeds()` entry.
Peers: an `offer` is begun in the task, runs the (slow) ICE/DTLS setup in the media plane outside
it, and is completed in it. The plane drains every participant's microphone by itself; whether it
is mixed is only the plan's decision.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import logging
import pickle
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Protocol, TypeVar

from mirp.errors import Conflict, Forbidden, MirpError, NotFound, Unavailable
from mirp.rooms.commands import Command
from mirp.rooms.durable import DECISIONS
from mirp.rooms.events import Event, MeetingClosed, RecordEvent, Removed, WireEvent
from mirp.rooms.media_link import Engine, MediaLink
from mirp.rooms.model import JoinGrant, Record
from mirp.rooms.room import Room
from mirp.rooms.session import Session

log = logging.getLogger("mirp.rooms.runtime")

T = TypeVar("T")
MEETING_CLOSED_WS = 4410  # 44xx: the client does not reconnect
REPLACED_WS = Conflict.ws_close
PEER_LOST_WS = 1001  # not 44xx: the client reconnects (and makes a new peer connection)


class RecordSink(Protocol):
    def put(self, record: Record) -> None: ...


class Durability(Protocol):
    """Where a Room's decisions, records and snapshots become durable (registry's Recorder)."""

    async def decide(self, records: Sequence[Record]) -> None: ...
    def snapshot(self, meeting_id: str, room: Room | None, seq: int) -> None: ...
    async def durable(self) -> None: ...


# commands whose decision is committed to the database before their ack or events
DECISION_COMMANDS = frozenset({"participant_remove", "meeting_open", "meeting_close"})
# a change no ack waits for (a join, a timer, levels) is snapshotted this much later, coalesced
# with what follows: pickling a large Room costs ms (2.3 ms at 500 participants)
LAZY_SNAPSHOT_S = 0.1
# commands whose effect a restore need not bring back (a connection grade, a notice, a chat
# line): their ack does not wait for a snapshot
LAZY_SNAPSHOT_COMMANDS = frozenset({"quality", "slow_down", "booth_chat"})


class RoomClosing(Unavailable):
    """The room is closing (idle or meeting closed): the registry opens a fresh one."""


_background: set[asyncio.Future[Any]] = set()


def background(coro: Any) -> None:
    """Run a clean-up coroutine without awaiting it, keeping a reference until it ends."""
    fut = asyncio.ensure_future(coro)
    _background.add(fut)
    fut.add_done_callback(_background.discard)


def _json(message: Mapping[str, Any]) -> str:
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False)


class RoomRuntime:
    def __init__(
        self,
        room: Room,
        *,
        engine: Engine,
        recorder: RecordSink,
        queue_size: int = 1024,
        idle_close_s: float = 60.0,
        reoffer_s: float = 8.0,
        on_closed: Callable[[RoomRuntime], None] | None = None,
        clock: Callable[[], float] = time.time,
        durability: Durability | None = None,
    ) -> None:
        self.room = room
        self.meeting_id = room.spec.id
        self.media = MediaLink(engine)  # the room's peers; the plane holds their media
        self.recorder = recorder
        self.idle_close_s = idle_close_s
        self.reoffer_s = reoffer_s
        self.on_closed = on_closed
        self.clock = clock
        self.seq = 0
        self.sessions: dict[str, Session] = {}  # participant id -> its current Session
        self.last_session: dict[str, str] = {}  # participant id -> its latest session id
        self._queue: asyncio.Queue[tuple[Callable[[Room, float], Any], asyncio.Future[Any]]] = (
            asyncio.Queue(queue_size)
        )
        self._idle_since: float | None = clock()
        self.closing = False
        self._task: asyncio.Task[None] | None = None
        self._closed = asyncio.Event()
        self.durability = durability  # None: nothing is journaled (unit tests)
        self.restored: set[str] = set()  # participants back from a snapshot, not yet rejoined
        self._snapshot_due: asyncio.TimerHandle | None = None
        self._deciding = False  # the Room holds a decision not yet committed: not snapshotted

    # ---------------------------------------------------------------- lifecycle
    def start(self) -> RoomRuntime:
        self._task = asyncio.create_task(self._run(), name=f"room {self.meeting_id}")
        return self

    async def close(self, reason: str = "server shutting down") -> None:
        """Close every session and peer, record the leaves (idempotent)."""
        if not self.closing:
            try:
                await self.call(lambda room, now: self._shutdown(now, 1001, reason))
            except MirpError:
                pass  # already closing
        if self._task is not None:
            await self._closed.wait()
        await self._close_peers()

    async def suspend(self, reason: str = "server restarting") -> None:
        """Server shutdown that the next start undoes: the Room's state is snapshotted as it is,
        every session is closed with 1001 (clients reconnect) and every peer released, and
        nobody leaves (no leave records: a participant back within the grace period after the
        restore was never away; docs/operations.md)."""

        def job(room: Room, now: float) -> None:
            if self.closing:
                return
            self._snapshot()
            for outlet in list(self.sessions.values()):
                outlet.close(PEER_LOST_WS, reason)
            self.sessions.clear()
            with contextlib.suppress(Exception):
                self.media.close()  # every peer released, the room's plan withdrawn
            self.closing = True

        if not self.closing:
            with contextlib.suppress(MirpError):
                await self.call(job)
        if self._task is not None:
            await self._closed.wait()
        await self._close_peers()

    async def _close_peers(self) -> None:
        """After the task ended: any peer still linked is closed (idempotent)."""
        with contextlib.suppress(Exception):
            self.media.close()

    # ---------------------------------------------------------------- the actor
    async def call(self, fn: Callable[[Room, float], T]) -> T:
        """Run `fn(room, now)` in the room task and return its result (or raise its error)."""
        if self.closing:
            raise RoomClosing("the room is closing")
        fut: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        try:
            self._queue.put_nowait((fn, fut))
        except asyncio.QueueFull:
            raise Unavailable("the room is busy; try again") from None
        return await fut

    async def call_async(self, fn: Callable[[Room, float], Awaitable[T]]) -> T:
        """Like `call` for a job that awaits (durability): the room task waits for it, so the
        Room's order is kept; other rooms have their own tasks and are not delayed."""
        result: T = await self.call(fn)  # type: ignore[arg-type]
        return result

    def submit_nowait(self, fn: Callable[[Room, float], Any]) -> bool:
        """Queue a job nobody waits for (engine level reports); dropped when the room is busy."""
        if self.closing:
            return False
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        fut.add_done_callback(lambda f: f.cancelled() or f.exception())  # never "unretrieved"
        try:
            self._queue.put_nowait((fn, fut))
        except asyncio.QueueFull:
            return False
        return True

    def levels(self, levels: Mapping[str, float]) -> None:
        """Microphone levels (dBFS) of this room's sources, from the engine's callback."""
        mine = {sid: db for sid, db in levels.items() if sid in self.media.peers}
        if mine:
            self.submit_nowait(lambda room, now: self._after(room.levels(mine, now)))

    async def _run(self) -> None:
        getter: asyncio.Task[Any] | None = None
        min_wait = 0.0
        try:
            while not self.closing:
                deadline = self._next_deadline()
                if getter is None:
                    getter = asyncio.ensure_future(self._queue.get())
                timeout = None if deadline is None else max(min_wait, deadline - self.clock())
                done, _ = await asyncio.wait({getter}, timeout=timeout)
                now = self.clock()
                if not done:
                    self._on_timer(now)
                    # a deadline the tick did not move must not make the task spin
                    min_wait = 0.01 if self._next_deadline() == deadline else 0.0
                    continue
                min_wait = 0.0
                fn, fut = getter.result()
                getter = None
                if fut.cancelled():
                    continue
                try:
                    result = fn(self.room, now)
                    if inspect.isawaitable(result):  # a job that waits for durability
                        result = await result
                except MirpError as exc:
                    fut.set_exception(exc)
                except Exception as exc:
                    log.exception("room %s: job failed", self.meeting_id)
                    fut.set_exception(MirpError(f"internal error: {type(exc).__name__}"))
                else:
                    fut.set_result(result)
        except asyncio.CancelledError:
            pass
        finally:
            if getter is not None:
                getter.cancel()
            self.closing = True
            while not self._queue.empty():  # refuse what is left: the caller retries elsewhere
                _, fut = self._queue.get_nowait()
                if not fut.done():
                    fut.set_exception(RoomClosing("the room closed"))
            self._closed.set()
            if self.on_closed is not None:
                self.on_closed(self)

    def _next_deadline(self) -> float | None:
        deadline = self.room.next_deadline()
        if self._idle_since is not None:
            idle_at = self._idle_since + self.idle_close_s
            deadline = idle_at if deadline is None else min(deadline, idle_at)
        return deadline

    def _on_timer(self, now: float) -> None:
        try:
            self._after(self.room.tick(now))
        except Exception:
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
        for outlet in list(self.sessions.values()):
            outlet.close(code, reason)
        self.sessions.clear()
        for pid in list(self.last_session):  # Room.leave is idempotent
            with contextlib.suppress(MirpError):
                self._after(self.room.leave(pid, now), media=False)
        with contextlib.suppress(Exception):
            self.media.close()
        self.closing = True
        if self._snapshot_due is not None:
            self._snapshot_due.cancel()
            self._snapshot_due = None
        if self.durability is not None:  # a closed room is not restored
            self.durability.snapshot(self.meeting_id, None, self.seq)

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
        `now` (an ack waits for it), or soon, coalesced."""
        for event in events:
            if isinstance(event, RecordEvent):
                self.recorder.put(event.record)
        if not events or self.durability is None or self.closing:
            return
        if now:
            self._snapshot()
        elif self._snapshot_due is None:
            loop = asyncio.get_running_loop()
            self._snapshot_due = loop.call_later(LAZY_SNAPSHOT_S, self._lazy_snapshot)

    def _snapshot(self) -> None:
        if self._snapshot_due is not None:
            self._snapshot_due.cancel()
            self._snapshot_due = None
        if self.durability is not None and not self.closing:
            self.durability.snapshot(self.meeting_id, self.room, self.seq)

    def _lazy_snapshot(self) -> None:
        self._snapshot_due = None
        if self._deciding:  # try again once the decision is settled
            self._snapshot_due = asyncio.get_running_loop().call_later(
                LAZY_SNAPSHOT_S, self._lazy_snapshot)
        else:
            self._snapshot()

    async def _durable(self, events: list[Event], snapshot: bool = True) -> None:
        """Journal `events` and wait until they (and, with `snapshot`, the Room's state) are on
        disk."""
        self._journal(events, now=snapshot)
        if self.durability is not None:
            await self.durability.durable()

    async def _decide(self, room: Room, before: bytes, events: list[Event]) -> list[Event]:
        """Commit the decision records among `events` to the database; on failure restore the
        Room to `before` and refuse (Unavailable: nothing was said that did not happen).
        Returns the other events."""
        decisions = [
            e.record for e in events
            if isinstance(e, RecordEvent) and isinstance(e.record, DECISIONS)
        ]
        if not decisions or self.durability is None:
            return events
        self._deciding = True
        try:
            await self.durability.decide(decisions)
        except Exception as exc:
            room.__dict__.clear()
            room.__dict__.update(pickle.loads(before).__dict__)
            log.warning("room %s: decision not committed (%s): refused", self.meeting_id, exc)
            raise Unavailable("the decision could not be saved; try again") from exc
        finally:
            self._deciding = False
        return [
            e for e in events
            if not (isinstance(e, RecordEvent) and isinstance(e.record, DECISIONS))
        ]

    def _broadcast(self, event: WireEvent) -> None:
        self.seq += 1
        message = event.message()
        message["seq"] = self.seq
        text = _json(message)
        for pid in self.room.recipients(event.audience):
            outlet = self.sessions.get(pid)
            if outlet is not None:
                outlet.send_json(text)
        if isinstance(event, Removed):
            pid = event.participant_id
            outlet = self.sessions.pop(pid, None)
            if outlet is not None:
                outlet.close(Forbidden.ws_close, "removed from the meeting")
            self.media.detach(pid)
        elif isinstance(event, MeetingClosed):
            self._shutdown(self.clock(), MEETING_CLOSED_WS, "the meeting is closed")

    def _sync_media(self) -> None:
        try:
            self.media.sync(self.room.mix_plan(), self.room.feeds())
        except Exception:
            log.exception("room %s: media update failed", self.meeting_id)

    # ---------------------------------------------------------------- sessions
    async def join(self, grant: JoinGrant, outlet: Session, resume: str | None = None) -> None:
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
                del self.sessions[pid]
                old.close(
                    REPLACED_WS,
                    "replaced by a new connection",
                    Conflict("this participant connected again elsewhere"),
                )
                self.media.detach(pid)
            resumed = resume is not None and self.last_session.get(pid) == resume
            self.sessions[pid] = outlet
            self.last_session[pid] = outlet.id
            self._idle_since = None
            # the join's records are on disk before the welcome; its snapshot follows soon (a
            # crash before it: the participant joins afresh, as it would have without a restore)
            await self._durable(events, snapshot=False)
            view = room.snapshot(pid)
            if pid in self.restored:  # the room came back from a snapshot after a restart
                self.restored.discard(pid)
                view = {**view, "restored": True}
            outlet.welcome(pid, view, self.seq, resumed)
            self._after(events, journaled=True)

        await self.call_async(job)

    async def leave_session(
        self, participant_id: str, outlet: Session, for_good: bool = False
    ) -> None:
        """The Session ended: the participant is disconnected (grace) unless it was replaced."""

        def job(room: Room, now: float) -> None:
            if self.sessions.get(participant_id) is not outlet:
                return  # replaced or removed already
            del self.sessions[participant_id]
            self.media.detach(participant_id)
            events = (
                room.leave(participant_id, now)
                if for_good
                else room.disconnect(participant_id, now)
            )
            if not self.sessions:
                self._idle_since = now
            self._after(events)

        with contextlib.suppress(RoomClosing):
            await self.call(job)

    async def command(
        self,
        participant_id: str,
        outlet: Session,
        command: Command,
        reply: dict[str, Any] | None = None,
    ) -> None:
        """Run a participant's command. `reply` (the ack) is sent from the task once the Room
        accepted the command, before its events: it reaches the client even when an event
        then closes the Session (meeting_close)."""

        async def job(room: Room, now: float) -> None:
            if self.sessions.get(participant_id) is not outlet:
                raise Conflict("this session was replaced")
            decision = self.durability is not None and command.type in DECISION_COMMANDS
            # the Room as it was, to put back if the database does not take the decision
            before = pickle.dumps(room, pickle.HIGHEST_PROTOCOL) if decision else None
            events = room.handle(participant_id, command, now)
            if before is not None:
                events = await self._decide(room, before, events)
            # records and the Room's state, on disk before the ack
            await self._durable(events, snapshot=command.type not in LAZY_SNAPSHOT_COMMANDS)
            if reply is not None:
                outlet.send(reply)
            self._after(events, journaled=True)

        await self.call_async(job)

    def overview(self) -> dict[str, Any]:
        """A read of the Room's state from outside its task (no await: consistent)."""
        view = dict(self.room.overview())
        view.setdefault("meeting_id", self.meeting_id)
        view["seq"] = self.seq
        view["sessions"] = len(self.sessions)
        return view

    # ---------------------------------------------------------------- peers
    async def offer(self, participant_id: str, outlet: Session, sdp: str) -> str:
        """A new peer connection for this participant (replacing any previous one): the answer.
        Raises InvalidSdp for an offer the media plane refuses."""

        def begin(room: Room, now: float) -> int:
            if self.sessions.get(participant_id) is not outlet:
                raise Conflict("this session was replaced")
            return self.media.begin_offer(participant_id)

        def done(room: Room, now: float) -> None:
            if not self.media.offer_done(participant_id, number):
                raise Conflict("the peer connection was replaced while it was being set up")
            self._sync_media()

        number = await self.call(begin)
        try:
            answer = await self.media.engine.offer(participant_id, sdp)
        except Exception:
            with contextlib.suppress(MirpError):
                await self.call(lambda room, now: self.media.offer_failed(participant_id, number))
            raise
        except BaseException:  # cancelled: no await now
            self.submit_nowait(lambda room, now: self.media.offer_failed(participant_id, number))
            raise
        try:
            await self.call(done)
        except RoomClosing:
            raise Conflict("the room closed while the peer connection was being set up") from None
        return answer

    async def candidate(self, participant_id: str, candidate: Mapping[str, Any] | None) -> None:
        with contextlib.suppress(NotFound):  # a late candidate of a peer already gone: harmless
            await self.media.engine.candidate(participant_id, candidate)

    def peer_gone(self, participant_id: str, reason: str) -> None:
        """The media plane reports this participant's peer gone (see `_on_gone`)."""
        if self.media.has_peer(participant_id):  # a read: most rooms do not have this peer
            self.submit_nowait(lambda room, now: self._on_gone(participant_id, reason))

    def _on_gone(self, pid: str, reason: str) -> None:
        """In the task. The plane released the peer's media; tell the client (`peer_closed`),
        which makes a new peer connection on the same Session. A client that sends no new offer
        within `reoffer_s` is closed with 1001: if it is alive it reconnects (new Session, new
        peer; the Room keeps its place for the grace period); if it is gone, the Room learns it
        now rather than when the socket's own timeouts fire."""
        if not self.media.gone(pid):
            return
        self._sync_media()
        outlet = self.sessions.get(pid)
        if outlet is None:
            return
        outlet.send({"type": "peer_closed", "reason": reason})

        def no_new_offer(room: Room, now: float) -> None:
            if self.sessions.get(pid) is outlet and not self.media.has_peer(pid):
                outlet.close(PEER_LOST_WS, f"media connection lost ({reason})")

        asyncio.get_running_loop().call_later(
            self.reoffer_s, lambda: self.submit_nowait(no_new_offer))

    # ---------------------------------------------------------------- decisions made outside
    # (REST today, a cluster bus later: plain data in, run in the room task like any command)

    async def expel(self, who: Callable[[Room], list[str]], error: MirpError) -> list[str]:
        """The participants `who(room)` names leave for good (connected or within their grace
        period): their Session is closed with `error` (its message, then its close code).
        Their ids."""

        def job(room: Room, now: float) -> list[str]:
            gone = who(room)
            for pid in gone:
                outlet = self.sessions.pop(pid, None)
                if outlet is not None:
                    outlet.close(error.ws_close, error.message, error)
                self.media.detach(pid)
                self._after(room.leave(pid, now))
            if gone and not self.sessions:
                self._idle_since = now
            return gone

        return await self.call(job)

    async def follow_status(self, status: Any, by: str | None = None) -> None:
        """The meeting's status (a MeetingStatus) changed outside the room (rooms/room.py
        `follow_status`); a close ends the room exactly as the chair's `meeting_close` does."""
        await self.call(lambda room, now: self._after(room.follow_status(status, now, by)))

    async def end(self, error: MirpError) -> None:
        """The meeting is gone (deleted): every Session is closed with `error` (its message
        first, then its close code) and the room ends."""

        def job(room: Room, now: float) -> None:
            for outlet in list(self.sessions.values()):
                outlet.close(error.ws_close, error.message, error)
            self.sessions.clear()
            self._shutdown(now, error.ws_close, error.message)

        await self.call(job)
