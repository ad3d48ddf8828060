"""The Bus: topics between the processes of a cluster, for control (a session's command to the
origin's Room and its reply; the Room's seq-numbered events to the edges).

One message definition, `Envelope` (a frozen dataclass with one binary encoding), carries a
body of bytes that the Bus never looks into. Subscriptions are bounded: a subscriber that falls
`maxsize` messages behind is cut off with `TooSlow` (it must resync, e.g. from a snapshot),
never buffered without end. Publishing events on behalf of a meeting is *fenced*: the publisher
passes its `Lease`, and the publish is refused with `Conflict` unless that lease is the current
one, checked atomically with the send. This module holds the contract, the envelope, the
subscription and the one-process `LocalBus`; redis_bus.py holds `RedisBus`.
"""

from __future__ import annotations

import asyncio
import enum
import struct
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Literal, Protocol

from mirp.cluster.directory import Lease, LocalDirectory, lost
from mirp.cluster.tasks import end_of
from mirp.errors import InvalidInput, InvalidMessage, MessageTooLarge, TooSlow, Unavailable

MAX_BODY = 1 << 20  # bytes; a snapshot of a large meeting fits, a runaway message does not
DEFAULT_QUEUE = 1024  # messages a subscriber may fall behind before it is cut off


class Kind(enum.IntEnum):
    EVENT = 1  # a Room's event to the edges (seq = the room's seq)
    COMMAND = 2  # a session's command to the origin's Room (a request)
    REPLY = 3  # the origin's answer to a COMMAND (same corr)
    MEDIA = 4  # an encoded packet, when media goes over the Bus


_HEAD = struct.Struct(">BBQQHHH")  # version, kind, epoch, seq, len(sender, reply_to, corr)
_VERSION = 1


@dataclass(frozen=True, slots=True)
class Envelope:
    kind: Kind
    sender: str  # node id
    body: bytes
    epoch: int = 0  # the sender's lease epoch (events, media); 0 when not sent as an origin
    seq: int = 0  # the Room's event seq, or a packet's sequence number
    reply_to: str = ""  # a request's reply topic
    corr: str = ""  # a request's correlation id, echoed by its reply

    def encode(self) -> bytes:
        if len(self.body) > MAX_BODY:
            raise MessageTooLarge(f"bus message of {len(self.body)} bytes (max {MAX_BODY})")
        s, r, c = self.sender.encode(), self.reply_to.encode(), self.corr.encode()
        return b"".join((_HEAD.pack(_VERSION, self.kind, self.epoch, self.seq, len(s), len(r),
                                    len(c)), s, r, c, self.body))

    @classmethod
    def decode(cls, data: bytes) -> Envelope:
        try:
            version, kind, epoch, seq, ls, lr, lc = _HEAD.unpack_from(data)
            if version != _VERSION:
                raise ValueError(f"version {version}")
            at = _HEAD.size
            strings = []
            for n in (ls, lr, lc):
                if at + n > len(data):
                    raise ValueError("truncated")
                strings.append(data[at:at + n].decode())
                at += n
            return cls(Kind(kind), strings[0], data[at:], epoch, seq, strings[1], strings[2])
        except (struct.error, ValueError) as exc:  # UnicodeDecodeError is a ValueError
            raise InvalidMessage(f"bad bus message: {exc}") from exc


def check_topic(topic: str) -> str:
    if not topic or len(topic) > 300 or any(c in topic for c in " \r\n\0*?[]"):
        raise InvalidInput(f"bad topic {topic!r}", {"topic": topic})
    return topic


State = Literal["live", "reconnecting", "closed"]


class Subscription:
    """One subscriber's bounded stream of a topic. Iterate it (or `await get()`); the stream
    ends when closed, and raises the reason when cut off (`TooSlow`). `gaps` counts the times
    the stream was re-established after the store was away: messages in between are lost, so a
    consumer that sees it grow resyncs."""

    def __init__(self, topic: str, maxsize: int) -> None:
        if maxsize < 1:
            raise InvalidInput(f"bad queue size {maxsize}")
        self.topic, self.maxsize = topic, maxsize
        self.state: State = "live"
        self.gaps = 0
        self.on_gap: Callable[[], None] | None = None  # told at once when `gaps` grows
        self.reason: Exception | None = None
        self._queue: asyncio.Queue[Envelope | None] = asyncio.Queue(maxsize + 1)

    def offer(self, env: Envelope) -> bool:
        """Called by the Bus; False when this subscriber was (or is now) cut off."""
        if self.state == "closed":
            return False
        if self._queue.qsize() >= self.maxsize:
            self.cut(TooSlow(f"subscriber of {self.topic} fell {self.maxsize} messages behind",
                             {"topic": self.topic}))
            return False
        self._queue.put_nowait(env)
        return True

    def gap(self) -> None:
        """The stream was re-established after an outage (called by the Bus): a consumer
        that must resync learns it now, not at the topic's next message."""
        self.gaps += 1
        if self.on_gap is not None:
            self.on_gap()

    def cut(self, reason: Exception | None) -> None:
        """Ends the stream; the consumer gets `reason` raised (None: a plain end)."""
        if self.state == "closed":
            return
        self.state, self.reason = "closed", reason
        while not self._queue.empty():
            self._queue.get_nowait()
        self._queue.put_nowait(None)

    async def get(self) -> Envelope:
        item = await self._queue.get()
        if item is None:
            self._queue.put_nowait(None)  # every later get ends too
            if self.reason is not None:
                raise self.reason
            raise StopAsyncIteration
        return item

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Envelope:
        return await self.get()


class Bus(Protocol):
    node_id: str

    async def publish(self, topic: str, env: Envelope, fence: Lease | None = None) -> int:
        """Sends to every current subscriber of `topic`; returns how many processes (Redis) or
        subscribers (Local) it reached. `fence`: refused with `Conflict` unless current.
        `Unavailable` quickly when the store is away."""
        ...

    async def subscribe(self, topic: str, maxsize: int = DEFAULT_QUEUE) -> Subscription:
        """Returns once subscribed: anything published afterwards is delivered."""
        ...

    async def unsubscribe(self, sub: Subscription) -> None: ...

    async def request(self, topic: str, env: Envelope, timeout_s: float) -> Envelope:
        """Publishes `env` with a reply address and waits for its REPLY; `Unavailable` when no
        one serves `topic` or no reply comes within `timeout_s`."""
        ...

    async def reply(self, request: Envelope, env: Envelope) -> None: ...

    async def aclose(self) -> None: ...


class Requests:
    """Request/reply on top of publish/subscribe, the same for every Bus: one reply topic per
    bus instance, subscribed at the first request, and a future per request in flight."""

    def __init__(self, bus: Bus) -> None:
        self._bus = bus
        self.topic = f"reply.{bus.node_id}.{uuid.uuid4().hex[:12]}"
        self._pending: dict[str, asyncio.Future[Envelope]] = {}
        self._sub: Subscription | None = None
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    async def _ensure(self) -> None:
        async with self._lock:
            if self._sub is None or self._sub.state == "closed":
                self._sub = await self._bus.subscribe(self.topic)
                self._task = asyncio.create_task(self._read(self._sub))

    async def _read(self, sub: Subscription) -> None:
        try:
            async for env in sub:
                fut = self._pending.get(env.corr)
                if fut is not None and not fut.done():
                    fut.set_result(env)
        except TooSlow:
            pass  # the next request subscribes again; the lost replies time out

    async def request(self, topic: str, env: Envelope, timeout_s: float) -> Envelope:
        await self._ensure()
        corr = uuid.uuid4().hex
        fut: asyncio.Future[Envelope] = asyncio.get_running_loop().create_future()
        self._pending[corr] = fut
        try:
            sent = replace(env, kind=Kind.COMMAND, reply_to=self.topic, corr=corr,
                           sender=self._bus.node_id)
            if not await self._bus.publish(topic, sent):
                raise Unavailable(f"nobody serves {topic}", {"topic": topic})
            try:
                async with asyncio.timeout(timeout_s):
                    return await fut
            except TimeoutError:
                raise Unavailable(f"no reply from {topic} within {timeout_s:g} s",
                                  {"topic": topic}) from None
        finally:
            del self._pending[corr]

    async def reply(self, request: Envelope, env: Envelope) -> None:
        if not request.reply_to:
            raise InvalidInput("the message asked for no reply")
        await self._bus.publish(request.reply_to, replace(
            env, kind=Kind.REPLY, corr=request.corr, sender=self._bus.node_id))

    async def aclose(self) -> None:
        if self._sub is not None:
            await self._bus.unsubscribe(self._sub)
        if self._task is not None:
            self._task.cancel()
            await end_of(self._task)
        for fut in self._pending.values():
            fut.cancel()


class LocalBus:
    """One process: publish hands the envelope itself to each subscriber's queue (no encoding).
    `directory` answers the fencing check."""

    def __init__(self, directory: LocalDirectory | None = None, node_id: str = "local") -> None:
        self.node_id = node_id
        self._directory = directory
        self._topics: dict[str, set[Subscription]] = {}
        self._requests = Requests(self)

    def as_node(self, node_id: str) -> LocalBus:
        """Another handle on the same topics, speaking as `node_id` (several simulated nodes
        in one process, e.g. tests and the single-process cluster)."""
        other = LocalBus(self._directory, node_id)
        other._topics = self._topics
        return other

    async def publish(self, topic: str, env: Envelope, fence: Lease | None = None) -> int:
        check_topic(topic)
        if len(env.body) > MAX_BODY:
            raise MessageTooLarge(f"bus message of {len(env.body)} bytes (max {MAX_BODY})")
        if fence is not None:
            if self._directory is None:
                raise InvalidInput("a fenced publish needs the bus's directory")
            if not self._directory.is_current(fence):
                raise lost(fence, self._directory.epoch_of(fence.meeting))
        reached = 0
        subs = self._topics.get(topic, set())
        for sub in list(subs):
            if sub.offer(env):
                reached += 1
            elif sub.state == "closed":
                subs.discard(sub)  # cut off as too slow: it resubscribes if it wants more
        return reached

    async def subscribe(self, topic: str, maxsize: int = DEFAULT_QUEUE) -> Subscription:
        sub = Subscription(check_topic(topic), maxsize)
        self._topics.setdefault(topic, set()).add(sub)
        return sub

    async def unsubscribe(self, sub: Subscription) -> None:
        sub.cut(None)
        subs = self._topics.get(sub.topic)
        if subs is not None:
            subs.discard(sub)
            if not subs:
                del self._topics[sub.topic]

    async def request(self, topic: str, env: Envelope, timeout_s: float) -> Envelope:
        return await self._requests.request(topic, env, timeout_s)

    async def reply(self, request: Envelope, env: Envelope) -> None:
        await self._requests.reply(request, env)

    async def aclose(self) -> None:
        await self._requests.aclose()
        for subs in list(self._topics.values()):
            for sub in list(subs):
                await self.unsubscribe(sub)
