"""Two origins never publish at once: a real origin process is paused (SIGSTOP) past its lease,
another node takes the meeting over and publishes, the first is resumed (SIGCONT) and tries to
go on. Its events must stop at the takeover: an edge sees every epoch-1 event before the first
epoch-2 one, and none after. Run for the careful origin (it checks its own clock first) and
for a reckless one (only the fence in Redis stops it)."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from mirp.cluster.bus import Envelope, Kind, Subscription
from mirp.cluster.directory import Lease
from mirp.cluster.redis_bus import RedisBus
from mirp.cluster.redis_directory import RedisDirectory
from mirp.errors import Conflict
from tests.cluster.conftest import fresh_prefix
from tests.support.redis import RedisServer
from tests.support.wait import Seen, until

pytestmark = pytest.mark.redis

HANG_GUARD_S = 30.0


StartOrigin = Callable[..., Awaitable[asyncio.subprocess.Process]]


@pytest.fixture
async def start_origin() -> AsyncIterator[StartOrigin]:
    procs: list[asyncio.subprocess.Process] = []

    async def start(*args: str) -> asyncio.subprocess.Process:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tests.cluster.fenced_origin", *args,
            stdout=asyncio.subprocess.PIPE)
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        if proc.returncode is None:
            proc.send_signal(signal.SIGCONT)
            proc.kill()
            await proc.wait()


async def line(proc: asyncio.subprocess.Process) -> str:
    assert proc.stdout is not None
    async with asyncio.timeout(HANG_GUARD_S):
        return (await proc.stdout.readline()).decode().strip()


async def drain_until(sub: Subscription, last_seq: int) -> list[Envelope]:
    got: list[Envelope] = []
    async with asyncio.timeout(HANG_GUARD_S):
        while not (got and got[-1].epoch == 2 and got[-1].seq == last_seq):
            got.append(await sub.get())
    return got


@pytest.mark.parametrize("mode", ["careful", "reckless"])
async def test_a_resumed_origin_never_publishes_after_the_takeover(
        redis_server: RedisServer, start_origin: StartOrigin, mode: str) -> None:
    prefix, meeting = fresh_prefix(), "m1"
    directory = RedisDirectory(redis_server.url, prefix=prefix)
    edge = RedisBus(redis_server.url, node_id="edge", prefix=prefix)
    b = RedisBus(redis_server.url, node_id="b", prefix=prefix)
    try:
        sub = await edge.subscribe(f"room.{meeting}.events", maxsize=100_000)
        proc = await start_origin(redis_server.url, prefix, meeting, mode)
        assert await line(proc) == "holding 1"
        first = [await sub.get() for _ in range(5)]
        assert {e.epoch for e in first} == {1}

        os.kill(proc.pid, signal.SIGSTOP)

        async def take_over() -> object:
            try:
                return await directory.acquire(meeting, "b", 60)
            except Conflict as exc:
                return Seen(exc.details)

        new: Lease = await until(take_over, "b to take the paused origin's lease over")
        assert new.epoch == 2
        for seq in range(1, 6):
            await b.publish(f"room.{meeting}.events",
                            Envelope(Kind.EVENT, "b", b"", epoch=2, seq=seq), fence=new)

        os.kill(proc.pid, signal.SIGCONT)
        said = [await line(proc)]
        while said[-1] != "stopped":
            try:
                said.append(await line(proc))
            except TimeoutError:
                raise AssertionError(f"the resumed origin hangs; it said {said}") from None
        assert any(s.startswith(("lost 1 conflict", "refused")) for s in said), said
        await b.publish(f"room.{meeting}.events",
                        Envelope(Kind.EVENT, "b", b"", epoch=2, seq=6), fence=new)

        seen = first + await drain_until(sub, 6)
        epochs = [e.epoch for e in seen]
        switch = epochs.index(2)
        assert set(epochs[:switch]) == {1} and set(epochs[switch:]) == {2}, epochs
        assert [e.seq for e in seen[switch:]] == [1, 2, 3, 4, 5, 6]
        a_seqs = [e.seq for e in seen[:switch]]
        assert a_seqs == list(range(1, len(a_seqs) + 1))  # nothing lost before the pause
    finally:
        await b.aclose()
        await edge.aclose()
        await directory.aclose()
