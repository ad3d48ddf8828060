"""Fixtures for the cluster's tests: each contract runs against the one-process (Local) and the
Redis implementation; outage tests get a redis-server of their own that they stop, freeze and
restart on the same port (the session's shared server is never disturbed)."""

from __future__ import annotations

import itertools
import os
from collections.abc import AsyncIterator, Iterator

import pytest

from mirp.cluster.bus import Bus, LocalBus
from mirp.cluster.directory import Directory, LocalDirectory
from mirp.cluster.redis_bus import RedisBus
from mirp.cluster.redis_directory import RedisDirectory
from mirp.cluster.snapshots import LocalSnapshots, RedisSnapshots, SharedSnapshots
from tests.support.redis import RedisServer, start_redis
from tests.support.redis import redis_server as redis_server  # the session's server

_prefixes = itertools.count()

SEAL_KEY = b"the cluster's shared secret"  # the snapshots' HMAC key (the app: the secret key)
KINDS = ["local", pytest.param("redis", marks=pytest.mark.redis)]


def fresh_prefix() -> str:
    """Each test its own key space in the shared server: no flush between tests needed."""
    return f"t{os.getpid()}x{next(_prefixes)}"


class Cluster:
    """One Directory and one Bus per simulated node, all on one store (a LocalDirectory shared
    in memory, or one Redis under a fresh prefix)."""

    def __init__(self, kind: str, url: str | None) -> None:
        self.kind, self.url, self.prefix = kind, url, fresh_prefix()
        self._local_dir = LocalDirectory()
        self._local_bus = LocalBus(self._local_dir)
        self._local_snapshots: LocalSnapshots | None = None
        self._closers: list[RedisDirectory | Bus | RedisSnapshots] = []

    def directory(self) -> Directory:
        if self.url is None:
            return self._local_dir
        d = RedisDirectory(self.url, prefix=self.prefix, bound_s=2.0)
        self._closers.append(d)
        return d

    def bus(self, node_id: str = "n") -> Bus:
        b: Bus
        if self.url is None:
            b = self._local_bus.as_node(node_id)
        else:
            b = RedisBus(self.url, node_id=node_id, prefix=self.prefix, bound_s=2.0)
        self._closers.append(b)
        return b

    def snapshots(self) -> SharedSnapshots:
        """The shared Room snapshots (cluster/snapshots.py): one store for every node."""
        if self.url is None:
            if self._local_snapshots is None:
                self._local_snapshots = LocalSnapshots(self._local_dir)
            return self._local_snapshots
        s = RedisSnapshots(self.url, key=SEAL_KEY, prefix=self.prefix, bound_s=2.0)
        self._closers.append(s)
        return s

    async def aclose(self) -> None:
        for c in reversed(self._closers):
            await c.aclose()


@pytest.fixture(params=KINDS)
async def cluster(request: pytest.FixtureRequest) -> AsyncIterator[Cluster]:
    url = None
    if request.param == "redis":
        server: RedisServer = request.getfixturevalue("redis_server")
        url = server.url
    c = Cluster(request.param, url)
    try:
        yield c
    finally:
        await c.aclose()


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    """A redis-server of this test's own, to stop, freeze and restart (tests/support/redis.py)."""
    with start_redis() as server:
        yield server
