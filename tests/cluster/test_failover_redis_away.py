"""Redis away (docs/cluster-sessions.md, "Redis away"): a redis-server of the test's own is
frozen (SIGSTOP: unreachable, its keys expiring meanwhile) or stopped and started again empty,
for longer than the lease TTL. The origin keeps serving its own Sessions (a command acked, the
Room changed); when Redis returns the origin takes its expired lease again, is not deposed, and
the edge's Session is brought up to date by a resync (a resumed welcome), never closed."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from mirp.rooms import commands as c
from mirp.rooms.durable import decode_room
from tests.cluster.conftest import Cluster
from tests.cluster.failover_support import Node, state
from tests.rooms.test_runtime import Store
from tests.support.redis import RedisServer
from tests.support.wait import Seen, until

pytestmark = pytest.mark.redis


@pytest.fixture
async def pair(own_redis: RedisServer) -> AsyncIterator[tuple[Node, Node]]:
    cluster, store = Cluster("redis", own_redis.url), Store()
    origin = await Node(cluster, "origin", store, load=0).start()
    edge = await Node(cluster, "edge", store, load=1000).start()
    try:
        yield origin, edge
    finally:
        own_redis.thaw() if own_redis.proc is not None else own_redis.start()
        await edge.stop()
        await origin.stop()
        await cluster.aclose()


@pytest.mark.parametrize("outage", ["frozen", "restarted empty"])
async def test_the_origin_serves_through_an_outage_and_keeps_its_meeting(
        own_redis: RedisServer, pair: tuple[Node, Node], outage: str) -> None:
    origin, edge = pair
    chair_room, chair = await origin.enter("chair")
    _, d1 = await edge.enter("d1")
    old = origin.keeper.holds("m1")
    assert old is not None

    if outage == "frozen":
        own_redis.freeze()
    else:
        own_redis.stop()
    await until(lambda: origin.keeper.state("m1") == "unproven" or
                Seen(origin.keeper.state("m1")), "the lease unproven (past its TTL)")
    await chair_room.command("p_chair", chair, c.FloorGive("p_chair"), {"type": "ack", "id": 1})
    assert chair.of("ack") == [{"type": "ack", "id": 1}]  # served meanwhile, locally
    assert chair.of("floor")[-1]["holders"] == ["p_chair"]
    if outage == "frozen":
        own_redis.thaw()
    else:
        own_redis.start()

    def taken_again() -> object:
        held = origin.keeper.holds("m1")
        return (held is not None and held.epoch > old.epoch) or Seen(held)

    await until(taken_again, "the origin's lease taken again with a newer epoch")
    await until(lambda: (len(d1.of("welcome")) >= 2 and
                         state(d1.of("welcome")[-1]["room"])["holders"] == ["p_chair"])
                or Seen(d1.messages[-2:]), "the edge's Session brought up to date")
    assert d1.closed is None and chair.closed is None
    assert d1.of("welcome")[-1]["resumed"] is True
    assert "m1" in origin.door.hosts and "m1" not in edge.door.hosts

    async def stored() -> object:  # the change made meanwhile, where a next origin reads it
        body = await origin.snapshots.get("m1")
        kept = decode_room(body, "m1") if body is not None else None
        return (kept is not None and list(kept.room.floor.holders) == ["p_chair"]) or Seen(kept)

    await until(stored, "the shared snapshot up to date")
