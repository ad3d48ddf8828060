"""Media after a failover (rooms/remote.py `_peer_again`, rooms/edge_media.py, media/relay.py):
nodes in one test process with real LocalPlanes and aiortc peers, as tests/cluster/
test_edge_media.py. The origin dies; the spare restores the Room from the shared snapshot; the
edge counts its peers again with the new origin, which relays the feeds to it (its higher epoch
wins at the edge) while the edge forwards its speaker's microphone to the new origin. The
listener on the edge keeps its peer connection and hears its channel again, by FFT."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.cluster.conftest import Cluster
from tests.cluster.test_edge_media import MoreStore, Node, floor_to, hears
from tests.support.wait import Seen, until

pytestmark = [pytest.mark.rtc]


@pytest.fixture
async def three(cluster: Cluster) -> AsyncIterator[tuple[Node, Node, Node]]:
    """origin (least loaded: placed first), spare (takes over), edge (most loaded)."""
    store = MoreStore()
    started: list[Node] = []
    try:
        for name, load in (("origin", 0), ("spare", 500), ("edge", 1000)):
            started.append(await Node(cluster, name, store, load, shared=True).start())
        yield started[0], started[1], started[2]
    finally:
        for node in reversed(started):
            if node.name != "origin" or "dead" not in node.__dict__:
                await node.stop()


async def die(node: Node) -> None:
    """What a crash leaves: no lease renewed, nothing more relayed nor published."""
    node.__dict__["dead"] = True
    await node.keeper.stop(leave=False)
    await node.door.close()
    for client in node.clients:
        await client.close()
    await node.registry.close()
    await node.plane.close()


async def test_after_the_origin_dies_the_edges_listeners_hear_their_channel_again(
        three: tuple[Node, Node, Node]) -> None:
    origin, spare, edge = three
    chair = await edge.enter("chair")
    d2 = await edge.enter("d2")
    d3 = await edge.enter("d3")
    d1 = await origin.enter("d1")
    await d1.peer()
    await d2.peer(660)
    listener = await d3.peer()
    pc = listener.pc
    await floor_to(chair, d2)
    await hears(d3.client, 660, "the edge's listener hears the edge's speaker via the origin")
    old = origin.keeper.holds("m1")
    assert old is not None

    await die(origin)

    async def taken() -> Any:
        new = spare.keeper.holds("m1")
        return (new is not None and new.epoch > old.epoch and "m1" in spare.door.hosts
                and spare.registry.rooms["m1"].media.has_peer("p_d3")
                and spare.registry.rooms["m1"].media.has_peer("p_d2")) or Seen(new)

    await until(taken, "the spare holds the meeting and counts the edge's peers", within=30.0)
    await hears(d3.client, 660, "the edge's listener hears the speaker again, through the spare")
    assert listener.pc is pc and pc.connectionState == "connected"  # never renegotiated

    async def relayed() -> Any:
        e, s = await edge.stats(), await spare.stats()
        ok = (e.engine.encoders == 0 and e.engine.decoding == 0 and s.relay.links == 1
              and e.relay.sources_out == 1 and s.relay.sources_in == 1)
        return ok or Seen((e.engine, e.relay, s.relay))

    await until(relayed, "the spare mixes and encodes; the edge forwards and fans out")


async def test_an_edge_that_takes_the_meeting_over_keeps_its_own_and_the_others_listeners(
        three: tuple[Node, Node, Node]) -> None:
    """Three nodes, as three processes run it: the new origin is one of the edges (the least
    loaded live one), whose own Sessions stay edge Sessions of the Room now next door."""
    origin, spare, edge = three  # spare: an edge with Sessions of its own, the next origin
    chair = await spare.enter("chair")
    d2 = await edge.enter("d2")
    d3 = await edge.enter("d3")
    d4 = await spare.enter("d4")
    await d2.peer(660)
    await d3.peer()
    on_spare = await d4.peer()
    await floor_to(chair, d2)
    await hears(d3.client, 660, "the edge's listener hears the floor")
    await hears(d4.client, 660, "the spare's listener hears the floor")
    pcs = (d3.client and d3.client.pc, on_spare.pc)

    await die(origin)

    async def taken() -> Any:
        runtime = spare.registry.rooms.get("m1")
        return (runtime is not None and "m1" in spare.door.hosts
                and all(runtime.media.has_peer(p) for p in ("p_d2", "p_d3", "p_d4"))
                ) or Seen(runtime and runtime.media.feed_of)

    await until(taken, "the spare hosts the meeting and counts every peer", within=30.0)
    await hears(d3.client, 660, "the edge's listener hears the floor again")
    await hears(d4.client, 660, "the new origin's own listener hears the floor again")
    assert (d3.client and d3.client.pc, on_spare.pc) == pcs
