"""Nodes for the failover tests and bench: a RoomRegistry (the real Room and RoomRuntime, the
recording plane and store of tests/rooms/test_runtime.py) behind a ClusterDoor with shared
snapshots, its Directory, Bus and snapshot store on one Local or Redis cluster. `die()` is what
a crash leaves behind (nothing renewed, nothing more published, nothing said); a real crash in a
process of its own is tests/cluster/failover_node.py."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from mirp.cluster.directory import LocalDirectory, NodeInfo, NodeLoad
from mirp.cluster.keeper import Keeper
from mirp.cluster.snapshots import LocalSnapshots, RedisSnapshots, SharedSnapshots
from mirp.config import Limits, Settings
from mirp.rooms.door import JoinedRoom
from mirp.rooms.placement import ClusterDoor, ClusterNode
from mirp.rooms.registry import RoomRegistry
from tests.cluster.conftest import Cluster
from tests.rooms.test_runtime import FakeSession, Plane, Store

SEAL_KEY = b"the cluster's shared secret"


def snapshots(cluster: Cluster) -> SharedSnapshots:
    if cluster.url is None:  # one store for every node, as Redis is
        directory = cluster.directory()
        assert isinstance(directory, LocalDirectory)
        local: LocalSnapshots = cluster.__dict__.setdefault("snapshots",
                                                            LocalSnapshots(directory))
        return local
    store = RedisSnapshots(cluster.url, key=SEAL_KEY, prefix=cluster.prefix)
    cluster._closers.append(store)  # type: ignore[arg-type]  # it has aclose()
    return store


class Node:
    def __init__(self, cluster: Cluster, name: str, store: Store, load: int, *,
                 ttl_s: float = 1.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.name = name
        self.directory = cluster.directory()
        self.bus = cluster.bus(name)
        self.snapshots = snapshots(cluster)
        self.registry = RoomRegistry(settings=Settings(limits=Limits(reconnect_grace_s=30.0)),
                                     media=Plane(), store=store, idle_close_s=60)
        info = NodeInfo(name, "127.0.0.1:0", NodeLoad(listeners=load))
        self.keeper = Keeper(self.directory, lambda: info, ttl_s=ttl_s, clock=clock,
                             on_lost=lambda lease, exc: self.door.lease_lost(lease, exc))
        self.door = ClusterDoor(self.registry, ClusterNode(
            name, self.directory, self.bus, self.keeper, ttl_s, request_timeout_s=3.0,
            sweep_s=3600.0, snapshots=self.snapshots, watch_s=0.05))  # sweeps by hand
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
