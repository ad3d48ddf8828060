"""Nodes for the failover tests and bench: a RoomRegistry (the real Room and RoomRuntime, the
recording plane and store of tests/rooms/test_runtime.py) behind a ClusterDoor with shared
snapshots, its Directory, Bus and snapshot store on one Local or Redis cluster. `die()` is what
a crash leaves behind (nothing renewed, nothing more published, nothing said); a real crash in a
process of its own is tests/cluster/failover_node.py."""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mirp.cluster.directory import NodeInfo, NodeLoad
from mirp.cluster.keeper import Keeper
from mirp.config import Limits, Settings
from mirp.journal import Journal
from mirp.rooms import commands as c
from mirp.rooms.door import JoinedRoom
from mirp.rooms.durable import decode_room
from mirp.rooms.model import JoinGrant, Role
from mirp.rooms.placement import ClusterDoor, ClusterNode
from mirp.rooms.registry import RoomRegistry
from tests.cluster.conftest import Cluster
from tests.rooms.test_runtime import FakeSession, Plane, Store
from tests.support.wait import Seen, until


class Node:
    def __init__(self, cluster: Cluster, name: str, store: Store, load: int, *,
                 ttl_s: float = 1.0, clock: Callable[[], float] = time.monotonic,
                 shared: bool = True, journal: Path | None = None) -> None:
        self.name = name
        self.directory = cluster.directory()
        self.bus = cluster.bus(name)
        self.snapshots = cluster.snapshots()
        kept = Journal(journal) if journal is not None else None
        if kept is not None:
            kept.open()
        self.registry = RoomRegistry(settings=Settings(limits=Limits(reconnect_grace_s=30.0)),
                                     media=Plane(), store=store, idle_close_s=60, journal=kept)
        info = NodeInfo(name, "127.0.0.1:0", NodeLoad(listeners=load))
        self.keeper = Keeper(self.directory, lambda: info, ttl_s=ttl_s, clock=clock,
                             on_lost=lambda lease, exc: self.door.lease_lost(lease, exc))
        self.door = ClusterDoor(self.registry, ClusterNode(
            name, self.directory, self.bus, self.keeper, ttl_s, request_timeout_s=3.0,
            sweep_s=3600.0, snapshots=self.snapshots if shared else None,
            watch_s=0.05))  # sweeps by hand
        self.dead = False

    async def start(self, *, keep: bool = True) -> Node:
        await self.keeper.round()  # in the Directory now (placement sees it)
        if keep:
            self.keeper.start()
        await self.door.start()
        return self

    async def enter(self, token: str, resume: str | None = None,
                    name: str | None = None) -> tuple[JoinedRoom, FakeSession]:
        session = FakeSession(f"{name or self.name}_{token}")
        grant = await self.door.authorize(token, "m1")
        room = await self.door.join(grant, session, resume)
        assert session.of("welcome"), "join returns once the welcome was handed over"
        return room, session

    async def die(self) -> None:
        """Stops renewing and serving at once, says nothing to anyone (its Room stays in
        memory, as it would in a frozen process, but nothing of it leaves the node)."""
        self.dead = True
        await self.keeper.stop(leave=False)
        await self.door.close()

    async def stop(self) -> None:
        if not self.dead:
            await self.door.close()
            await self.keeper.stop(leave=False)
        await self.registry.close()


def state(room: dict[str, Any]) -> dict[str, Any]:
    """What a failover must keep of a welcome's room: the floor, the speakers list, on air."""
    floor = room["floor"]
    return {"holders": floor["holders"],
            "speakers": [s["participant_id"] for s in floor["speakers"]],
            "on_air": {b["language"]: b["on_air"] for b in room["booths"]}}


class ManyStore(Store):
    """The test store, with listeners too: token `l<i>` is delegate `p_l<i>`."""

    async def authorize(self, token: str, meeting_id: str | None) -> JoinGrant:
        if token.startswith("l") and token[1:].isdigit():
            return JoinGrant("m1", f"p_{token}", token.upper(), Role.DELEGATE)
        return await super().authorize(token, meeting_id)


async def start_node_process(url: str, prefix: str, name: str, load: int,
                             ttl_s: float) -> asyncio.subprocess.Process:
    """tests/cluster/failover_node.py, returned once it is in the Directory."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.cluster.failover_node", url, prefix, name, str(load),
        str(ttl_s), stdout=asyncio.subprocess.PIPE)
    assert proc.stdout is not None
    async with asyncio.timeout(30):
        said = (await proc.stdout.readline()).decode().strip()
    if said != "ready":
        proc.kill()
        await proc.wait()
        raise RuntimeError(f"the node process said {said!r}")
    return proc


@dataclass
class Failover:
    """One origin SIGKILL, as the edge saw it (seconds from the kill)."""

    welcomed_s: float  # every Session on the edge welcomed again by the new origin
    command_s: float  # a command from the edge acked by the new origin
    before: dict[str, Any]  # the state the edge's Sessions saw before the kill
    after: list[dict[str, Any]]  # and in each fresh welcome
    resumed: bool  # every fresh welcome says `resumed`
    closed: int  # edge Sessions closed meanwhile (none expected)
    new_origin: str
    deposed: bool = False  # `pause`: the resumed old origin said it stopped serving
    last: dict[str, Any] | None = None  # `pause`: the chair's view after the last command
    stored: dict[str, Any] | None = None  # `pause`: the shared snapshot then


async def kill_the_origin(url: str, *, ttl_s: float, listeners: int = 0,
                          pause: bool = False) -> Failover:
    """An origin in a process of its own (least loaded: the meeting lands there), a spare and
    an edge in this one. Through the edge: the chair, d1 holding the floor, d2 asking for it,
    fr1 on air, and `listeners` delegates on the French channel. The origin is killed with
    SIGKILL; the timings are polled every 5 ms. `pause`: SIGSTOP instead, and once the edge is
    taken over, SIGCONT: the old origin goes on until it learns it was deposed, while the chair
    gives and withdraws the floor from the edge ten times."""
    cluster, store = Cluster("redis", url), ManyStore()
    proc = await start_node_process(url, cluster.prefix, "origin", 0, ttl_s)
    spare = await Node(cluster, "spare", store, 500, ttl_s=ttl_s).start()
    edge = await Node(cluster, "edge", store, 1000, ttl_s=ttl_s).start()
    try:
        rooms = {k: await edge.enter(k) for k in ("chair", "d1", "d2", "fr1")}
        for key, command in (("fr1", c.OnAir(True)), ("d1", c.FloorRequest()),
                             ("d2", c.FloorRequest()), ("chair", c.FloorGive("p_d1"))):
            room, s = rooms[key]
            await room.command(f"p_{key}", s, command, {"type": "ack", "id": key})
        for i in range(listeners):
            room, s = rooms[f"l{i}"] = await edge.enter(f"l{i}")
            await room.command(f"p_l{i}", s, c.Subscribe("fr"))
        remote, chair = rooms["chair"]
        await until(lambda: state(edge_view(chair))["holders"] == ["p_d1"] or
                    Seen(chair.messages[-2:]), "the floor given, seen on the edge")
        before = state(edge_view(chair))
        sessions = [s for _, s in rooms.values()]

        proc.send_signal(signal.SIGSTOP if pause else signal.SIGKILL)
        start = time.perf_counter()
        await until(lambda: all(len(s.of("welcome")) >= 2 or s.closed for s in sessions),
                    "every edge Session welcomed again", within=60, step=0.005)
        welcomed = time.perf_counter() - start
        await remote.command("p_chair", chair, c.FloorGive("p_d2"), {"type": "ack", "id": 0})
        command = time.perf_counter() - start
        holder = await edge.directory.holder("m1")
        seen = Failover(welcomed, command, before,
                        [state(s.of("welcome")[-1]["room"]) for s in sessions],
                        all(s.of("welcome")[-1]["resumed"] for s in sessions),
                        sum(s.closed is not None for s in sessions),
                        holder.node_id if holder else "")
        if pause:
            proc.send_signal(signal.SIGCONT)
            assert proc.stdout is not None
            async with asyncio.timeout(30):
                seen.deposed = (await proc.stdout.readline()).decode().strip() == "deposed"
            for i in range(10):
                cmd = c.FloorGive("p_chair") if i % 2 == 0 else c.FloorWithdraw()
                await remote.command("p_chair", chair, cmd, {"type": "ack", "id": i + 1})
            await until(lambda: chair.of("ack")[-1]["id"] == 10 or Seen(chair.messages[-2:]),
                        "the last command acked")
            seen.last = state(edge_view(chair))
            body = await edge.snapshots.get("m1")
            kept = decode_room(body, "m1") if body is not None else None
            seen.stored = None if kept is None else state(kept.room.snapshot("p_chair"))
            seen.closed = sum(s.closed is not None for s in sessions)
        return seen
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGCONT)
            proc.kill()
        await proc.wait()
        await edge.stop()
        await spare.stop()
        await cluster.aclose()


def edge_view(s: FakeSession) -> dict[str, Any]:
    """The room as this Session's client sees it: its welcome, with the floor and booth
    events since folded in (what a failover must keep)."""
    room = dict(s.of("welcome")[-1]["room"])
    for m in s.messages:
        if m.get("type") == "floor":
            room["floor"] = m
        elif m.get("type") == "booth":
            room["booths"] = [m if b["language"] == m["language"] else b
                              for b in room["booths"]]
    return room
