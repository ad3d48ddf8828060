"""Media through an edge (rooms/edge_plane.py, rooms/edge_media.py): three nodes in one test
process, an origin and two edges, each with its own RoomRegistry, its own LocalPlane (its own
engine and relay UDP socket on 127.0.0.1) and its own Directory and Bus handles, over
LocalDirectory/LocalBus and over RedisDirectory/RedisBus on the suite's redis-server. Real
aiortc peers; what the listeners hear is checked by FFT. A participant on an edge has their
peer on the edge's plane, the origin's Room decides, the origin mixes and encodes once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from functools import partial
from typing import Any

import pytest

from mirp.cluster.bus import Envelope
from mirp.cluster.directory import NodeInfo, NodeLoad
from mirp.cluster.keeper import Keeper
from mirp.config import Limits, Settings
from mirp.errors import Unauthorized, Unavailable
from mirp.media.local import LocalPlane
from mirp.media.plane import MediaPlane, PlaneConfig, PlaneStats
from mirp.media.process import ProcessPlane
from mirp.rooms import commands as c
from mirp.rooms.door import JoinedRoom
from mirp.rooms.model import JoinGrant, Role
from mirp.rooms.placement import ClusterDoor, ClusterNode
from mirp.rooms.registry import RoomRegistry
from mirp.rooms.runtime import RoomRuntime
from tests.cluster.conftest import Cluster
from tests.rooms.test_runtime import GRANTS, FakeSession, Store
from tests.support.audio import level_db_at, peak_hz
from tests.support.rtc import RtcClient
from tests.support.wait import Seen, until

pytestmark = [pytest.mark.rtc]

TTL_S = 3.0
MORE = {f"d{i}": JoinGrant("m1", f"p_d{i}", f"D{i}", Role.DELEGATE) for i in (3, 4)}


class MoreStore(Store):
    async def authorize(self, token: str, meeting_id: str | None) -> JoinGrant:
        if token in MORE:
            return MORE[token]
        if token not in GRANTS:
            raise Unauthorized("bad token")
        return await super().authorize(token, meeting_id)


class Entered:
    def __init__(self, node: Node, room: JoinedRoom, session: FakeSession, pid: str) -> None:
        self.node, self.room, self.session, self.pid = node, room, session, pid
        self.client: RtcClient | None = None

    async def peer(self, tone_hz: float | None = None) -> RtcClient:
        self.client = client = RtcClient(tone_hz, name=self.pid)
        self.node.clients.append(client)
        await client.connect(lambda sdp: self.room.offer(self.pid, self.session, sdp))
        await client.wait_connected()
        return client

    async def command(self, command: c.Command) -> None:
        await self.room.command(self.pid, self.session, command)


class Node:
    def __init__(self, cluster: Cluster, name: str, store: Store, load: int,
                 plane: MediaPlane | None = None, *, shared: bool = False) -> None:
        self.name = name
        self.plane = plane or LocalPlane(PlaneConfig(loopback_only=True))
        directory = cluster.directory()
        self.registry = RoomRegistry(settings=Settings(limits=Limits(reconnect_grace_s=30.0)),
                                     media=self.plane, store=store, idle_close_s=60)
        self.keeper = Keeper(directory, lambda: NodeInfo(name, self.door.address,
                                                         NodeLoad(listeners=load)),
                             ttl_s=TTL_S, on_lost=lambda lease, e: self.door.lease_lost(lease, e),
                             on_retaken=lambda lease: self.door.lease_retaken(lease))
        self.door = ClusterDoor(self.registry, ClusterNode(
            name, directory, cluster.bus(name), self.keeper, TTL_S, request_timeout_s=5.0,
            sweep_s=3600.0, relay_host="127.0.0.1",
            snapshots=cluster.snapshots() if shared else None, watch_s=0.1 if shared else None))
        self.clients: list[RtcClient] = []

    async def start(self) -> Node:
        await self.plane.start()
        await self.door.start()  # the relay socket first: the heartbeat advertises it
        assert self.door.address.startswith("127.0.0.1:")
        await self.keeper.round()
        self.keeper.start()
        return self

    async def enter(self, token: str) -> Entered:
        session = FakeSession(f"{self.name}_{token}")
        grant = await self.door.authorize(token, "m1")
        room = await self.door.join(grant, session)
        return Entered(self, room, session, grant.participant_id)

    async def stats(self) -> PlaneStats:
        return await self.plane.stats()

    async def stop(self) -> None:
        for client in self.clients:
            await client.close()
        await self.door.close()
        await self.keeper.stop(leave=False)
        await self.registry.close()
        await self.plane.close()


@pytest.fixture
async def nodes(cluster: Cluster) -> AsyncIterator[tuple[Node, Node, Node]]:
    store = MoreStore()
    started: list[Node] = []
    try:
        for name, load in (("origin", 0), ("edge_a", 1000), ("edge_b", 2000)):
            started.append(await Node(cluster, name, store, load).start())
        yield started[0], started[1], started[2]
    finally:
        for node in reversed(started):
            await node.stop()


async def hears(client: RtcClient | None, hz: float, what: str, *,
                not_hz: float | None = None) -> None:
    assert client is not None

    async def check() -> Any:
        await client.wait_recorded(0.5)
        got = client.recorded(0.5)
        peak, level = peak_hz(got), level_db_at(got, hz)
        other = level_db_at(got, not_hz) if not_hz is not None else -120.0
        ok = abs(peak - hz) < 15 and level > -40 and other < level - 20
        return ok or Seen(f"peak {peak:.0f} Hz, {level:.0f} dB at {hz:g} Hz, "
                          f"{other:.0f} dB at {not_hz}")

    await until(check, what, within=30.0)


def origin_room(origin: Node) -> RoomRuntime:
    runtime = origin.registry.rooms["m1"]
    return runtime


async def floor_to(chair: Entered, speaker: Entered) -> None:
    await speaker.command(c.FloorRequest())
    await chair.command(c.FloorGive(speaker.pid))


async def test_a_listener_on_an_edge_hears_the_origins_floor_encoded_once(
        nodes: tuple[Node, Node, Node]) -> None:
    origin, edge_a, _ = nodes
    chair = await origin.enter("chair")
    d1 = await origin.enter("d1")
    d2 = await edge_a.enter("d2")
    assert "m1" in edge_a.door.remotes and "m1" in origin.door.hosts
    await d1.peer(440)
    await d2.peer()
    await floor_to(chair, d1)
    await hears(d2.client, 440, "the listener on the edge hears the delegate on the origin")

    runtime = origin_room(origin)
    assert runtime.media.has_peer("p_d2")  # the origin's Room counts the edge's peer

    async def once() -> Any:
        o, a = await origin.stats(), await edge_a.stats()
        feeds = set(runtime.media.feed_of.values())  # what the Room's peers hear, all nodes
        ok = (a.engine.encoders == 0 and a.engine.decoding == 0 and a.engine.listeners == 1
              and o.engine.encoders + a.engine.encoders == len(feeds)
              and o.relay.links == 1 and o.relay.feeds_out == 1)
        return ok or Seen((o.engine, a.engine, o.relay, feeds))

    await until(once, "each feed encoded once, at the origin; the edge only fans out")
    relayed = (await edge_a.stats()).relay.feeds_in
    assert [f.key.channel for f in relayed] == ["m1/floor"] and relayed[0].received > 0


async def test_a_delegate_on_an_edge_is_heard_on_the_origin_and_on_another_edge(
        nodes: tuple[Node, Node, Node]) -> None:
    origin, edge_a, edge_b = nodes
    chair = await origin.enter("chair")
    d1 = await origin.enter("d1")
    d2 = await edge_a.enter("d2")
    d3 = await edge_b.enter("d3")
    d4 = await edge_a.enter("d4")
    await d1.peer()
    await d2.peer(660)
    await d3.peer()
    await d4.peer(880)  # on edge_a too, never given the floor: parked
    await floor_to(chair, d2)
    await hears(d1.client, 660, "a listener on the origin hears the delegate on edge A",
                not_hz=880)
    await hears(d3.client, 660, "a listener on edge B hears the delegate on edge A",
                not_hz=880)

    async def forwarded(want: int) -> Any:
        a, o = await edge_a.stats(), await origin.stats()
        ok = (a.relay.sources_out == want and a.engine.decoding == 0
              and o.relay.sources_in == want and o.relay.source_packets_in > 0)
        return ok or Seen((a.relay, a.engine, o.relay))

    # only the floor holder's microphone crosses, undecoded on the edge; d4's stays parked there
    await until(partial(forwarded, 1), "the active source alone forwarded to the origin")
    assert edge_a.door.remotes["m1"].media is not None
    assert edge_a.door.remotes["m1"].media.forwarded[0] == {"p_d2"}

    await chair.command(c.FloorTake("p_d2"))
    await floor_to(chair, d4)
    await hears(d1.client, 880, "the origin hears the next speaker on edge A", not_hz=660)
    await hears(d3.client, 880, "edge B hears the next speaker on edge A", not_hz=660)
    assert edge_a.door.remotes["m1"].media.forwarded[0] == {"p_d4"}

    b = await edge_b.stats()
    assert b.engine.encoders == 0 and b.engine.decoding == 0, b.engine


async def test_a_peer_gone_on_an_edge_is_known_at_the_origin(
        nodes: tuple[Node, Node, Node]) -> None:
    origin, edge_a, _ = nodes
    chair = await origin.enter("chair")
    d1 = await origin.enter("d1")
    d2 = await edge_a.enter("d2")
    await d1.peer(440)
    client = await d2.peer()
    await floor_to(chair, d1)
    await hears(client, 440, "the listener on the edge hears the floor")
    runtime = origin_room(origin)

    await client.close()  # the edge's plane sees the peer end

    def gone() -> Any:
        closed = d2.session.of("peer_closed")
        return (closed and not runtime.media.has_peer("p_d2")) or Seen(closed)

    await until(gone, "the origin's Room hears of the edge's peer gone; the client is told")

    async def unlinked() -> Any:
        o = await origin.stats()
        return o.relay.links == 0 or Seen(o.relay)

    await until(unlinked, "the origin stops relaying to an edge with no listener left")
    # a new offer on the same Session: heard again, the Room counts the new peer
    await d2.peer()
    await hears(d2.client, 440, "the new peer on the edge hears the floor again")
    assert runtime.media.has_peer("p_d2")


class DropListen:
    """The origin's Bus, losing the first stream envelope that carries a `ListenOut`."""

    def __init__(self, bus: Any) -> None:
        self.bus, self.dropped = bus, 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.bus, name)

    async def publish(self, topic: str, env: Envelope, fence: Any = None) -> None:
        if not self.dropped and b'"op":"listen"' in env.body:
            self.dropped += 1
            return  # lost on the way
        await self.bus.publish(topic, env, fence=fence)


async def test_a_listen_lost_in_a_gap_is_restored_by_the_resync(
        nodes: tuple[Node, Node, Node]) -> None:
    origin, edge_a, _ = nodes
    chair = await origin.enter("chair")
    d1 = await origin.enter("d1")
    d2 = await edge_a.enter("d2")
    await d1.peer(440)
    await floor_to(chair, d1)
    host = origin.door.hosts["m1"]
    host.bus = dropping = DropListen(host.bus)  # type: ignore[assignment]
    await d2.peer()
    remote = edge_a.door.remotes["m1"]
    media = remote.media
    assert media is not None
    await until(lambda: dropping.dropped == 1 or Seen(dropping.dropped), "the listen lost")
    assert media.listening == {} and remote.resyncs == 0

    await chair.command(c.FloorTimeLimit(120))  # the next envelope shows the hole
    await until(lambda: remote.resyncs == 1 or Seen(remote.resyncs), "the edge resyncs")
    await hears(d2.client, 440, "after the resync the edge's listener hears the floor")
    assert media.listening == {"p_d2": origin_room(origin).media.feed_of["p_d2"]}


async def test_an_interpreter_on_air_on_an_edge_is_heard_everywhere(
        nodes: tuple[Node, Node, Node]) -> None:
    origin, edge_a, edge_b = nodes
    await origin.enter("chair")
    d1 = await origin.enter("d1")
    d2 = await edge_a.enter("d2")
    fr1 = await edge_b.enter("fr1")
    for listener in (d1, d2):
        await listener.command(c.Subscribe("fr"))
        await listener.peer()
    await fr1.peer(550)
    await fr1.command(c.OnAir(True))
    await hears(d1.client, 550, "a listener of fr on the origin hears the interpreter on edge B")
    await hears(d2.client, 550, "a listener of fr on edge A hears the interpreter on edge B")

    async def forwarded() -> Any:
        b, o = await edge_b.stats(), await origin.stats()
        ok = b.relay.sources_out == 1 and b.engine.decoding == 0 and o.relay.sources_in == 1
        return ok or Seen((b.relay, o.relay))

    await until(forwarded, "the on-air interpreter's microphone forwarded, undecoded")
    await fr1.command(c.OnAir(False))

    async def parked() -> Any:
        b, o = await edge_b.stats(), await origin.stats()
        return (b.relay.sources_out == 0 and o.relay.sources_in == 0) or Seen((b.relay, o.relay))

    await until(parked, "off air: the microphone is no longer forwarded nor accepted")


async def test_a_participant_moving_from_an_edge_to_the_origin_leaves_no_peer_behind(
        nodes: tuple[Node, Node, Node]) -> None:
    origin, edge_a, _ = nodes
    chair = await origin.enter("chair")
    d1 = await origin.enter("d1")
    d2 = await edge_a.enter("d2")
    await d1.peer(440)
    await d2.peer()
    await floor_to(chair, d1)
    await hears(d2.client, 440, "the listener on the edge hears the floor")

    moved = await origin.enter("d2")  # the same participant reconnects on the origin
    await until(lambda: (d2.session.closed or (0,))[0] == 4409 or Seen(d2.session.closed),
                "the edge's Session replaced")

    async def released() -> Any:
        a, o = await edge_a.stats(), await origin.stats()
        ok = a.peers == 0 and a.engine.listeners == 0 and o.relay.links == 0
        return ok or Seen((a.peers, a.engine.listeners, o.relay.links))

    await until(released, "the edge's peer closed, the origin's link to it stopped")
    await moved.peer()
    await hears(moved.client, 440, "the participant hears the floor on the origin now")


async def test_a_dead_edge_is_no_longer_relayed_to(nodes: tuple[Node, Node, Node]) -> None:
    origin, edge_a, edge_b = nodes
    chair = await origin.enter("chair")
    d1 = await origin.enter("d1")
    d2 = await edge_a.enter("d2")
    d3 = await edge_b.enter("d3")
    await d1.peer(440)
    await d2.peer()
    await d3.peer()
    await floor_to(chair, d1)
    await hears(d2.client, 440, "edge A's listener hears the floor")
    await hears(d3.client, 440, "edge B's listener hears the floor")
    assert (await origin.stats()).relay.links == 2

    await edge_b.keeper.stop(leave=True)  # edge B gone from the Directory (as if it died)
    assert await origin.door.sweep() == []  # missing once: not judged yet
    assert await origin.door.sweep() == ["p_d3"]
    o = await origin.stats()
    assert o.relay.links == 1 and not origin_room(origin).media.has_peer("p_d3"), o.relay
    await hears(d2.client, 440, "edge A's listener still hears the floor")


async def test_a_session_the_origin_forgot_leaves_no_peer_on_the_edge(
        nodes: tuple[Node, Node, Node]) -> None:
    origin, edge_a, _ = nodes
    chair = await origin.enter("chair")
    d2 = await edge_a.enter("d2")
    d3 = await edge_a.enter("d3")  # stays: the edge keeps serving the meeting
    await d2.peer()
    await d3.peer()
    assert (await edge_a.stats()).peers == 2
    host = origin.door.hosts["m1"]
    del host.stand_ins[d2.session.id]  # the origin no longer knows that Session
    host.sent += 1  # as if a message were lost: the edge resyncs and learns it
    await chair.command(c.FloorTimeLimit(120))
    await until(lambda: (d2.session.closed or (0,))[0] == 1012 or Seen(d2.session.closed),
                "the Session the origin forgot closed by the resync")

    async def released() -> Any:
        a = await edge_a.stats()
        return a.peers == 1 or Seen(a.peers)

    await until(released, "its peer on the edge closed with it (the origin cannot say so)")


async def test_an_offer_whose_peer_up_timed_out_leaves_no_peer_counted(
        nodes: tuple[Node, Node, Node]) -> None:
    origin, edge_a, _ = nodes
    await origin.enter("chair")
    d2 = await edge_a.enter("d2")
    remote = edge_a.door.remotes["m1"]
    host = origin.door.hosts["m1"]
    assert host.address_of is not None
    look_up, late = host.address_of, asyncio.Event()

    async def slow(node_id: str) -> Any:
        await late.wait()  # the origin counts the peer only after the edge gave up
        return await look_up(node_id)

    handle, seen = host.handle, []

    async def watched(request: Any, sender: str = "") -> None:
        seen.append(type(request).__name__)
        await handle(request, sender)

    host.address_of = slow
    host.handle = watched  # type: ignore[method-assign]
    remote.timeout_s = 0.5
    with pytest.raises(Unavailable):
        await d2.peer()
    await until(lambda: "PeerDown" in seen or Seen(seen), "the edge gives the peer up")
    late.set()  # only now may the origin count it: the PeerDown must still end it
    runtime = origin_room(origin)

    async def forgotten() -> Any:
        a, told = await edge_a.stats(), d2.session.of("peer_closed")
        ok = told and a.peers == 0 and not runtime.media.has_peer("p_d2")
        return ok or Seen((told, a.peers, runtime.media.peers))

    await until(forgotten, "the peer counted late at the origin is forgotten again")


@pytest.mark.process
async def test_media_processes_relay_between_nodes_as_the_app_runs_them() -> None:
    """Each node's plane a media process of its own (the app's ProcessPlane): the relay socket
    is the child's, the plane's events cross back, and it all goes as with LocalPlanes."""
    cluster, store = Cluster("local", None), MoreStore()
    started: list[Node] = []
    try:
        for name, load in (("origin", 0), ("edge_a", 1000)):
            plane = ProcessPlane(PlaneConfig(loopback_only=True), request_timeout_s=20.0)
            started.append(await Node(cluster, name, store, load, plane).start())
        origin, edge_a = started
        chair = await origin.enter("chair")
        d1 = await origin.enter("d1")
        d2 = await edge_a.enter("d2")
        await d1.peer()
        await d2.peer(660)
        await floor_to(chair, d2)
        await hears(d1.client, 660, "the origin's listener hears the delegate on the edge")
        await chair.command(c.FloorTake("p_d2"))
        await floor_to(chair, d1)
        await d1.peer(440)  # a new peer with a microphone on the same Session
        await hears(d2.client, 440, "the edge's listener hears the delegate on the origin")
        a = await edge_a.stats()
        assert a.engine.encoders == 0 and a.engine.decoding == 0, a.engine
    finally:
        for node in reversed(started):
            await node.stop()
        await cluster.aclose()
