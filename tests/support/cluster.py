"""A cluster for tests: several MIRP nodes on one Redis and one database.

- `app_nodes(tmp_path, redis_url, names)` (async context manager): apps served by uvicorn in
  this event loop (tests/support/factory.py `served_app`), each a node (`MIRP_NODE_ID` = its
  name), one SQLite file, a Redis key prefix of their own. For wiring tests that look inside
  a node (`Nodes.rooms(name)` is its ClusterRooms).
- `ClusterProcs(tmp_path, redis_url, database_url=None, nodes=3)`: real `mirp serve` processes
  (tests/support/server.py `Server`) on loopback ports, sharing the database (a SQLite file in
  WAL mode by default, or the suite's PostgreSQL: `database_url=postgres_server.url`) and Redis.
  `.start()` starts the first node, then the others (the first migrates a fresh database;
  `start_blocking` for module fixtures, then `await until(procs.all_live, ...)`);
  `.servers[name]`, `.base(name)`, `.ws(name)`; `.origin_of(meeting)` asks Redis who holds a
  meeting's lease; `.nodes()` the live nodes with their load; `.kill(name)`/`.restart(name)`;
  `.close()`. Extra keyword arguments are `MIRP_...` settings of every node.

Media through edges is not wired in this tree: the harness gives each node `MIRP_RELAY_HOST`
(127.0.0.1) and loopback-only ICE, so media tests (tests/support/rtc.py peers on each node) can
be added on the same processes.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

from mirp.cluster.directory import NodeInfo
from mirp.cluster.redis_directory import RedisDirectory
from mirp.rooms.cluster_rooms import ClusterRooms
from tests.support.factory import ServedApp, served_app
from tests.support.server import Server
from tests.support.wait import Seen, until

_prefixes = itertools.count()


def cluster_prefix() -> str:
    """A Redis key prefix of one test's cluster: tests share the session's redis-server."""
    return f"c{os.getpid()}x{next(_prefixes)}"


async def holder_of(url: str, prefix: str, meeting_id: str) -> str | None:
    """The node holding the meeting's lease (its origin), asked of Redis itself."""
    d = RedisDirectory(url, prefix=prefix)
    try:
        lease = await d.holder(meeting_id)
        return None if lease is None else lease.node_id
    finally:
        await d.aclose()


async def live_nodes(url: str, prefix: str) -> list[NodeInfo]:
    d = RedisDirectory(url, prefix=prefix)
    try:
        return await d.nodes()
    finally:
        await d.aclose()


class Nodes:
    """In-process nodes by name."""

    def __init__(self, apps: dict[str, ServedApp], url: str, prefix: str) -> None:
        self.apps, self.url, self.prefix = apps, url, prefix

    def rooms(self, name: str) -> ClusterRooms:
        rooms = self.apps[name].app.state.rooms
        assert isinstance(rooms, ClusterRooms), rooms
        return rooms

    async def origin_of(self, meeting_id: str) -> str | None:
        return await holder_of(self.url, self.prefix, meeting_id)


@asynccontextmanager
async def app_nodes(tmp_path: Path, redis_url: str, names: tuple[str, ...] = ("node-a", "node-b"),
                    **settings: Any) -> AsyncIterator[Nodes]:
    prefix = cluster_prefix()
    common: dict[str, Any] = {
        "redis_url": redis_url, "redis_prefix": prefix, "media_process": False,
        "database_url": f"sqlite+aiosqlite:///{tmp_path / 'shared.sqlite3'}",
        "limits": {"lease_ttl_s": 2.0, "cluster_sweep_s": 2.0}}
    common.update(settings)
    async with AsyncExitStack() as stack:
        apps = {name: await stack.enter_async_context(
            served_app(tmp_path / name, node_id=name, **common)) for name in names}
        nodes = Nodes(apps, redis_url, prefix)
        for name in names:  # each heartbeating and serving its topics
            rooms = nodes.rooms(name)

            def serving(r: ClusterRooms = rooms) -> object:
                c = r.cluster_readout()
                return (c.serving and c.node_alive) or Seen(c)

            await until(serving, f"{name} serving")
        yield nodes


class ClusterProcs:
    """`nodes` real `mirp serve` processes, one cluster (see the module's docstring)."""

    def __init__(self, tmp_path: Path, redis_url: str, database_url: str | None = None,
                 nodes: int = 3, **env: str) -> None:
        self.url, self.prefix = redis_url, cluster_prefix()
        database_url = database_url or f"sqlite+aiosqlite:///{tmp_path / 'shared.sqlite3'}"
        self.names = [f"node-{chr(ord('a') + i)}" for i in range(nodes)]
        common = {"MIRP_REDIS_URL": redis_url, "MIRP_REDIS_PREFIX": self.prefix,
                  "MIRP_RELAY_HOST": "127.0.0.1", "MIRP_LIMITS__LEASE_TTL_S": "2",
                  "MIRP_LIMITS__CLUSTER_SWEEP_S": "2",
                  "MIRP_RATE_LIMITS__ENABLED": "false", **env}
        self.servers = {name: Server(tmp_path / name, database_url, MIRP_NODE_ID=name, **common)
                        for name in self.names}

    def base(self, name: str) -> str:
        return self.servers[name].base

    def ws(self, name: str) -> str:
        return self.servers[name].ws

    async def start(self) -> None:
        first, *others = self.names
        await self.servers[first].start()  # migrates a fresh database alone
        for name in others:
            await self.servers[name].start()
        await until(self.all_live, "every node in the directory", 30)

    def start_blocking(self) -> None:
        """`start` for synchronous (module) fixtures; then await `all_live` in the test."""
        for name in self.names:
            self.servers[name].start_blocking()

    async def all_live(self) -> object:
        """Every node heartbeating in the directory (a `Seen` of those that are, if not)."""
        seen = {n.node_id for n in await self.nodes()}
        return seen >= set(self.names) or Seen(sorted(seen))

    async def nodes(self) -> list[NodeInfo]:
        return await live_nodes(self.url, self.prefix)

    async def origin_of(self, meeting_id: str) -> str | None:
        return await holder_of(self.url, self.prefix, meeting_id)

    def kill(self, name: str) -> None:
        self.servers[name].kill()

    async def restart(self, name: str) -> None:
        await self.servers[name].start()

    def logs(self) -> str:
        return "\n".join(f"--- {name}\n{srv.tail(30)}" for name, srv in self.servers.items())

    def close(self) -> None:
        for srv in self.servers.values():
            srv.close()
