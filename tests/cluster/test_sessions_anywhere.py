"""Sessions anywhere (rooms/placement.py, host.py, remote.py): two nodes in one test process,
each with its own RoomRegistry (the real Room and RoomRuntime, the recording plane and store of
tests/rooms/test_runtime.py), its own Directory and Bus handles on one store: LocalDirectory and
LocalBus, and RedisDirectory and RedisBus on the suite's real redis-server. The origin is the
least loaded node (placement); Sessions on the edge reach the Room through the Bus."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from functools import partial
from typing import Any

import pytest

from mirp.cluster.bus import Envelope, Kind
from mirp.cluster.directory import Lease, NodeInfo, NodeLoad
from mirp.cluster.keeper import Keeper
from mirp.config import Limits, Settings
from mirp.errors import Conflict, Forbidden, MirpError, TooSlow, Unavailable
from mirp.rooms import commands as c
from mirp.rooms import hop
from mirp.rooms.door import JoinedRoom
from mirp.rooms.placement import ClusterDoor, ClusterNode
from mirp.rooms.registry import RoomRegistry
from tests.cluster.conftest import Cluster
from tests.rooms.test_runtime import FakeSession, Plane, Store
from tests.support.wait import Seen, until

TTL_S = 3.0


class Node:
    def __init__(self, cluster: Cluster, name: str, store: Store, load: int, *,
                 ttl_s: float = TTL_S, clock: Callable[[], float] = time.monotonic) -> None:
        self.name = name
        self.directory = cluster.directory()
        self.bus = cluster.bus(name)
        self.registry = RoomRegistry(settings=Settings(limits=Limits(reconnect_grace_s=30.0)),
                                     media=Plane(), store=store, idle_close_s=60)
        info = NodeInfo(name, "127.0.0.1:0", NodeLoad(listeners=load))
        self.keeper = Keeper(self.directory, lambda: info, ttl_s=ttl_s, clock=clock,
                             on_lost=lambda lease, exc: self.door.lease_lost(lease, exc))
        self.door = ClusterDoor(self.registry, ClusterNode(
            name, self.directory, self.bus, self.keeper, ttl_s, request_timeout_s=3.0,
            sweep_s=3600.0, watch_s=3600.0))  # the tests sweep (and never re-place) by hand

    async def start(self, *, keep: bool = True) -> Node:
        await self.keeper.round()  # in the Directory now (placement sees it)
        if keep:
            self.keeper.start()
        await self.door.start()
        return self

    async def enter(self, token: str) -> tuple[JoinedRoom, FakeSession]:
        session = FakeSession(f"{self.name}_{token}")
        grant = await self.door.authorize(token, "m1")
        room = await self.door.join(grant, session)
        assert session.of("welcome"), "join returns once the welcome was handed over"
        return room, session

    async def stop(self) -> None:
        await self.door.close()
        await self.keeper.stop(leave=False)
        await self.registry.close()


@pytest.fixture
async def nodes(cluster: Cluster) -> AsyncIterator[tuple[Node, Node]]:
    store = Store()
    origin = await Node(cluster, "origin", store, load=0).start()
    edge = await Node(cluster, "edge", store, load=1000).start()
    try:
        yield origin, edge
    finally:
        await edge.stop()
        await origin.stop()


def after(session: FakeSession, seq: int, kind: str) -> list[dict[str, Any]]:
    return [m for m in session.of(kind) if m["seq"] > seq]


def welcome_seq(session: FakeSession) -> int:
    return int(session.of("welcome")[-1]["seq"])


async def test_a_chair_on_the_edge_gives_the_floor_seen_alike_everywhere(
        nodes: tuple[Node, Node]) -> None:
    origin, edge = nodes
    chair_room, chair = await edge.enter("chair")  # the first join: lands on the edge
    assert "m1" in origin.door.hosts and "m1" in edge.door.remotes
    assert origin.keeper.holds("m1") is not None
    d1_room, d1 = await origin.enter("d1")
    d2_room, d2 = await edge.enter("d2")
    since = max(welcome_seq(s) for s in (chair, d1, d2))
    await d2_room.command("p_d2", d2, c.FloorRequest(), {"type": "ack", "id": 7})
    await d1_room.command("p_d1", d1, c.FloorRequest())
    await chair_room.command("p_chair", chair, c.FloorGive("p_d1"), {"type": "ack", "id": 1})

    def given(s: FakeSession) -> Any:
        floors = after(s, since, "floor")
        return (floors and floors[-1]["holders"] == ["p_d1"]) or Seen(floors)

    for s in (chair, d1, d2):
        await until(partial(given, s), "the floor given, seen by everyone")
    seen = {k: [(m["seq"], m["holders"], m["speakers"]) for m in after(s, since, "floor")]
            for k, s in (("chair", chair), ("d1", d1), ("d2", d2))}
    assert seen["chair"] == seen["d1"] == seen["d2"]
    assert [[s["participant_id"] for s in e[2]] for e in seen["d1"]][:2] == [
        ["p_d2"], ["p_d2", "p_d1"]]
    assert d2.of("ack") == [{"type": "ack", "id": 7}]
    assert chair.of("ack") == [{"type": "ack", "id": 1}]
    ack_at = chair.messages.index({"type": "ack", "id": 1})
    last_floor = chair.messages.index(after(chair, since, "floor")[-1])
    assert ack_at < last_floor  # the ack precedes the events its command caused


async def test_the_speakers_list_is_one_order_on_both_nodes(nodes: tuple[Node, Node]) -> None:
    origin, edge = nodes
    chair_room, chair = await origin.enter("chair")
    rooms = {"d1": await edge.enter("d1"), "d2": await origin.enter("d2"),
             "fr1": await edge.enter("fr1")}
    for key in ("d2", "d1"):
        room, s = rooms[key]
        await room.command(f"p_{key}", s, c.FloorRequest())
    await chair_room.command("p_chair", chair, c.SpeakersReorder(("p_d1", "p_d2")))
    want = ["p_d1", "p_d2"]

    def speakers(s: FakeSession) -> Any:
        floors = s.of("floor")
        got = [e["participant_id"] for e in floors[-1]["speakers"]] if floors else None
        return got == want or Seen(got)

    for s in (chair, rooms["d1"][1], rooms["d2"][1], rooms["fr1"][1]):
        await until(partial(speakers, s), "the reordered speakers list")


async def test_a_refused_command_is_the_same_error_on_the_edge(
        nodes: tuple[Node, Node]) -> None:
    origin, edge = nodes
    await origin.enter("chair")
    local_room, d1 = await origin.enter("d1")
    remote_room, d2 = await edge.enter("d2")
    refused: list[MirpError] = []
    for room, pid, s in ((local_room, "p_d1", d1), (remote_room, "p_d2", d2)):
        with pytest.raises(MirpError) as info:
            await room.command(pid, s, c.FloorGive("p_d1"), {"type": "ack", "id": 3})
        refused.append(info.value)
    local, remote = refused
    assert isinstance(remote, Forbidden)
    assert (type(remote), remote.code, remote.message, remote.details) == (
        type(local), local.code, local.message, local.details)
    assert d2.of("ack") == [] and d1.of("ack") == []
    with pytest.raises(Unavailable, match="relays no media"):  # a node without relay_host
        await remote_room.offer("p_d2", d2, "v=0")


async def test_a_missing_stream_number_makes_the_edge_resync(nodes: tuple[Node, Node]) -> None:
    origin, edge = nodes
    chair_room, chair = await origin.enter("chair")
    d2_room, d2 = await edge.enter("d2")
    origin.door.hosts["m1"].sent += 1  # as if a message were lost on the way
    await chair_room.command("p_chair", chair, c.FloorGive("p_chair"))
    await until(lambda: len(d2.of("welcome")) == 2 or Seen(d2.messages), "a fresh welcome")
    fresh = d2.of("welcome")[-1]
    assert fresh["resumed"] is True and fresh["seq"] >= chair.of("floor")[-1]["seq"]
    assert fresh["room"]["floor"]["holders"] == ["p_chair"]  # the lost event, folded in
    assert edge.door.remotes["m1"].resyncs == 1
    await d2_room.command("p_d2", d2, c.FloorRequest())  # the stream goes on after it
    await until(lambda: after(d2, fresh["seq"], "floor") or Seen(d2.messages),
                "events after the resync")
    assert d2.closed is None


async def test_the_bus_reconnecting_or_cutting_the_edge_off_makes_it_resync(
        nodes: tuple[Node, Node]) -> None:
    origin, edge = nodes
    chair_room, chair = await origin.enter("chair")
    _, d2 = await edge.enter("d2")
    remote = edge.door.remotes["m1"]
    sub = remote._sub
    assert sub is not None
    sub.gaps += 1  # what the Bus reports after a reconnection: messages may be lost
    await chair_room.command("p_chair", chair, c.FloorGive("p_chair"))
    await until(lambda: len(d2.of("welcome")) == 2 or Seen(d2.messages), "a resync")
    sub.cut(TooSlow("behind"))  # cut off as too slow: subscribed again, then resynced
    await until(lambda: len(d2.of("welcome")) == 3 or Seen(d2.messages), "a second resync")
    assert remote._sub is not sub
    await chair_room.command("p_chair", chair, c.FloorWithdraw())  # the stream goes on

    def withdrawn() -> Any:
        floors = after(d2, welcome_seq(d2), "floor")
        return (floors and floors[-1]["holders"] == []) or Seen(d2.messages)

    await until(withdrawn, "the events after the second resync")
    assert remote.resyncs == 2 and d2.closed is None


async def test_an_origin_cut_off_from_its_requests_serves_them_again(
        nodes: tuple[Node, Node]) -> None:
    origin, edge = nodes
    await origin.enter("chair")
    d2_room, d2 = await edge.enter("d2")
    host = origin.door.hosts["m1"]
    cut = host._sub
    assert cut is not None
    cut.cut(TooSlow("behind"))
    await until(lambda: host._sub is not cut or Seen(host._sub), "subscribed again")
    await d2_room.command("p_d2", d2, c.FloorRequest(), {"type": "ack", "id": 2})
    await until(lambda: d2.of("ack") or Seen(d2.messages), "the command served")


async def test_the_sessions_of_a_dead_edge_end_at_the_origin(
        nodes: tuple[Node, Node]) -> None:
    origin, edge = nodes
    await origin.enter("chair")
    await edge.enter("d2")
    participants = origin.registry.rooms["m1"].room.participants
    assert await origin.door.sweep() == []  # the edge is alive
    await edge.keeper.stop(leave=True)  # what the edge's death looks like, minus the TTL
    assert await origin.door.sweep() == []  # missing once: not judged yet
    assert await origin.door.sweep() == ["p_d2"]
    assert not origin.door.hosts["m1"].stand_ins
    await until(lambda: not participants["p_d2"].connected or Seen(participants["p_d2"]),
                "d2 disconnected at the origin (its grace period running)")
    assert participants["p_chair"].connected


async def test_a_reconnect_on_the_other_node_replaces_the_edge_session(
        nodes: tuple[Node, Node]) -> None:
    origin, edge = nodes
    await origin.enter("chair")
    _, first = await edge.enter("d2")
    _, second = await origin.enter("d2")
    await until(lambda: first.closed or Seen(first.messages), "the edge's Session replaced")
    assert first.closed is not None and first.closed[0] == Conflict.ws_close
    assert first.of("error") == [{"type": "error", "code": "conflict"}]
    assert second.closed is None
    await until(lambda: "m1" not in edge.door.remotes or Seen(edge.door.remotes),
                "the edge's room dropped with its last Session")


async def test_the_meeting_closed_from_the_edge_closes_every_session(
        nodes: tuple[Node, Node]) -> None:
    origin, edge = nodes
    chair_room, chair = await edge.enter("chair")
    _, d1 = await origin.enter("d1")
    _, d2 = await edge.enter("d2")
    await chair_room.command("p_chair", chair, c.MeetingClose(), {"type": "ack", "id": 9})
    for s in (chair, d1, d2):
        await until(partial(lambda s: s.closed or Seen(s.messages), s), "closed with 4410")
        assert s.closed is not None and s.closed[0] == 4410
    assert chair.of("ack") == [{"type": "ack", "id": 9}]
    await until(lambda: (not origin.door.hosts and not edge.door.remotes)
                or Seen((origin.door.hosts, edge.door.remotes)), "host and edge room gone")


async def test_no_live_node_is_a_retry_not_a_refusal(cluster: Cluster) -> None:
    store = Store()
    node = Node(cluster, "lonely", store, load=0)  # never heartbeats: not in the Directory
    try:
        with pytest.raises(Unavailable) as info:
            await node.door.join(await node.door.authorize("chair", "m1"), FakeSession("c"))
        assert info.value.ws_close == Unavailable.ws_close
        assert info.value.details["reason"] == "placement"
    finally:
        await node.stop()


async def test_a_deposed_origin_is_refused_and_never_applied(cluster: Cluster) -> None:
    """The origin's Keeper never renews and its clock stands still, so it believes it holds
    the lease (a paused process); the lease expires, a third node takes it: the origin's next
    events are refused by the fence (and it closes its own Sessions), and once the edge has
    heard the new epoch an envelope of the old one that reached it anyway is dropped."""
    store = Store()
    origin = await Node(cluster, "origin", store, load=0, ttl_s=1.0,
                        clock=lambda: 0.0).start(keep=False)
    edge = await Node(cluster, "edge", store, load=1000).start()
    try:
        chair_room, chair = await origin.enter("chair")
        _, d2 = await edge.enter("d2")
        host = origin.door.hosts["m1"]
        old = origin.keeper.holds("m1")
        assert old is not None
        third = cluster.directory()

        async def take() -> Lease:
            return await third.acquire("m1", "third", 10.0)

        new = await until(take, "the lease expired and taken", tolerate=(Conflict,))
        assert new.epoch > old.epoch
        before = list(d2.messages)
        await chair_room.command("p_chair", chair, c.FloorGive("p_chair"))
        await until(lambda: isinstance(host.lost, Conflict) or Seen(host.lost),
                    "the fenced publish refused")
        await until(lambda: chair.closed is not None or Seen(chair.messages),
                    "the deposed origin's own Sessions closed")
        # the new origin speaks (fenced by its lease): the edge follows its epoch...
        remote = edge.door.remotes["m1"]
        await cluster.bus("third").publish(hop.events_topic("m1"), Envelope(
            Kind.EVENT, "third", hop.encode_stream([hop.dump(hop.Resynced("-", ()))]),
            epoch=new.epoch, seq=1), fence=new)
        await until(lambda: remote.epoch == new.epoch or Seen(remote.epoch), "the new epoch")
        # ...and an envelope of the old epoch delivered anyway (no fence on it): dropped
        stray = hop.EventOut(99, '{"type":"floor","seq":99,"holders":["p_chair"]}', ("p_d2",))
        await edge.bus.publish(hop.events_topic("m1"), Envelope(
            Kind.EVENT, "origin", hop.encode_stream([hop.dump(stray)]), epoch=old.epoch,
            seq=host.sent + 1))
        await until(lambda: remote.stale == 1 or Seen(remote.stale), "the stale envelope seen")
        assert d2.messages == before
    finally:
        await edge.stop()
        await origin.stop()
