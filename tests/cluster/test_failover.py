"""Failover (rooms/placement.py, host.py, remote.py, cluster/snapshots.py), nodes in one test
process, on LocalDirectory/LocalBus and on Redis: the origin dies and another node restores the
Room from the shared snapshot and takes the edges' Sessions over (a resumed welcome, the same
state, commands again); a paused old origin stays fenced after the restore; an edge dies and its
clients come back through another node; a draining node moves everyone."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as redis

from mirp.cluster.directory import Lease
from mirp.cluster.redis_directory import RedisDirectory
from mirp.cluster.snapshots import RedisSnapshots
from mirp.config import Limits, Settings
from mirp.errors import Conflict, MirpError, Unavailable
from mirp.journal import Journal
from mirp.rooms import actor
from mirp.rooms import commands as c
from mirp.rooms.durable import decode_room, encode_room, newest
from mirp.rooms.limits import RoomLimits
from mirp.rooms.placement import DRAIN_CLOSE
from mirp.rooms.registry import RoomRegistry
from mirp.rooms.remote import RemoteRoom
from mirp.rooms.room import Room
from tests.cluster.conftest import Cluster, fresh_prefix
from tests.cluster.failover_support import Node, state
from tests.rooms.test_runtime import SPEC, FakeSession, Plane, Store
from tests.support.redis import RedisServer
from tests.support.wait import Seen, until


@pytest.fixture
async def three(cluster: Cluster) -> AsyncIterator[tuple[Node, Node, Node]]:
    """origin (least loaded: placed first), spare, edge (most loaded: never placed on)."""
    store = Store()
    nodes = (await Node(cluster, "origin", store, load=0).start(),
             await Node(cluster, "spare", store, load=500).start(),
             await Node(cluster, "edge", store, load=1000).start())
    try:
        yield nodes
    finally:
        for node in reversed(nodes):
            await node.stop()


def welcomes(s: FakeSession) -> list[dict[str, Any]]:
    return s.of("welcome")


async def busy_meeting(origin: Node, edge: Node) -> dict[str, FakeSession]:
    """chair, d1, fr1 through the edge, d2 on the origin; fr1 on air, d2 asking for the floor
    that d1 holds (every command acked: its snapshot is stored)."""
    rooms = {k: await edge.enter(k) for k in ("chair", "d1", "fr1")}
    rooms["d2"] = await origin.enter("d2")
    for key, command in (("fr1", c.OnAir(True)), ("d1", c.FloorRequest()),
                         ("d2", c.FloorRequest()), ("chair", c.FloorGive("p_d1"))):
        room, s = rooms[key]
        await room.command(f"p_{key}", s, command, {"type": "ack", "id": key})
        assert s.of("ack")[-1] == {"type": "ack", "id": key}
    return {k: s for k, (_, s) in rooms.items()}


async def test_the_origin_dies_and_another_node_takes_the_room_over(
        three: tuple[Node, Node, Node]) -> None:
    origin, spare, edge = three
    sessions = await busy_meeting(origin, edge)
    old = origin.keeper.holds("m1")
    assert old is not None and "m1" in edge.door.remotes
    want = {"holders": ["p_d1"], "speakers": ["p_d2"], "on_air": {"fr": "p_fr1"}}
    assert state(origin.registry.rooms["m1"].room.snapshot("p_chair")) == want

    await origin.die()

    on_edge = [sessions[k] for k in ("chair", "d1", "fr1")]
    for s in on_edge:
        await until(partial(lambda s: len(welcomes(s)) == 2 or Seen(s.messages), s),
                    "a fresh welcome from the new origin")
    assert "m1" in spare.door.hosts  # placed on the least loaded live node
    new = spare.keeper.holds("m1")
    assert new is not None and new.epoch > old.epoch
    for s in on_edge:
        fresh = welcomes(s)[-1]
        assert fresh["resumed"] is True and s.closed is None
        assert state(fresh["room"]) == want
        assert fresh["seq"] >= welcomes(s)[0]["seq"]
    room = spare.registry.rooms["m1"].room
    assert all(room.participants[p].connected for p in ("p_chair", "p_d1", "p_fr1"))
    assert not room.participants["p_d2"].connected  # on the dead node: its grace period runs

    # d2's client, cut off with the dead node, comes back through the edge with its token
    _, d2 = await edge.enter("d2", name="back")
    assert state(welcomes(d2)[-1]["room"]) == want
    assert room.participants["p_d2"].connected
    on_edge.append(d2)

    chair_room = edge.door.remotes["m1"]
    await chair_room.command("p_chair", sessions["chair"], c.FloorGive("p_d2"),
                             {"type": "ack", "id": "again"})

    def given(s: FakeSession) -> Any:
        floors = [m for m in s.of("floor") if m["seq"] > welcomes(s)[-1]["seq"]]
        return (floors and "p_d2" in floors[-1]["holders"]) or Seen(s.messages[-3:])

    for s in on_edge:
        await until(partial(given, s), "the new origin's events on the edge")
    assert sessions["chair"].of("ack")[-1] == {"type": "ack", "id": "again"}


async def test_a_paused_origin_stays_fenced_after_the_restore(cluster: Cluster) -> None:
    """The origin's clock stands still and its Keeper never renews: it believes it holds the
    lease (a paused process). The lease expires, the edge places the meeting on the spare, which
    restores the Room. Then the old origin wakes and goes on: its events and its snapshots are
    refused by the fence, and the shared snapshot stays the new origin's."""
    store = Store()
    origin = await Node(cluster, "origin", store, load=0, clock=lambda: 0.0).start(keep=False)
    spare = await Node(cluster, "spare", store, load=500).start()
    edge = await Node(cluster, "edge", store, load=1000).start()
    try:
        chair_room, chair = await origin.enter("chair")
        d1_room, d1 = await edge.enter("d1")
        await d1_room.command("p_d1", d1, c.FloorRequest(), {"type": "ack", "id": 1})
        await until(lambda: "m1" in spare.door.hosts or Seen(spare.door.hosts),
                    "the lease expired and the meeting placed on the spare")
        await until(lambda: len(welcomes(d1)) == 2 or Seen(d1.messages), "d1 taken over")
        assert state(welcomes(d1)[-1]["room"])["speakers"] == ["p_d1"]

        # the old origin's chair gives the floor: refused by the fence, never applied anywhere
        # (or refused at once: the old origin may have been deposed already, answering the
        # edge's resync request that both it and the new origin heard)
        with contextlib.suppress(MirpError):
            await chair_room.command("p_chair", chair, c.FloorGive("p_chair"))
        host_lost = origin.door.hosts.get("m1")
        await until(lambda: origin.door.hosts.get("m1") is None or Seen(host_lost),
                    "the old origin deposed by the fence")
        writer = origin.registry.recorder.shared
        assert writer is not None
        await until(lambda: writer.refused >= 1 or Seen(writer.written),
                    "its snapshot refused by the fence")
        body = await spare.snapshots.get("m1")
        assert body is not None
        kept = decode_room(body, "m1")
        assert kept is not None and list(kept.room.floor.holders) == []  # not p_chair
        assert all(not m.get("holders") for m in d1.of("floor")
                   if m["seq"] > welcomes(d1)[-1]["seq"])
        await until(lambda: chair.closed is not None or Seen(chair.messages),
                    "the old origin's own Sessions closed (they reconnect)")
    finally:
        for node in (edge, spare, origin):
            await node.stop()


async def test_an_edge_dies_and_its_clients_come_back_through_another(
        three: tuple[Node, Node, Node]) -> None:
    origin, other, edge = three
    await origin.enter("chair")
    d1_room, d1 = await edge.enter("d1")
    await d1_room.command("p_d1", d1, c.Subscribe("fr"), {"type": "ack", "id": 1})
    await d1_room.command("p_d1", d1, c.FloorRequest(), {"type": "ack", "id": 2})
    participants = origin.registry.rooms["m1"].room.participants

    await edge.die()
    assert await origin.door.sweep() == []  # missing once: not judged yet
    await until(origin.door.sweep, "the dead edge's Sessions ended after two sweeps")
    assert not participants["p_d1"].connected  # its grace period runs

    _, back = await other.enter("d1", resume=d1.id, name="back")
    me = welcomes(back)[-1]["room"]["me"]
    assert me["channel"] == "fr" and me["connected"] is True
    assert state(welcomes(back)[-1]["room"])["speakers"] == ["p_d1"]
    assert participants["p_d1"].connected


async def test_a_draining_origin_hands_everyone_over(three: tuple[Node, Node, Node]) -> None:
    origin, spare, edge = three
    sessions = await busy_meeting(origin, edge)
    want = state(origin.registry.rooms["m1"].room.snapshot("p_chair"))

    await origin.door.drain()

    d2 = sessions["d2"]
    assert d2.closed is not None and d2.closed[0] == DRAIN_CLOSE  # reconnects elsewhere
    with pytest.raises(Unavailable) as refused:
        await origin.enter("d2", name="again")
    assert refused.value.details["reason"] == "draining"
    assert "m1" in spare.door.hosts and origin.keeper.holds("m1") is None
    assert "origin" not in [n.node_id for n in await origin.directory.nodes()]
    for key in ("chair", "d1", "fr1"):
        s = sessions[key]
        await until(partial(lambda s: len(welcomes(s)) == 2 or Seen(s.messages), s),
                    "the edge's Sessions taken over by the next origin")
        assert s.closed is None and welcomes(s)[-1]["resumed"] is True
        assert state(welcomes(s)[-1]["room"]) == want
    _, back = await edge.enter("d2", name="back")  # d2's client, reconnecting
    assert welcomes(back)[-1]["room"]["me"]["connected"] is True


async def test_a_draining_edge_moves_its_clients(three: tuple[Node, Node, Node]) -> None:
    origin, other, edge = three
    await origin.enter("chair")
    _, d1 = await edge.enter("d1")
    participants = origin.registry.rooms["m1"].room.participants
    remote = edge.door.remotes["m1"]
    assert isinstance(remote, RemoteRoom)

    await edge.door.drain()

    assert d1.closed is not None and d1.closed[0] == DRAIN_CLOSE
    await until(lambda: not participants["p_d1"].connected or Seen(participants["p_d1"]),
                "disconnected at the origin: its grace period runs")
    assert participants["p_d1"].lost_at is not None
    _, back = await other.enter("d1", resume=d1.id, name="back")
    assert welcomes(back)[-1]["resumed"] is True
    with pytest.raises(Unavailable):
        await edge.enter("d2")


async def test_the_shared_snapshot_is_fenced_by_the_lease(cluster: Cluster) -> None:
    directory, store = cluster.directory(), cluster.snapshots()
    first = await directory.acquire("m9", "a", 0.3)
    await store.put(first, b"one")
    assert await store.get("m9") == b"one"
    second: Lease = await until(lambda: directory.acquire("m9", "b", 30.0),
                                "the first lease expired", tolerate=(Conflict,))
    with pytest.raises(Conflict):
        await store.put(first, b"stale")
    await store.put(second, b"two")
    assert await store.get("m9") == b"two"
    await store.put(second, None)
    assert await store.get("m9") is None


async def test_a_restarted_node_leaves_its_journals_rooms_to_their_lease(
        cluster: Cluster, tmp_path: Path) -> None:
    """A node starting with rooms in its journal does not reopen them by itself in a cluster
    (their meeting may have moved: the lease decides); the room is restored from the newest
    snapshot, that journal's here, when the lease brings the meeting to it."""
    path = tmp_path / "journal.bin"
    journal = Journal(path)
    journal.open()
    alone = RoomRegistry(settings=Settings(limits=Limits(reconnect_grace_s=30.0)),
                         media=Plane(), store=Store(), idle_close_s=60, journal=journal)
    await alone.join(await alone.authorize("chair"), FakeSession("first"))
    await alone.close()  # suspended into the journal, as a restart leaves it

    node = Node(cluster, "a", Store(), load=0, journal=path)
    try:
        await asyncio.gather(*list(actor._background))  # what its start scheduled, done
        assert node.registry.rooms == {}
        await node.start()
        _, chair = await node.enter("chair")
        assert welcomes(chair)[-1]["room"].get("restored") is True
    finally:
        await node.stop()


@pytest.mark.redis
async def test_a_snapshot_without_a_good_seal_is_never_unpickled(
        redis_server: RedisServer) -> None:
    """Whoever can write to Redis cannot make a node unpickle what it wrote: a body sealed
    with another key, or written raw, reads as no snapshot."""
    prefix = fresh_prefix()
    directory = RedisDirectory(redis_server.url, prefix=prefix)
    ours = RedisSnapshots(redis_server.url, key=b"ours", prefix=prefix)
    theirs = RedisSnapshots(redis_server.url, key=b"theirs", prefix=prefix)
    raw = redis.Redis.from_url(redis_server.url)
    try:
        lease = await directory.acquire("m1", "a", 30.0)
        await theirs.put(lease, b"a pickle of theirs")
        assert await theirs.get("m1") == b"a pickle of theirs"
        assert await ours.get("m1") is None
        await raw.set(f"{prefix}:snapshot:m1", b"x" * 40)
        assert await ours.get("m1") is None
        await ours.put(lease, b"ours")
        assert await ours.get("m1") == b"ours"
    finally:
        await raw.aclose()
        for closing in (ours, theirs, directory):
            await closing.aclose()


async def test_the_newest_snapshot_is_restored() -> None:
    """The journal's or the cluster's, whichever has the higher event counter (an unreadable
    one is skipped)."""
    room = Room(SPEC, RoomLimits())
    older, newer = encode_room(room, 5), encode_room(room, 9)
    assert (found := newest("m1", older, newer)) is not None and found.seq == 9
    assert (found := newest("m1", newer, None, older)) is not None and found.seq == 9
    assert (found := newest("m1", b"not a snapshot", older)) is not None and found.seq == 5
    assert newest("m1", None, None) is None
