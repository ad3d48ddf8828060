"""An edge resyncs as soon as its Bus subscription is live again after an outage
(rooms/remote.py `_bus_gap`, cluster/bus.py `Subscription.on_gap`), not at the meeting's next
event, which may come much later. A redis-server of the test's own is frozen (SIGSTOP) for less
than the lease TTL: the lease outlives it (same epoch: no takeover, no lease watch follows), but
the edge's subscription was re-established, and the floor given on the origin meanwhile never
reached the edge. Once Redis thaws, the edge's Session gets a fresh welcome with that floor
with nothing else happening in the meeting."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from mirp.rooms import commands as c
from mirp.rooms.remote import RemoteRoom
from tests.cluster.conftest import Cluster
from tests.cluster.failover_support import Node, state
from tests.rooms.test_runtime import Store
from tests.support.redis import RedisServer
from tests.support.wait import Seen, until

pytestmark = pytest.mark.redis

TTL_S = 10.0  # far longer than the freeze: the lease survives it


@pytest.fixture
async def pair(own_redis: RedisServer) -> AsyncIterator[tuple[Node, Node]]:
    cluster, store = Cluster("redis", own_redis.url), Store()
    origin = await Node(cluster, "origin", store, load=0, ttl_s=TTL_S).start()
    edge = await Node(cluster, "edge", store, load=1000, ttl_s=TTL_S).start()
    try:
        yield origin, edge
    finally:
        if own_redis.proc is not None:
            own_redis.thaw()
        await edge.stop()
        await origin.stop()
        await cluster.aclose()


async def test_the_edge_resyncs_once_its_subscription_is_back(
        own_redis: RedisServer, pair: tuple[Node, Node]) -> None:
    origin, edge = pair
    chair_room, chair = await origin.enter("chair")
    _, d1 = await edge.enter("d1")
    lease = origin.keeper.holds("m1")
    remote = edge.door.remotes["m1"]
    assert lease is not None and isinstance(remote, RemoteRoom)
    sub = remote._sub
    assert sub is not None

    own_redis.freeze()
    try:
        await until(lambda: sub.state == "reconnecting" or Seen(sub.state),
                    "the edge's subscription notices Redis stopped answering")
        await chair_room.command("p_chair", chair, c.FloorGive("p_chair"),
                                 {"type": "ack", "id": 1})  # served locally: lost for the edge
    finally:
        own_redis.thaw()

    await until(lambda: (len(d1.of("welcome")) >= 2 and
                         state(d1.of("welcome")[-1]["room"])["holders"] == ["p_chair"])
                or Seen(d1.messages[-2:]), "the edge's Session brought up to date at once")
    assert d1.closed is None and d1.of("welcome")[-1]["resumed"] is True
    held = origin.keeper.holds("m1")
    assert held is not None and held.epoch == lease.epoch  # no takeover made it resync
    assert remote.resyncs == 1 and sub.gaps == 1
