"""Three real `mirp serve` processes on loopback, one redis-server, one database (a SQLite file
in WAL mode shared by the three): a cluster as an operator runs it (tests/support/cluster.py).

- a chair on one node gives the floor to a delegate on another, the meeting's origin being the
  third: every client sees the same floor events in the same seq order;
- a REST revoke made on a node that is not the origin reaches the Room (the delegate is closed
  4403 wherever they joined);
- /readyz on each node: its id, the origin and edges as placed;
- a meeting is placed on the least loaded node at its first join.

Media through edges is added by the lead after merge on the same harness (ClusterProcs).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from tests.integration.conftest import WsClient
from tests.support.cluster import ClusterProcs
from tests.support.factory import MeetingFixture, make_meeting
from tests.support.redis import RedisServer
from tests.support.wait import Seen, until

pytestmark = [pytest.mark.process, pytest.mark.redis]


@pytest.fixture(scope="module")
def started(tmp_path_factory: pytest.TempPathFactory,
            redis_server: RedisServer) -> Iterator[ClusterProcs]:
    procs = ClusterProcs(tmp_path_factory.mktemp("three"), redis_server.url)
    try:
        procs.start_blocking()
        yield procs
    finally:
        procs.close()


@pytest.fixture
async def procs(started: ClusterProcs) -> AsyncIterator[ClusterProcs]:
    await until(started.all_live, "every node in the directory", 30)
    yield started


async def _meeting(procs: ClusterProcs, name: str = "node-a") -> MeetingFixture:
    async with httpx.AsyncClient(base_url=procs.base(name), timeout=30) as http:
        return await make_meeting(http, interpreters={})


class Clients:
    def __init__(self) -> None:
        self.all: list[WsClient] = []

    async def join(self, procs: ClusterProcs, node: str, meeting: MeetingFixture,
                   key: str) -> WsClient:
        c = await WsClient.open(f"{procs.ws(node)}", f"{key}@{node}")
        self.all.append(c)
        welcome = await c.hello(meeting.tokens[key])
        assert welcome.get("type") == "welcome", (welcome, procs.logs())
        return c

    async def close(self) -> None:
        for c in self.all:
            await c.close()


async def test_floor_and_revoke_across_three_processes(procs: ClusterProcs) -> None:
    meeting = await _meeting(procs)
    mid = meeting.meeting_id
    clients = Clients()
    try:
        observer = await clients.join(procs, "node-a", meeting, "observer")  # places it
        origin = await procs.origin_of(mid)
        assert origin in procs.names
        first, second = [n for n in procs.names if n != origin]
        chair = await clients.join(procs, first, meeting, "chair")
        d1 = await clients.join(procs, second, meeting, "delegate1")
        d2 = await clients.join(procs, first, meeting, "delegate2")
        await chair.ok("floor_give", participant_id=meeting.people["delegate1"].participant_id)

        def floors(c: WsClient) -> list[tuple[int, list[str]]]:
            return [(m["seq"], m["holders"]) for m in c.events("floor")]

        everyone = [observer, chair, d1, d2]
        await until(lambda: (floors(chair) and all(floors(c) == floors(chair) for c in everyone))
                    or Seen([floors(c) for c in everyone]), "one floor history everywhere")
        seqs = [m["seq"] for m in d1.messages if "seq" in m and m.get("type") != "welcome"]
        assert seqs == sorted(seqs), seqs

        # /readyz on each node: the origin and the edges as placed
        for name in procs.names:
            async with httpx.AsyncClient(base_url=procs.base(name)) as http:
                r = await http.get("/readyz")
            assert r.status_code == 200, r.text
            cluster: dict[str, Any] = r.json()["cluster"]
            assert cluster["node_id"] == name and cluster["node_alive"], cluster
            if name == origin:
                assert cluster["leases"] == "held" and cluster["origin_of"] == 1, cluster
            else:
                assert cluster["edge_of"] == 1, cluster

        # a revoke made on a node that is not the origin reaches the Room at the origin
        inv = meeting.people["delegate2"].invitation_id
        async with httpx.AsyncClient(base_url=procs.base(second)) as http:
            r = await http.delete(f"/api/meetings/{mid}/invitations/{inv}",
                                  headers={"authorization": f"Bearer {meeting.organizer_token}"})
        assert r.status_code == 200, r.text
        code, _ = await d2.wait_closed()
        assert code == 4403
        for c in (observer, chair, d1):
            assert c.closed is None, c.name
    finally:
        await clients.close()


async def test_a_meeting_is_placed_on_the_least_loaded_node(procs: ClusterProcs) -> None:
    busy = await _meeting(procs)
    clients = Clients()
    try:
        await clients.join(procs, "node-a", busy, "chair")
        busy_origin = await procs.origin_of(busy.meeting_id)
        idle = next(n for n in procs.names if n not in ("node-a", busy_origin))
        loaded = [n for n in procs.names if n != idle]
        for i, key in enumerate(("observer", "delegate1", "delegate2", "delegate3")):
            await clients.join(procs, loaded[i % 2], busy, key)

        async def idle_is_least_loaded() -> object:
            nodes = await procs.nodes()
            scores = {n.node_id: n.load.score for n in nodes}
            least = min(scores, key=lambda n: scores[n])
            others = [s for n, s in scores.items() if n != idle]
            return (least == idle and all(s >= scores[idle] + 2 for s in others)) or Seen(scores)

        await until(idle_is_least_loaded, f"{idle} reported least loaded", 30)
        fresh = await _meeting(procs)
        await clients.join(procs, loaded[0], fresh, "chair")  # its first join, elsewhere
        assert await procs.origin_of(fresh.meeting_id) == idle
    finally:
        await clients.close()
