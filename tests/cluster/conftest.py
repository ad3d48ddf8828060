"""Fixtures for the cluster's tests: each contract runs against the one-process (Local) and the
Redis implementation; outage tests get a redis-server of their own that they stop, freeze and
restart on the same port (the session's shared server is never disturbed)."""

from __future__ import annotations

import itertools
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from mirp.cluster.bus import Bus, LocalBus
from mirp.cluster.directory import Directory, LocalDirectory
from mirp.cluster.redis_bus import RedisBus
from mirp.cluster.redis_directory import RedisDirectory
from tests.support.procs import free_port, stop
from tests.support.redis import REDIS_SERVER, RedisServer, _command
from tests.support.redis import redis_server as redis_server  # the session's server

_prefixes = itertools.count()

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
        self._closers: list[RedisDirectory | Bus] = []

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


class OwnRedis:
    """A redis-server that a test may stop, freeze (SIGSTOP) and restart on the same port."""

    def __init__(self) -> None:
        self.port = free_port()
        self.workdir = Path(tempfile.mkdtemp(prefix="mirp-own-redis-"))
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def ping(self) -> bool:
        try:
            return _command(self.port, "PING").startswith(b"+PONG")
        except OSError:
            return False

    def start(self) -> None:
        with (self.workdir / "redis.log").open("ab") as out:
            self.proc = subprocess.Popen(
                [shutil.which("redis-server") or REDIS_SERVER, "--port", str(self.port),
                 "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                 "--dir", str(self.workdir)], stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 15
        while not self.ping():  # polled with a deadline, as tests/support/redis.py does
            if self.proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail("own redis-server did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGCONT)
            stop(self.proc)
            self.proc = None

    def freeze(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGCONT)


@pytest.fixture
def own_redis() -> Iterator[OwnRedis]:
    server = OwnRedis()
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(server.workdir, ignore_errors=True)
