"""The Keeper, on LocalDirectory and RedisDirectory: it keeps its node listed and its leases
renewed past their TTL, reports a lease lost to a newer epoch once (the paused-then-resumed
holder), and stops claiming a lease it could not renew in time (Redis frozen)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from mirp.cluster.directory import Lease, LocalDirectory, NodeInfo, NodeLoad
from mirp.cluster.keeper import Keeper
from mirp.cluster.redis_directory import RedisDirectory
from mirp.errors import Conflict, MirpError
from tests.cluster.conftest import Cluster
from tests.support.redis import RedisServer
from tests.support.wait import Seen, until

TTL = 0.6


class Losses:
    def __init__(self) -> None:
        self.seen: list[tuple[Lease, MirpError]] = []

    def __call__(self, lease: Lease, why: MirpError) -> None:
        self.seen.append((lease, why))


def keeper(cluster: Cluster, node_id: str, lost: Losses, listeners: int = 0) -> Keeper:
    info = NodeInfo(node_id, f"127.0.0.1:{7000 + len(node_id)}", NodeLoad(listeners, 0, 0.0))
    return Keeper(cluster.directory(), lambda: info, ttl_s=TTL, on_lost=lost)


async def test_the_keeper_keeps_its_node_and_lease_past_the_ttl(cluster: Cluster) -> None:
    lost = Losses()
    k = keeper(cluster, "origin", lost, listeners=42)
    k.start()
    try:
        lease = await k.acquire("m1")
        other = cluster.directory()

        async def several_ttls_later() -> object:
            return k.rounds >= 8 or Seen(k.rounds)  # 8 rounds of TTL/3: over 2 TTLs

        await until(several_ttls_later, "the keeper to go through several TTLs")
        with pytest.raises(Conflict):
            await other.acquire("m1", "edge", 60)
        assert k.holds("m1") == lease and k.state("m1") == "held"
        assert [(n.node_id, n.load.listeners) for n in await other.nodes()] == [("origin", 42)]
        assert lost.seen == []
    finally:
        await k.stop()
    assert await cluster.directory().holder("m1") is None  # released on a clean stop
    assert await cluster.directory().nodes() == []


async def test_a_placed_lease_is_adopted_and_kept(cluster: Cluster) -> None:
    k = keeper(cluster, "chosen", Losses())
    await k.round()  # listed: placement can choose it
    placed = await cluster.directory().place("m1", TTL)
    assert placed.node_id == "chosen"
    assert await k.adopt(placed) == placed
    k.start()
    try:
        await until(lambda: k.rounds >= 6 or Seen(k.rounds), "two TTLs of rounds")
        assert await cluster.directory().holder("m1") == placed == k.holds("m1")
    finally:
        await k.stop()


async def test_a_crashed_keeper_leaves_by_expiry(cluster: Cluster) -> None:
    k = keeper(cluster, "crashing", Losses())
    k.start()
    await k.acquire("m1")
    await until(lambda: k.rounds >= 1 or Seen(k.rounds), "one round")
    await k.stop(leave=False)  # what a SIGKILL leaves behind
    d = cluster.directory()

    async def all_gone() -> object:
        state = (await d.nodes(), await d.holder("m1"))
        return state == ([], None) or Seen(state)

    await until(all_gone, "the node and its lease to expire")


async def test_a_paused_then_resumed_holder_learns_it_lost_the_lease(cluster: Cluster) -> None:
    lost_a, lost_b = Losses(), Losses()
    a, b = keeper(cluster, "a", lost_a), keeper(cluster, "b", lost_b)
    old = await a.acquire("m1")  # "a" never runs its rounds: it is paused
    b.start()
    try:
        async def b_took_over() -> object:
            try:
                return await b.acquire("m1")
            except Conflict as exc:
                return Seen(exc.details)

        new = await until(b_took_over, "b to take the lease over")
        assert new.epoch == old.epoch + 1
        assert a.holds("m1") is None  # a's own clock already says: unproven
        assert a.state("m1") == "unproven"
        await a.round()  # "a" resumes
        assert [(lease, type(why)) for lease, why in lost_a.seen] == [(old, Conflict)]
        assert a.state("m1") is None
        await a.round()
        assert len(lost_a.seen) == 1  # told once
        assert b.holds("m1") == new and lost_b.seen == []
    finally:
        await b.stop()


@pytest.fixture
async def frozen_parts(own_redis: RedisServer) -> AsyncIterator[RedisDirectory]:
    d = RedisDirectory(own_redis.url, bound_s=0.3)
    yield d
    await d.aclose()


@pytest.mark.redis
async def test_a_lease_that_cannot_be_renewed_is_no_longer_claimed(
        own_redis: RedisServer, frozen_parts: RedisDirectory) -> None:
    lost = Losses()
    info = NodeInfo("origin", "127.0.0.1:1")
    k = Keeper(frozen_parts, lambda: info, ttl_s=2.0, on_lost=lost)
    lease = await k.acquire("m1")
    k.start()
    own_redis.freeze()
    try:
        await until(lambda: k.state("m1") == "unproven" or Seen(k.state("m1")),
                    "the lease to become unproven while Redis is frozen")
        assert k.holds("m1") is None and lost.seen == [] and not k.node_alive
    finally:
        own_redis.thaw()
    # Redis kept counting while frozen: the lease expired there, unclaimed. It is renewed (if
    # the key survived) or taken again with a newer epoch; never lost, never claimed without a
    # renewal.
    await until(lambda: k.state("m1") == "held" or Seen(k.state("m1")),
                "the keeper to settle after the thaw")
    held = k.holds("m1")
    assert lost.seen == [] and held is not None
    assert held == lease or (held.epoch > lease.epoch and k.retaken == 1), (held, lease)
    await k.stop()


class SwallowingDirectory(LocalDirectory):
    """A directory whose heartbeat swallows a cancellation once, as redis-py's read timeouts
    can when a cancel lands at the wrong moment (seen as a resumed origin that never stopped)."""

    def __init__(self) -> None:
        super().__init__()
        self.beating = asyncio.Event()
        self.swallowed = 0

    async def heartbeat(self, node: NodeInfo, ttl_s: float) -> None:
        if self.swallowed:
            return
        self.beating.set()
        try:
            await asyncio.Event().wait()  # a reply that never comes
        except asyncio.CancelledError:
            self.swallowed += 1  # the library's bug: the cancellation goes no further


async def test_stop_ends_the_keeper_even_if_a_cancellation_is_swallowed() -> None:
    d = SwallowingDirectory()
    k = Keeper(d, lambda: NodeInfo("n", "x"), ttl_s=0.3, on_lost=Losses())
    await k.acquire("m1")
    k.start()
    async with asyncio.timeout(20):  # a hang guard: only a keeper that never stops reaches it
        await d.beating.wait()
        await k.stop()
    assert d.swallowed == 1
