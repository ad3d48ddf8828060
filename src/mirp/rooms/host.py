"""The origin side of a meeting served to edges: its RoomRuntime over the Bus.

The seam is the Session (rooms/session.py): a participant who joined through an edge is, in the
origin's runtime, a `StandIn` Session whose sends go into this host's outbox instead of a
WebSocket. The runtime, its Sessions and their one event counter are unchanged: a room event is
handed to each recipient's Session as on one process, and the host folds the recipients of one
event (same room seq) into one `EventOut`. One pump task publishes the outbox in order on
`room.<meeting>.events`, each message fenced by the lease (`lease()`: the Keeper's `holds`) and
numbered without a hole (Envelope.seq), so an edge sees any loss as a missing number.

Requests from edges arrive on `room.<meeting>.cmd`; each runs as its own task (a command
awaiting the journal does not hold up the others; the actor keeps their order).

Media (with `address_of`, the Directory's relay addresses): the runtime's plane becomes an
`EdgePlane` (rooms/edge_plane.py) that routes the media of peers on edges to them; `PeerUp` and
`PeerDown` from an edge make the Room count such a peer or hear of its end, as on one node.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mirp.cluster.bus import Bus, Envelope, Kind, Subscription
from mirp.cluster.directory import Lease
from mirp.cluster.tasks import end_of
from mirp.errors import Conflict, InvalidMessage, MirpError, TooSlow, Unavailable
from mirp.rooms import hop
from mirp.rooms.edge_media import AddressOf
from mirp.rooms.edge_plane import EdgePlane
from mirp.rooms.room import Room
from mirp.rooms.runtime import RoomRuntime
from mirp.rooms.shared_plane import ScopedPlane

log = logging.getLogger("mirp.rooms.host")

# A stream envelope carries what queued up while the previous one was being published, up to
# about this much JSON (one welcome of a large room may exceed it and goes alone).
BATCH_CHARS = 256 * 1024


@dataclass
class _Gathering:
    """An event's stand-in recipients, gathered as the runtime hands the event out (one
    `EventOut` per event, however many recipients: appended, never copied)."""

    seq: int
    text: str
    recipients: list[str]


class StandIn:
    """An edge's Session as the origin's runtime holds it (a rooms.session.Session)."""

    def __init__(self, host: RoomHost, session_id: str, participant_id: str,
                 node_id: str = "") -> None:
        self._host, self._id, self.participant_id = host, session_id, participant_id
        self.node_id = node_id  # the edge it came through (its Session ends with that node)

    @property
    def id(self) -> str:
        return self._id

    def send_json(self, text: str) -> None:
        # only Sessions.broadcast calls it, right after numbering the event
        self._host.event(self.participant_id, text)

    def send(self, message: dict[str, Any]) -> None:
        self._host.put(hop.DirectOut(self._id, json.dumps(
            message, separators=(",", ":"), ensure_ascii=False)))

    def welcome(self, participant_id: str, room: dict[str, Any], seq: int,
                resumed: bool) -> None:
        self._host.put(hop.WelcomeOut(self._id, participant_id, room, seq, resumed))

    def close(self, code: int, reason: str, error: MirpError | None = None,
              msg_id: int | str | None = None) -> None:
        self._host.forget(self)
        self._host.put(hop.CloseOut(self._id, code, reason, error))


class RoomHost:
    def __init__(self, runtime: RoomRuntime, bus: Bus, lease: Callable[[], Lease | None],
                 on_lost: Callable[[RoomHost, MirpError], None] | None = None,
                 address_of: AddressOf | None = None) -> None:
        self.runtime, self.bus, self.lease = runtime, bus, lease
        self.address_of = address_of
        self.meeting_id = runtime.meeting_id
        self.on_lost = on_lost
        self.stand_ins: dict[str, StandIn] = {}  # session id -> its stand-in
        self.sent = 0  # the stream's last number
        self.dropped = 0  # stream messages not published (lease unproven, Bus away)
        self.lost: MirpError | None = None
        self._outbox: deque[hop.Out | _Gathering] = deque()
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()  # the outbox is empty (or will never be sent)
        self._idle.set()
        self._sub: Subscription | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._pump: asyncio.Task[None] | None = None
        self._serve: asyncio.Task[None] | None = None
        self._closing = False
        self._epoch = 0  # the lease's last epoch seen (a relay link needs one while unproven)
        self._lease_epoch()
        self.edge_plane: EdgePlane | None = None
        self._peer_locks: dict[str, asyncio.Lock] = {}  # per edge
        plane = runtime.media.plane
        if address_of is not None and isinstance(plane, EdgePlane):  # a former host's
            plane.put, plane.epoch = self.put, self._lease_epoch  # its state goes on
            self.edge_plane = plane
        elif address_of is not None and isinstance(plane, ScopedPlane):
            self.edge_plane = EdgePlane(plane, self.put, self._lease_epoch, self.bus.node_id)
            if runtime.media.plan is not None:
                self.edge_plane.sources = runtime.media.plan.sources()
            runtime.media.plane = self.edge_plane  # local peers go through it unchanged

    def _lease_epoch(self) -> int:
        lease = self.lease()
        if lease is not None:
            self._epoch = lease.epoch
        return self._epoch

    # ---------------------------------------------------------------- the stream
    def event(self, participant_id: str, text: str) -> None:
        seq = self.runtime.seq
        last = self._outbox[-1] if self._outbox else None
        if isinstance(last, _Gathering) and last.seq == seq:
            last.recipients.append(participant_id)
        else:
            self.put(_Gathering(seq, text, [participant_id]))

    def put(self, message: hop.Out | _Gathering) -> None:
        if self.lost is None:
            self._outbox.append(message)
            self._idle.clear()
            self._wake.set()

    def forget(self, stand_in: StandIn) -> None:
        if self.stand_ins.get(stand_in.id) is stand_in:
            del self.stand_ins[stand_in.id]

    async def _publish(self) -> None:
        topic = hop.events_topic(self.meeting_id)
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._outbox and self.lost is None:
                texts, size = [], 0
                while self._outbox and size < BATCH_CHARS:
                    item = self._outbox.popleft()
                    texts.append(hop.dump(
                        hop.EventOut(item.seq, item.text, tuple(item.recipients))
                        if isinstance(item, _Gathering) else item))
                    size += len(texts[-1])
                self.sent += 1  # numbered even if it fails: the edges see the hole
                lease = self.lease()
                if lease is None:
                    self.dropped += 1  # unproven: no fenced publish is even tried
                    continue
                env = Envelope(Kind.EVENT, self.bus.node_id, hop.encode_stream(texts),
                               epoch=lease.epoch, seq=self.sent)
                try:
                    await self.bus.publish(topic, env, fence=lease)
                except Conflict as exc:
                    self._lose(exc)
                except MirpError as exc:  # Unavailable (the store away), MessageTooLarge
                    self.dropped += 1
                    log.warning("room %s: events not published: %s", self.meeting_id, exc)
            self._idle.set()

    def _lose(self, exc: MirpError) -> None:
        """Another node holds the meeting now: this host stops speaking for it."""
        if self.lost is not None:
            return
        log.warning("room %s: origin lease lost: %s", self.meeting_id, exc.message)
        self.lost = exc
        self._outbox.clear()
        self._idle.set()
        if self.on_lost is not None:
            self.on_lost(self, exc)

    def lease_lost(self, exc: MirpError) -> None:
        """The Keeper's word: the renewal was refused."""
        self._lose(exc)

    async def flushed(self) -> None:
        """Returns once the outbox is empty (tests; a drain)."""
        if self._pump is not None:
            await self._idle.wait()

    # ---------------------------------------------------------------- requests
    async def start(self) -> RoomHost:
        self._sub = await self.bus.subscribe(hop.command_topic(self.meeting_id))
        self._pump = asyncio.create_task(self._publish(), name=f"host {self.meeting_id} pump")
        self._serve = asyncio.create_task(self._read(self._sub),
                                          name=f"host {self.meeting_id} requests")
        return self

    async def _read(self, sub: Subscription) -> None:
        while not self._closing:
            with contextlib.suppress(TooSlow):  # cut off: those requests time out at the edge
                async for env in sub:
                    if env.kind is not Kind.COMMAND:
                        continue
                    task = asyncio.create_task(self._answer(env))
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)
            while not self._closing:
                try:
                    sub = self._sub = await self.bus.subscribe(hop.command_topic(self.meeting_id))
                    break
                except Unavailable:
                    await asyncio.sleep(0.5)  # the store is away: the Bus's back-off is ahead

    async def _answer(self, env: Envelope) -> None:
        if self.lease() is None:
            # unproven (this process was paused past its TTL, or the store is away): another
            # node may serve the meeting now, and the edge takes the first answer: not ours
            return
        reply: hop.Reply
        try:
            request = hop.decode(env.body)
            await self.handle(request, env.sender)
            reply = hop.Done()
        except MirpError as exc:
            reply = hop.Failed(exc)
        except Exception as exc:
            log.exception("room %s: a request failed", self.meeting_id)
            reply = hop.Failed(MirpError(f"internal error: {type(exc).__name__}"))
        with contextlib.suppress(MirpError):  # the edge is gone or the Bus away: it times out
            await self.bus.reply(env, Envelope(Kind.REPLY, self.bus.node_id, hop.encode(reply)))

    async def handle(self, request: hop.Request | hop.Reply | hop.Out,
                     sender: str = "") -> None:
        if self.lost is not None:
            raise Unavailable("this node no longer serves the meeting; try again",
                              {"reason": "moved"})
        runtime = self.runtime
        match request:
            case hop.JoinRequest(grant=grant, session_id=sid, resume=resume):
                stand_in = StandIn(self, sid, grant.participant_id, sender)
                self.stand_ins[sid] = stand_in
                try:
                    await runtime.join(grant, stand_in, resume)
                except BaseException:
                    self.forget(stand_in)
                    raise
            case hop.CommandRequest(participant_id=pid, session_id=sid, command=cmd, ack=ack):
                await runtime.command(pid, self._stand_in(sid, pid), cmd, ack)
            case hop.LeaveRequest(participant_id=pid, session_id=sid, for_good=for_good):
                leaving = self.stand_ins.pop(sid, None)
                if leaving is not None:
                    await runtime.leave_session(pid, leaving, for_good)
            case hop.ResyncRequest(token=token, sessions=sessions):
                await self._adopt(sessions, sender)
                await runtime.call(lambda room, now: self._resync(room, token, sessions, sender))
            case hop.PeerUp(participant_id=pid, session_id=sid, camera=camera):
                plane = self._edge_plane()
                async with self._peer_order(sender):
                    stand_in = self._stand_in(sid, pid)
                    assert self.address_of is not None
                    address = await self.address_of(sender)
                    if address is None:
                        raise Unavailable(f"node {sender!r} has no relay address",
                                          {"reason": "edge"})
                    await runtime.peers.adopt(pid, stand_in,
                                              lambda: plane.peer_up(pid, sender, address, camera),
                                              camera=camera)
            case hop.PeerDown(participant_id=pid, reason=reason):
                plane = self._edge_plane()

                def down(room: Room, now: float) -> None:
                    if plane.peer_down(pid, sender):  # not a late report of an older peer
                        runtime.peer_gone(pid, reason)

                async with self._peer_order(sender):
                    await runtime.call(down)
            case _:
                raise InvalidMessage(f"not a request: {type(request).__name__}")

    async def _adopt(self, sessions: tuple[tuple[str, str], ...], node_id: str) -> None:
        """After a takeover (this node restored the Room from the previous origin's snapshot)
        an edge's Sessions are joined again as they were: a participant back from the snapshot
        and not rejoined since is reconnected through a stand-in with the edge's session id
        (same participant, seat, floor, channel), as a resumed join would. Anyone else (a
        Session replaced, removed, or unknown to the Room) is left out: the edge closes it."""
        runtime = self.runtime
        for pid, sid in sessions:
            p = runtime.room.participants.get(pid)
            if (sid in self.stand_ins or p is None or pid not in runtime.restored
                    or runtime.sessions.get(pid) is not None):
                continue
            stand_in = self.stand_ins[sid] = StandIn(self, sid, pid, node_id)
            try:
                await runtime.join(p.grant, stand_in)
            except MirpError as exc:
                self.forget(stand_in)
                log.info("room %s: %s not taken over: %s", self.meeting_id, pid, exc.message)

    def _stand_in(self, session_id: str, participant_id: str) -> StandIn:
        stand_in = self.stand_ins.get(session_id)
        if stand_in is None or stand_in.participant_id != participant_id:
            raise Conflict("this session was replaced")
        return stand_in

    def _peer_order(self, edge: str) -> asyncio.Lock:
        """An edge's PeerUp/PeerDown apply in the order they came (each request is a task of
        its own; the lock is FIFO): a peer given up while its PeerUp was still in work ends."""
        return self._peer_locks.setdefault(edge, asyncio.Lock())

    def _edge_plane(self) -> EdgePlane:
        if self.edge_plane is None:
            raise Unavailable("the meeting's origin relays no media", {"reason": "edge"})
        return self.edge_plane

    def _resync(self, room: Room, token: str, sessions: tuple[tuple[str, str], ...],
                edge: str) -> None:
        """In the room task: a fresh welcome for each of those Sessions still current, put in
        the stream at this point (what the welcome folds in precedes it, the rest follows)."""
        welcomes = []
        for pid, sid in sessions:
            stand_in = self.stand_ins.get(sid)
            if stand_in is not None and self.runtime.sessions.is_current(pid, stand_in):
                welcomes.append(hop.WelcomeOut(sid, pid, room.snapshot(pid), self.runtime.seq,
                                               True))
        self.put(hop.Resynced(token, tuple(welcomes)))
        if self.edge_plane is not None:  # what the edge may have missed of its media
            self.edge_plane.replay(edge)

    async def sweep(self, gone: set[str]) -> list[str]:
        """The Sessions that came through nodes now `gone` from the Directory end as a closed
        socket does (the participant disconnected, the grace period runs): a dead edge's
        participants are not connected forever. Their participant ids."""
        ended = [s for s in list(self.stand_ins.values()) if s.node_id in gone]
        for stand_in in ended:
            self.forget(stand_in)
            with contextlib.suppress(MirpError):
                await self.runtime.leave_session(stand_in.participant_id, stand_in)
        return [s.participant_id for s in ended]

    # ---------------------------------------------------------------- ending
    async def stop(self) -> None:
        """Stops serving (the room closed here, or the lease is gone); what is queued is
        published first unless the lease was lost."""
        if self._closing:
            return
        self._closing = True
        if self.edge_plane is not None:
            self.edge_plane.stop()
        if self._sub is not None:
            await self.bus.unsubscribe(self._sub)
        await self.flushed()
        for task in (self._serve, self._pump, *self._tasks):
            if task is not None:
                task.cancel()
                await end_of(task)
        self._pump = None
