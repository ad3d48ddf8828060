"""The Directory's contract, held against LocalDirectory and RedisDirectory alike: nodes by
heartbeat with a TTL, meeting leases fenced by an epoch, placement on the least loaded node.
Expiry is waited for by polling (short TTLs), never by sleeping or timing."""

from __future__ import annotations

import asyncio

import pytest

from mirp.cluster.directory import Directory, Lease, NodeInfo, NodeLoad
from mirp.errors import Conflict, InvalidInput
from tests.cluster.conftest import Cluster
from tests.support.wait import Seen, until

TTL = 0.4  # short, so expiry comes quickly; long leases (60 s) where nothing may expire


def node(node_id: str, listeners: int = 0, feeds: int = 0, cpu: float = 0.0) -> NodeInfo:
    return NodeInfo(node_id, f"127.0.0.1:{9000 + len(node_id)}", NodeLoad(listeners, feeds, cpu))


async def test_nodes_are_listed_least_loaded_first(cluster: Cluster) -> None:
    d = cluster.directory()
    await d.heartbeat(node("a", listeners=300), 60)
    await d.heartbeat(node("b", listeners=10, feeds=1), 60)
    await d.heartbeat(node("c", listeners=5), 60)
    nodes = await d.nodes()
    assert [n.node_id for n in nodes] == ["c", "b", "a"]
    assert nodes[1] == node("b", listeners=10, feeds=1)
    await d.leave("c")
    assert [n.node_id for n in await d.nodes()] == ["b", "a"]


async def test_a_node_whose_heartbeats_stop_disappears(cluster: Cluster) -> None:
    d = cluster.directory()
    await d.heartbeat(node("steady"), 60)
    await d.heartbeat(node("dying"), TTL)

    async def gone() -> object:
        ids = [n.node_id for n in await d.nodes()]
        return ids == ["steady"] or Seen(ids)

    await until(gone, "the node without heartbeats to expire")


async def test_heartbeats_keep_a_node_alive_past_its_ttl(cluster: Cluster) -> None:
    d = cluster.directory()
    await d.heartbeat(node("alive"), TTL)
    await d.heartbeat(node("dying"), TTL)
    beats = 0

    async def only_alive_left() -> object:
        nonlocal beats
        await d.heartbeat(node("alive"), TTL)
        beats += 1
        ids = [n.node_id for n in await d.nodes()]
        return ids == ["alive"] or Seen(ids)

    await until(only_alive_left, "the silent node to expire while the other beats", step=0.05)
    assert beats > 1


async def test_a_held_lease_is_refused_to_others_and_renewable(cluster: Cluster) -> None:
    a, b = cluster.directory(), cluster.directory()
    lease = await a.acquire("m1", "node-a", 60)
    assert lease == Lease("m1", "node-a", 1)
    with pytest.raises(Conflict) as refused:
        await b.acquire("m1", "node-b", 60)
    assert refused.value.details["holder"] == "node-a"
    assert await a.renew(lease, 60) == lease
    assert await b.holder("m1") == lease
    assert await b.holder("other") is None


async def test_epoch_grows_on_every_acquisition_even_after_release(cluster: Cluster) -> None:
    d = cluster.directory()
    first = await d.acquire("m1", "node-a", 60)
    second = await d.acquire("m1", "node-a", 60)  # the same node again (e.g. restarted)
    assert (first.epoch, second.epoch) == (1, 2)
    with pytest.raises(Conflict):
        await d.renew(first, 60)
    await d.release(first)  # stale: no effect
    assert await d.holder("m1") == second
    await d.release(second)
    assert await d.holder("m1") is None
    third = await d.acquire("m1", "node-b", 60)
    assert third.epoch == 3


async def test_an_expired_lease_is_taken_over_and_the_paused_holder_is_fenced(
        cluster: Cluster) -> None:
    a, b = cluster.directory(), cluster.directory()
    old = await a.acquire("m1", "node-a", TTL)
    # node-a is "paused": it stops renewing. node-b takes over once the lease expires.
    new = await until(lambda: _try_acquire(b, "m1", "node-b"), "node-b to take the lease over")
    assert new == Lease("m1", "node-b", old.epoch + 1)
    # node-a resumes and tries to go on with its old epoch: refused, whatever it does.
    with pytest.raises(Conflict) as refused:
        await a.renew(old, 60)
    assert refused.value.details == {"meeting": "m1", "epoch": 1, "current": 2}
    with pytest.raises(Conflict):
        await a.acquire("m1", "node-a", 60)
    await a.release(old)
    assert await a.holder("m1") == new


async def test_a_new_epoch_is_above_the_highest_the_caller_has_seen(cluster: Cluster) -> None:
    d = cluster.directory()
    assert (await d.acquire("m1", "node-a", 60)).epoch == 1
    # e.g. the store lost its data: the next holder passes the highest epoch it has seen
    assert (await d.acquire("m1", "node-a", 60, after=41)).epoch == 42
    assert (await d.acquire("m1", "node-a", 60, after=5)).epoch == 43
    await d.heartbeat(node("n1"), 60)
    assert (await d.place("m2", 60, after=9)).epoch == 10


async def test_an_expired_lease_cannot_be_renewed_even_if_nobody_took_it(
        cluster: Cluster) -> None:
    d = cluster.directory()
    lease = await d.acquire("m1", "node-a", TTL)
    await until(lambda: _holder_is_none(d, "m1"), "the lease to expire")
    with pytest.raises(Conflict):
        await d.renew(lease, 60)


async def test_place_picks_the_least_loaded_live_node_once(cluster: Cluster) -> None:
    d = cluster.directory()
    await d.heartbeat(node("busy", listeners=900), 60)
    await d.heartbeat(node("idle", listeners=20), 60)
    await d.heartbeat(node("dead", listeners=0), TTL)  # least loaded, but about to die
    await until(lambda: _ids(d, ["idle", "busy"]), "the dead node to expire")
    lease = await d.place("m1", 60)
    assert (lease.node_id, lease.epoch) == ("idle", 1)
    await d.heartbeat(node("idle", listeners=5000), 60)
    assert await d.place("m1", 60) == lease  # placed already: load changes nothing
    assert (await d.place("m2", 60)).node_id == "busy"


async def test_concurrent_placements_agree_on_one_node(cluster: Cluster) -> None:
    d = cluster.directory()
    for i in range(5):
        await d.heartbeat(node(f"n{i}", listeners=10), 60)  # a tie: any could be chosen
    racers = [cluster.directory() for _ in range(8)]
    leases = await asyncio.gather(*(r.place("m1", 60) for r in racers))
    assert len(set(leases)) == 1, leases
    assert leases[0].epoch == 1


async def test_concurrent_acquisitions_have_one_winner(cluster: Cluster) -> None:
    racers = [cluster.directory() for _ in range(8)]
    results = await asyncio.gather(
        *(r.acquire("m1", f"n{i}", 60) for i, r in enumerate(racers)), return_exceptions=True)
    won = [r for r in results if isinstance(r, Lease)]
    assert len(won) == 1, results
    assert all(isinstance(r, Conflict) for r in results if not isinstance(r, Lease))
    assert won[0].epoch == 1 and await racers[0].holder("m1") == won[0]


async def test_place_with_no_live_node_is_a_conflict(cluster: Cluster) -> None:
    with pytest.raises(Conflict):
        await cluster.directory().place("m1", 60)


async def test_the_placed_node_adopts_its_lease_by_renewing_it(cluster: Cluster) -> None:
    d = cluster.directory()
    await d.heartbeat(node("n1"), 60)
    placed = await d.place("m1", TTL)
    held = await d.holder("m1")
    assert held == placed
    assert await d.renew(placed, 60) == placed  # now safe from expiry for a minute
    with pytest.raises(Conflict):
        await d.acquire("m1", "n2", 60)


@pytest.mark.parametrize("bad", ["", "a b", "x:y", "m\n"])
async def test_bad_names_are_refused(cluster: Cluster, bad: str) -> None:
    d = cluster.directory()
    with pytest.raises(InvalidInput):
        await d.acquire(bad, "n1", 60)
    with pytest.raises(InvalidInput):
        await d.heartbeat(NodeInfo(bad, "x"), 60)
    with pytest.raises(InvalidInput):
        await d.acquire("m", "n1", 0)


async def _try_acquire(d: Directory, meeting: str, node_id: str) -> Lease | Seen:
    try:
        return await d.acquire(meeting, node_id, 60)
    except Conflict as exc:
        return Seen(exc.details)


async def _holder_is_none(d: Directory, meeting: str) -> bool:
    return await d.holder(meeting) is None


async def _ids(d: Directory, expected: list[str]) -> object:
    ids = [n.node_id for n in await d.nodes()]
    return ids == expected or Seen(ids)
