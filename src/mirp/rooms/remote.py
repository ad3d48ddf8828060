"""The edge side: a meeting whose Room lives on another node, as its local Sessions see it.

`RemoteRoom` is a JoinedRoom (rooms/door.py): signaling cannot tell it from a RoomRuntime. Each
command goes to the origin with `bus.request` (no answer in time: `Unavailable`, the error a
busy local room gives); the origin's answer is the local one (`Failed` carries the Room's own
error). Everything a Session is sent comes by the meeting's one stream (rooms/hop.py) and is
delivered in the stream's order: the welcome, then the events of the participants this edge
serves, acks and closes.

The stream is trusted only while it is whole: messages of an older epoch (a deposed origin) are
dropped; a missing number, a Bus `gaps` increase (told at once: `Subscription.on_gap`), a
cut-off subscription or a newer epoch make the edge *resync*: it drops the stream until the
origin's `Resynced` arrives, then gives each of its Sessions a fresh welcome (`resumed: true`)
at the stream's current point. A client
already replaces its view on a welcome and goes on from its `seq` (docs/protocol.md).

Media (`media`, rooms/edge_media.py): a Session's peer is made on this node's own plane; the
origin's Room counts it (`PeerUp`) and hears of its end (`PeerDown`); the origin's plan for it
comes by the same stream. Without `media` (no relay address) `offer`/`ice` are `Unavailable`.
After the `Resynced` of a new epoch (a takeover: the new origin restored the Room, not where its
peers are) each live peer is counted again (`PeerUp`): the new origin relays its feed here and
the microphones go to it, while the client keeps its peer connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from mirp.cluster.bus import Bus, Envelope, Kind, Subscription
from mirp.cluster.tasks import end_of
from mirp.errors import Conflict, InvalidMessage, MirpError, TooSlow, Unavailable
from mirp.rooms import hop
from mirp.rooms.actor import background
from mirp.rooms.commands import Command
from mirp.rooms.edge_media import EdgeMedia
from mirp.rooms.events import JsonDict
from mirp.rooms.model import JoinGrant
from mirp.rooms.session import Session

log = logging.getLogger("mirp.rooms.remote")

RESYNC_RETRY_S = 0.2  # a resync nobody answered at once is asked again this soon
RESYNC_CLOSE = 1012  # "service restart": the client reconnects, and the origin says where it is


@dataclass
class _Local:
    session: Session
    participant_id: str
    welcomed: asyncio.Future[None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future())


class RemoteRoom:
    def __init__(self, meeting_id: str, bus: Bus, epoch: int, *, timeout_s: float = 5.0,
                 on_empty: Callable[[RemoteRoom], None] | None = None,
                 media: EdgeMedia | None = None) -> None:
        self.meeting_id, self.bus, self.epoch = meeting_id, bus, epoch
        self.media = media
        self._peers_epoch = epoch  # the origin epoch this edge's peers were last counted in
        self._peer_order = asyncio.Lock()  # PeerUp/PeerDown reach the origin in their order
        self.timeout_s = timeout_s
        self.on_empty = on_empty
        self._by_sid: dict[str, _Local] = {}
        self._by_pid: dict[str, _Local] = {}  # welcomed ones only
        self._next: int | None = None  # the stream number expected next (None: take any)
        self._gaps = 0
        self._resyncing: str | None = None  # the token of the resync in flight
        self.resyncs = 0
        self.stale = 0  # messages dropped for an older epoch
        self._sub: Subscription | None = None
        self._reader: asyncio.Task[None] | None = None
        self._resync_task: asyncio.Task[None] | None = None
        self._synced = asyncio.Event()
        self.closed = False

    async def start(self) -> RemoteRoom:
        self._sub = await self.bus.subscribe(hop.events_topic(self.meeting_id))
        self._sub.on_gap = self._bus_gap
        self._reader = asyncio.create_task(self._read(), name=f"edge {self.meeting_id}")
        return self

    # ---------------------------------------------------------------- JoinedRoom
    async def _ask(self, request: hop.Request) -> None:
        env = Envelope(Kind.COMMAND, self.bus.node_id, hop.encode(request))
        answer = hop.decode((await self.bus.request(
            hop.command_topic(self.meeting_id), env, self.timeout_s)).body)
        if isinstance(answer, hop.Failed):
            raise answer.error
        if not isinstance(answer, hop.Done):
            raise InvalidMessage(f"unexpected answer {type(answer).__name__}")

    async def join(self, grant: JoinGrant, session: Session, resume: str | None = None) -> None:
        """Returns once the origin admitted the Session and its welcome, which comes by the
        stream in order (before any event it does not contain), was handed to it: as on one
        process, the welcome is sent when `join` returns."""
        local = self._by_sid[session.id] = _Local(session, grant.participant_id)
        try:
            await self._ask(hop.JoinRequest(grant, session.id, resume))
            try:
                async with asyncio.timeout(self.timeout_s):
                    await asyncio.shield(local.welcomed)
            except TimeoutError:
                raise Unavailable(f"no welcome from the meeting's origin within "
                                  f"{self.timeout_s:g} s", {"reason": "timeout"}) from None
        except BaseException:
            self._drop(session.id)
            self._check_empty()
            raise

    async def command(self, participant_id: str, session: Session, command: Command,
                      reply: JsonDict | None = None) -> None:
        await self._ask(hop.CommandRequest(participant_id, session.id, command, reply))

    def _media(self) -> EdgeMedia:
        if self.media is None:
            raise Unavailable("this node relays no media (no relay address)",
                              {"reason": "edge"})
        return self.media

    async def offer(self, participant_id: str, session: Session, sdp: str) -> str:
        """The peer on this node's plane; the answer once the origin's Room counts it."""
        media = self._media()
        local = self._by_sid.get(session.id)
        if local is None or local.participant_id != participant_id:
            raise Conflict("this session was replaced")
        answer = await media.offer(participant_id, session.id, sdp)
        try:
            async with self._peer_order:
                await self._ask(hop.PeerUp(participant_id, session.id,
                                           participant_id in media.cameras))
        except BaseException as exc:
            media.close(participant_id, session.id)
            if not isinstance(exc, Conflict):  # the origin may have counted it before failing
                background(self._tell(hop.PeerDown(participant_id, session.id, "offer failed")))
            raise
        return answer

    async def candidate(self, participant_id: str,
                        candidate: Mapping[str, object] | None) -> None:
        await self._media().candidate(participant_id, candidate)

    def peer_gone(self, participant_id: str, reason: str) -> None:
        """This node's plane reports the peer gone: the origin's Room hears it as on one node
        (it tells the client `peer_closed` and waits for a new offer)."""
        if self.media is None:
            return
        session_id = self.media.gone(participant_id)
        if session_id is not None:
            background(self._tell(hop.PeerDown(participant_id, session_id, reason)))

    async def _tell(self, request: hop.Request) -> None:
        try:
            async with self._peer_order:
                await self._ask(request)
        except MirpError as exc:  # the origin's own timers end that peer's Session then
            log.warning("room %s: %s not delivered: %s", self.meeting_id,
                        type(request).__name__, exc.message)

    async def leave_session(self, participant_id: str, session: Session,
                            for_good: bool = False) -> None:
        local = self._by_sid.get(session.id)
        if local is None or local.session is not session:
            return
        self._drop(session.id)
        try:
            await self._ask(hop.LeaveRequest(participant_id, session.id, for_good))
        except MirpError as exc:  # the origin goes on with a Session nobody reads
            log.warning("room %s: leave of %s not delivered: %s", self.meeting_id,
                        participant_id, exc.message)
        finally:
            self._check_empty()

    async def close_sessions(self, code: int, reason: str) -> None:
        """Every Session of this edge closed (a drain): disconnected at the origin (their
        grace period runs: they come back through another node), then their sockets closed."""
        locals_ = list(self._by_sid.values())
        await asyncio.gather(*(self.leave_session(loc.participant_id, loc.session)
                               for loc in locals_))
        for loc in locals_:
            loc.session.close(code, reason)

    def _drop(self, session_id: str) -> None:
        local = self._by_sid.pop(session_id, None)
        if local is not None:
            if self.media is not None:  # its peer here ends with it (the origin may not know it)
                self.media.close(local.participant_id, session_id)
            if not local.welcomed.done():  # a join still waiting for it ends
                local.welcomed.set_exception(Unavailable("the session ended before its welcome"))
                local.welcomed.exception()  # retrieved: no warning when nobody waits
            if self._by_pid.get(local.participant_id) is local:
                del self._by_pid[local.participant_id]

    def _check_empty(self) -> None:
        if not self._by_sid and self.on_empty is not None:
            self.on_empty(self)

    def __len__(self) -> int:
        return len(self._by_sid)

    # ---------------------------------------------------------------- the stream
    async def _read(self) -> None:
        while not self.closed:
            sub = self._sub
            assert sub is not None
            try:
                async for env in sub:
                    self._receive(env, sub.gaps)
            except TooSlow:
                log.warning("room %s: the edge fell behind the stream", self.meeting_id)
            if self.closed:
                return
            self._sub = await self._resubscribe()
            self._sub.on_gap = self._bus_gap
            self._gaps = self._sub.gaps  # a new subscription counts its own
            self._gap("cut off")

    async def _resubscribe(self) -> Subscription:
        while True:
            try:
                return await self.bus.subscribe(hop.events_topic(self.meeting_id))
            except Unavailable:
                await asyncio.sleep(0.5)  # the store is away: the Bus's own back-off is ahead

    def _bus_gap(self) -> None:
        """The subscription is live again after an outage: what the meeting said meanwhile is
        lost, so resync now (the meeting may say nothing more for a long time)."""
        if self._sub is not None and not self.closed:
            self._gaps, self._next = self._sub.gaps, None
            self._gap("the bus reconnected")

    def _receive(self, env: Envelope, gaps: int) -> None:
        if env.kind is not Kind.EVENT:
            return
        if env.epoch < self.epoch:
            self.stale += 1  # a deposed origin (a fence would have refused it): never applied
            return
        if env.epoch > self.epoch:
            self.epoch = env.epoch
            self._gap(f"new origin epoch {env.epoch}")
        elif gaps != self._gaps:
            self._gap("the bus reconnected")
        elif self._next is not None and env.seq != self._next:
            self._gap(f"stream number {env.seq}, expected {self._next}")
        self._gaps = gaps
        self._next = env.seq + 1
        if self.media is not None:
            self.media.origin_is(env.sender, self.epoch)
        try:
            messages = hop.decode_stream(env.body)
        except InvalidMessage as exc:  # a bug: what it carried is lost, as in a gap
            log.warning("room %s: %s", self.meeting_id, exc.message)
            self._gap("a bad message")
            return
        for message in messages:
            if self._resyncing is None:
                self._deliver(message)
            elif isinstance(message, hop.Resynced) and message.token == self._resyncing:
                self._resynced(message)  # what follows it is delivered

    def _deliver(self, message: hop.Request | hop.Reply | hop.Out) -> None:
        match message:
            case hop.EventOut(text=text, recipients=recipients):
                for pid in recipients:
                    local = self._by_pid.get(pid)
                    if local is not None:
                        local.session.send_json(text)
            case hop.DirectOut(session_id=sid, text=text):
                target = self._by_sid.get(sid)
                if target is not None:
                    target.session.send_json(text)
            case hop.WelcomeOut():
                self._welcome(message)
            case hop.ListenOut() | hop.PeerCloseOut() | hop.SourcesOut():
                if self.media is not None:
                    self.media.deliver(message)
            case hop.CloseOut(session_id=sid, code=code, reason=reason, error=error):
                target = self._by_sid.get(sid)
                if target is not None:
                    self._drop(sid)
                    target.session.close(code, reason, error)
                    self._check_empty()

    def _welcome(self, w: hop.WelcomeOut) -> None:
        local = self._by_sid.get(w.session_id)
        if local is None:
            return
        self._by_pid[w.participant_id] = local
        local.session.welcome(w.participant_id, w.room, w.seq, w.resumed)
        if not local.welcomed.done():
            local.welcomed.set_result(None)

    # ---------------------------------------------------------------- resync
    def _gap(self, why: str) -> None:
        if self._resyncing is not None:
            return
        log.info("room %s: resync (%s)", self.meeting_id, why)
        self.resyncs += 1
        self._resyncing = token = uuid.uuid4().hex
        self._resync_task = asyncio.create_task(self._ask_resync(token))

    async def _ask_resync(self, token: str) -> None:
        """Asks until the `Resynced` arrives (the stream reader ends the resync): a request
        or its answer in the stream lost is asked again."""
        self._synced.clear()
        while self._resyncing == token and not self.closed:
            sessions = tuple((loc.participant_id, sid) for sid, loc in self._by_sid.items())
            wait_s = self.timeout_s
            try:
                await self._ask(hop.ResyncRequest(token, sessions))
            except MirpError:  # nobody serves the meeting yet (a takeover under way)
                wait_s = RESYNC_RETRY_S
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait_s):
                    await self._synced.wait()

    def follow(self, epoch: int) -> None:
        """The Directory names a newer origin (rooms/placement.py watches it): resync with it
        now, without waiting for its first envelope (it may have nothing to say)."""
        if epoch > self.epoch:
            self.epoch, self._next = epoch, None
            self._gap(f"the meeting moved (epoch {epoch})")

    def _resynced(self, message: hop.Resynced) -> None:
        self._resyncing = None
        self._synced.set()
        fresh = {w.session_id for w in message.welcomes}
        for w in message.welcomes:
            self._welcome(w)
        for sid, local in list(self._by_sid.items()):
            if local.welcomed.done() and sid not in fresh:  # replaced or removed meanwhile
                self._drop(sid)
                local.session.close(RESYNC_CLOSE, "resynchronising with the meeting")
        self._check_empty()
        if self.media is not None and self.epoch != self._peers_epoch:
            self._peers_epoch = self.epoch
            for pid, sid in list(self.media.peers.items()):
                if sid in fresh:
                    background(self._peer_again(pid, sid))

    async def _peer_again(self, participant_id: str, session_id: str) -> None:
        """A new origin (a takeover) restored the Room but not where its peers are: each live
        peer here is counted again, so its plan (the feed it hears, the microphone it forwards)
        comes from the new origin; the peer itself, and the client's connection, stay. One the
        new origin refuses is closed, and its client told to offer again."""
        try:
            async with self._peer_order:
                await self._ask(hop.PeerUp(participant_id, session_id,
                                           self.media is not None
                                           and participant_id in self.media.cameras))
        except MirpError as exc:
            log.warning("room %s: the peer of %s not taken over: %s", self.meeting_id,
                        participant_id, exc.message)
            local = self._by_sid.get(session_id)
            if self.media is not None and local is not None:
                self.media.close(participant_id, session_id)
                local.session.send({"type": "peer_closed", "reason": "the meeting moved"})

    # ---------------------------------------------------------------- ending
    async def close(self) -> None:
        self.closed = True
        if self.media is not None:
            self.media.stop()
        if self._sub is not None:
            await self.bus.unsubscribe(self._sub)
        for task in (self._reader, self._resync_task):
            if task is not None:
                task.cancel()
                await end_of(task)
