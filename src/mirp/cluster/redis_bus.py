"""The Bus on Redis pub/sub.

Publishing goes through a bounded client (Redis away or hung: `Unavailable` within `bound_s`);
a fenced publish is a Lua script that compares the meeting's lease with the publisher's and
PUBLISHes in the same atomic step. Receiving: one pub/sub connection per RedisBus, read by one
pump task that hands each message to the local subscriptions of its channel (bounded queues,
see `Subscription`). The pump pings the connection every `ping_s`; when Redis drops or stops
answering it marks the subscriptions "reconnecting", reconnects with a capped back-off,
subscribes every channel again and marks them "live" with one more `gap` (Redis pub/sub keeps
nothing for an absent subscriber).
"""

from __future__ import annotations

import asyncio
import logging
import time

import redis.asyncio as redis
from redis.asyncio.client import PubSub

from mirp.cluster.bus import (
    DEFAULT_QUEUE,
    MAX_BODY,
    Envelope,
    Requests,
    Subscription,
    check_topic,
)
from mirp.cluster.directory import Lease, lost
from mirp.cluster.redis_common import AWAY, DEFAULT_BOUND_S, Keys, bounded, connect, lease_value
from mirp.cluster.tasks import end_of
from mirp.errors import InvalidMessage, MessageTooLarge, Unavailable

log = logging.getLogger(__name__)

# KEYS: lease, epoch. ARGV: "<epoch> <node>", channel, message. -> {1, receivers} | {0, current}
FENCED_PUBLISH = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return {1, redis.call('PUBLISH', ARGV[2], ARGV[3])}
end
return {0, tonumber(redis.call('GET', KEYS[2]) or '0')}
"""

RETRY_MAX_S = 2.0  # the longest wait between two reconnection attempts


class RedisBus:
    def __init__(self, url: str, *, node_id: str, prefix: str = "mirp",
                 bound_s: float = DEFAULT_BOUND_S, ping_s: float = 1.0) -> None:
        self.node_id = node_id
        self.keys = Keys(prefix)
        self.bound_s, self.ping_s = bound_s, ping_s
        self._url = url
        self._redis: redis.Redis = connect(url, bound_s)
        self._fenced = self._redis.register_script(FENCED_PUBLISH)
        self._subs: dict[str, set[Subscription]] = {}  # by Redis channel
        self._confirmed: dict[str, asyncio.Event] = {}
        self._pubsub: PubSub | None = None
        self._listener: redis.Redis | None = None
        self._pump_task: asyncio.Task[None] | None = None
        self._closed = False
        self._requests = Requests(self)
        self.dropped = 0  # undecodable messages seen (counted, never delivered)

    async def publish(self, topic: str, env: Envelope, fence: Lease | None = None) -> int:
        channel = self.keys.channel(check_topic(topic))
        if len(env.body) > MAX_BODY:
            raise MessageTooLarge(f"bus message of {len(env.body)} bytes (max {MAX_BODY})")
        data = env.encode()
        async with bounded("publish", self.bound_s):
            if fence is None:
                return int(await self._redis.publish(channel, data))
            ok, n = await self._fenced(
                keys=[self.keys.lease(fence.meeting), self.keys.epoch(fence.meeting)],
                args=[lease_value(fence), channel, data])
        if not ok:
            raise lost(fence, int(n))
        return int(n)

    async def subscribe(self, topic: str, maxsize: int = DEFAULT_QUEUE) -> Subscription:
        channel = self.keys.channel(check_topic(topic))
        sub = Subscription(topic, maxsize)
        first = channel not in self._subs
        self._subs.setdefault(channel, set()).add(sub)
        try:
            async with bounded("subscribe", self.bound_s):
                if self._pump_task is None:
                    self._pump_task = asyncio.create_task(self._pump())
                if first:
                    event = self._confirmed.setdefault(channel, asyncio.Event())
                    if self._pubsub is not None:
                        await self._pubsub.subscribe(channel)
                    await event.wait()  # set by the pump on Redis's confirmation
        except BaseException:
            self._drop(sub, channel)
            raise
        return sub

    def _drop(self, sub: Subscription, channel: str) -> bool:
        """Forgets `sub`; True when its channel has no subscriber left."""
        subs = self._subs.get(channel)
        if subs is None:
            return False
        subs.discard(sub)
        if subs:
            return False
        del self._subs[channel]
        self._confirmed.pop(channel, None)
        return True

    async def unsubscribe(self, sub: Subscription) -> None:
        sub.cut(None)
        channel = self.keys.channel(sub.topic)
        if self._drop(sub, channel) and self._pubsub is not None:
            try:
                async with bounded("unsubscribe", self.bound_s):
                    await self._pubsub.unsubscribe(channel)
            except Unavailable:
                pass  # the connection is being replaced: the new one will not subscribe it

    async def request(self, topic: str, env: Envelope, timeout_s: float) -> Envelope:
        return await self._requests.request(topic, env, timeout_s)

    async def reply(self, request: Envelope, env: Envelope) -> None:
        await self._requests.reply(request, env)

    async def _pump(self) -> None:
        """Owns the pub/sub connection for the bus's life, reconnecting as long as it takes."""
        backoff = 0.05
        outage = False
        while not self._closed:
            listener = connect(self._url, self.bound_s)
            pubsub = listener.pubsub()
            try:
                async with bounded("resubscribe", self.bound_s):
                    await pubsub.ping()  # connects
                    channels = list(self._subs)
                    if channels:
                        await pubsub.subscribe(*channels)
                    self._pubsub, self._listener = pubsub, listener
                    missed = [c for c in self._subs if c not in channels]
                    if missed:  # subscribed while this connection was being made
                        await pubsub.subscribe(*missed)
                backoff = 0.05
                await self._read(pubsub, outage)
            except (Unavailable, *AWAY) as exc:
                if not outage:
                    log.warning("bus: redis away (%s); reconnecting", exc)
                outage = True
                self._pubsub = None
                for subs in self._subs.values():
                    for sub in subs:
                        if sub.state == "live":
                            sub.state = "reconnecting"
            finally:
                await _quietly_close(pubsub, listener)
            if not self._closed:
                await asyncio.sleep(backoff)  # a back-off between attempts, not a wait for state
                backoff = min(RETRY_MAX_S, backoff * 2)

    async def _read(self, pubsub: PubSub, after_outage: bool) -> None:
        last_heard = time.monotonic()
        last_ping = last_heard
        while not self._closed:
            msg = await pubsub.get_message(timeout=min(self.ping_s, 0.5))
            now = time.monotonic()
            if msg is None:
                if now - last_ping >= self.ping_s:
                    await pubsub.ping()
                    last_ping = now
                if now - last_heard > self.ping_s + self.bound_s:
                    raise Unavailable("redis stopped answering the bus's pings")
                continue
            last_heard = now
            kind = msg["type"]
            channel = msg["channel"].decode() if msg["channel"] else ""
            if kind == "message":
                self._deliver(channel, msg["data"])
            elif kind == "subscribe":
                event = self._confirmed.get(channel)
                if event is not None:
                    event.set()
                for sub in self._subs.get(channel, ()):
                    if sub.state == "reconnecting":
                        sub.state = "live"
                        if after_outage:
                            sub.gap()

    def _deliver(self, channel: str, data: bytes) -> None:
        try:
            env = Envelope.decode(data)
        except InvalidMessage as exc:
            self.dropped += 1
            log.warning("bus: dropped a bad message on %s: %s", channel, exc)
            return
        subs = self._subs.get(channel)
        if not subs:
            return
        for sub in list(subs):
            if not sub.offer(env) and sub.state == "closed":
                subs.discard(sub)

    async def aclose(self) -> None:
        await self._requests.aclose()
        self._closed = True
        if self._pump_task is not None:
            self._pump_task.cancel()
            await end_of(self._pump_task)
        for subs in list(self._subs.values()):
            for sub in list(subs):
                sub.cut(None)
        self._subs.clear()
        await self._redis.aclose()


async def _quietly_close(pubsub: PubSub, listener: redis.Redis) -> None:
    try:
        async with asyncio.timeout(1.0):
            await pubsub.aclose()  # type: ignore[no-untyped-call]
            await listener.aclose()
    except Exception:  # closing a dead connection: nothing to save
        pass
