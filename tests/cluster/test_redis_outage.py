"""Redis away, hung, and back: every call fails with `Unavailable` within its bound (never a
hang), subscribers notice and resubscribe by themselves, and everything heals when Redis
returns. A redis-server of the test's own, stopped, frozen (SIGSTOP) and restarted on the same
port. Each call is wrapped in a hang guard far above its bound: only a hang reaches it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable
from typing import TypeVar

import pytest

from mirp.cluster.bus import Envelope, Kind, Subscription
from mirp.cluster.directory import Lease, NodeInfo
from mirp.cluster.redis_bus import RedisBus
from mirp.cluster.redis_common import connect
from mirp.cluster.redis_directory import RedisDirectory
from mirp.errors import Unavailable
from tests.support.redis import RedisServer, dead_url
from tests.support.wait import Seen, until

pytestmark = pytest.mark.redis

BOUND_S = 0.5
HANG_GUARD_S = 15.0
T = TypeVar("T")


async def guarded(call: Awaitable[T]) -> T:
    async with asyncio.timeout(HANG_GUARD_S):
        return await call


@pytest.fixture
async def parts(own_redis: RedisServer) -> AsyncIterator[tuple[RedisDirectory, RedisBus, RedisBus]]:
    d = RedisDirectory(own_redis.url, bound_s=BOUND_S)
    pub = RedisBus(own_redis.url, node_id="origin", bound_s=BOUND_S, ping_s=0.2)
    edge = RedisBus(own_redis.url, node_id="edge", bound_s=BOUND_S, ping_s=0.2)
    yield d, pub, edge
    for part in (edge, pub, d):
        await part.aclose()


async def test_nothing_listening_is_unavailable() -> None:
    url = dead_url()
    d = RedisDirectory(url, bound_s=BOUND_S)
    bus = RedisBus(url, node_id="n", bound_s=BOUND_S)
    try:
        with pytest.raises(Unavailable):
            await guarded(d.heartbeat(NodeInfo("n", "x"), 5))
        with pytest.raises(Unavailable):
            await guarded(d.acquire("m", "n", 5))
        with pytest.raises(Unavailable):
            await guarded(bus.publish("t", Envelope(Kind.EVENT, "n", b"")))
        with pytest.raises(Unavailable):
            await guarded(bus.subscribe("t"))
    finally:
        await bus.aclose()
        await d.aclose()


async def test_redis_stopped_then_restarted(
        own_redis: RedisServer, parts: tuple[RedisDirectory, RedisBus, RedisBus]) -> None:
    d, pub, edge = parts
    sub = await edge.subscribe("room.m1.events")
    for _ in range(3):
        lease = await d.acquire("m2", "n1", 60)
    assert lease.epoch == 3
    await pub.publish("room.m1.events", Envelope(Kind.EVENT, "origin", b"before", seq=1))
    assert (await guarded(sub.get())).body == b"before"

    own_redis.stop()
    with pytest.raises(Unavailable):
        await guarded(pub.publish("room.m1.events", Envelope(Kind.EVENT, "origin", b"")))
    with pytest.raises(Unavailable):
        await guarded(d.place("m1", 5))
    await until(lambda: sub.state == "reconnecting" or Seen(sub.state),
                "the subscriber to notice Redis gone")

    own_redis.start()  # same port, empty (no persistence): the cluster rebuilds its state
    await until(lambda: sub.state == "live" or Seen(sub.state), "the subscriber to come back")
    assert sub.gaps == 1
    await guarded(d.heartbeat(NodeInfo("n1", "127.0.0.1:1"), 5))
    assert (await guarded(d.place("m1", 5))).node_id == "n1"  # scripts loaded again
    # Redis came back empty: the epoch counter too. The next holder passes the highest epoch
    # it saw, so the fence still only grows.
    assert (await guarded(d.acquire("m2", "n1", 5, after=lease.epoch))).epoch == lease.epoch + 1
    await guarded(pub.publish("room.m1.events", Envelope(Kind.EVENT, "origin", b"after", seq=2)))
    assert (await guarded(sub.get())).body == b"after"


async def test_redis_hung_bounds_every_call_and_thaws(
        own_redis: RedisServer, parts: tuple[RedisDirectory, RedisBus, RedisBus]) -> None:
    d, pub, edge = parts
    sub = await edge.subscribe("t")
    lease = await d.acquire("m1", "n1", 60)
    own_redis.freeze()
    try:
        with pytest.raises(Unavailable):
            await guarded(d.renew(lease, 60))
        with pytest.raises(Unavailable):
            await guarded(pub.publish("t", Envelope(Kind.EVENT, "origin", b""), fence=lease))
        await until(lambda: sub.state == "reconnecting" or Seen(sub.state),
                    "the subscriber to notice Redis stopped answering")
    finally:
        own_redis.thaw()
    await until(lambda: sub.state == "live" or Seen(sub.state), "the subscriber to come back")
    await until(lambda: _renews(d, lease), "renewals to work again")
    await guarded(pub.publish("t", Envelope(Kind.EVENT, "origin", b"thawed"), fence=lease))
    assert await _first_body(sub, b"thawed")


async def _renews(d: RedisDirectory, lease: Lease) -> object:
    try:
        return await d.renew(lease, 60)
    except Unavailable as exc:
        return Seen(exc.message)


async def _first_body(sub: Subscription, body: bytes) -> bool:
    """Skips what was in flight when Redis froze (delivered late or not at all)."""
    while True:
        env = await guarded(sub.get())
        if env.body == body:
            return True


async def test_garbage_on_a_channel_is_counted_and_never_delivered(
        parts: tuple[RedisDirectory, RedisBus, RedisBus], own_redis: RedisServer) -> None:
    _, pub, edge = parts
    sub = await edge.subscribe("t")
    raw = connect(own_redis.url)
    try:
        await raw.publish(edge.keys.channel("t"), b"\x07not an envelope")
    finally:
        await raw.aclose()
    await pub.publish("t", Envelope(Kind.EVENT, "origin", b"good"))
    assert (await guarded(sub.get())).body == b"good"
    assert edge.dropped == 1
