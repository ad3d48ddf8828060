"""The cluster wired into the app (app.py): without Redis the registry is the door, as before;
with MIRP_REDIS_URL each app is a node (ClusterRooms on app.state.rooms), two apps in this
process sharing one SQLite file and the suite's redis-server form a cluster: a Session on the
node that is not the meeting's origin gets the same welcome and floor events, and the REST
decisions made on it reach the Room at the origin."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from mirp.cluster.bus import Envelope, Kind
from mirp.cluster.redis_bus import RedisBus
from mirp.rooms import hop
from mirp.rooms.registry import RoomRegistry
from tests.integration.conftest import WsClient
from tests.support.cluster import Nodes, app_nodes
from tests.support.factory import ServedApp, make_meeting, running_app
from tests.support.redis import RedisServer
from tests.support.wait import until

pytestmark = pytest.mark.redis

async def test_without_redis_the_registry_is_the_door(tmp_path: Path) -> None:
    async with running_app(tmp_path, media_process=False) as (app, client):
        assert type(app.state.rooms) is RoomRegistry
        assert app.state.cluster is None
        assert (tmp_path / "journal.bin").exists()
        r = await client.get("/readyz")
        assert r.status_code == 200 and "cluster" not in r.json(), r.text


@pytest.fixture
async def two(tmp_path: Path, redis_server: RedisServer) -> AsyncIterator[Nodes]:
    async with app_nodes(tmp_path, redis_server.url) as nodes:
        yield nodes


@pytest.mark.parametrize("message", [
    hop.DecisionRequest("m1", "revoke_invitation", {"invitation_id": "i_1"}),
    hop.DecisionRequest("m1", "meeting_status", {"status": "closed", "by": None}),
    hop.Answered(["p_1", "p_2"]), hop.Answered({"open": True, "ü": "ß"}), hop.Answered(None)],
    ids=lambda m: type(m).__name__)
def test_decision_messages_round_trip(message: object) -> None:
    assert hop.decode(hop.encode(message)) == message  # type: ignore[arg-type]


async def test_a_bad_decision_is_refused_and_the_node_goes_on(two: Nodes) -> None:
    bus = RedisBus(two.url, node_id="prober", prefix=two.prefix)
    try:
        for bad in (hop.DecisionRequest("m1", "explode", {}),
                    hop.DecisionRequest("m1", "revoke_invitation", {}),  # no invitation id
                    hop.OpenRequest("m1", 1)):
            env = Envelope(Kind.COMMAND, "prober", hop.encode(bad))
            answer = hop.decode((await bus.request(hop.decide_topic("node-a"), env, 5.0)).body)
            assert isinstance(answer, hop.Failed), answer
            assert answer.error.code == "invalid_message", answer.error
        good = hop.DecisionRequest("m_none", "overview", {})
        env = Envelope(Kind.COMMAND, "prober", hop.encode(good))
        answer = hop.decode((await bus.request(hop.decide_topic("node-a"), env, 5.0)).body)
        assert answer == hop.Answered(None)  # no such room open: nothing
    finally:
        await bus.aclose()


async def test_a_node_of_the_cluster(two: Nodes) -> None:
    for name, served in two.apps.items():
        assert (Path(served.app.state.settings.data_dir) / f"journal-{name}.bin").exists()
        async with httpx.AsyncClient(base_url=served.base_url) as http:
            ready = (await http.get("/readyz")).json()
        assert ready["checks"]["redis"] == "ok", ready
        assert ready["cluster"]["node_id"] == name and ready["cluster"]["serving"], ready


async def metrics(served: ServedApp) -> dict[str, float]:
    async with httpx.AsyncClient(base_url=served.base_url) as http:
        text = (await http.get("/metrics")).text
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            out[name] = float(value)
    return out


async def test_floor_and_revoke_across_two_nodes(two: Nodes) -> None:
    async with httpx.AsyncClient(base_url=two.apps["node-a"].base_url) as http:
        meeting = await make_meeting(http, interpreters={}, observer=False)
    mid = meeting.meeting_id
    clients: list[WsClient] = []
    try:
        chair = await WsClient.open(f"{two.apps['node-a'].ws_url}/ws", "chair")
        clients.append(chair)
        welcome = await chair.hello(meeting.tokens["chair"])
        assert welcome.get("type") == "welcome", welcome
        origin = await two.origin_of(mid)
        assert origin in ("node-a", "node-b")
        edge_name = "node-b" if origin == "node-a" else "node-a"
        edge, origin_app = two.apps[edge_name], two.apps[origin]
        d1 = await WsClient.open(f"{edge.ws_url}/ws", "delegate1")
        d2 = await WsClient.open(f"{edge.ws_url}/ws", "delegate2")
        clients += [d1, d2]
        for c, key in ((d1, "delegate1"), (d2, "delegate2")):
            welcome = await c.hello(meeting.tokens[key])
            assert welcome.get("type") == "welcome", welcome
        chair_on_edge = edge_name == "node-a"
        assert two.rooms(edge_name).cluster_readout().edge_sessions == 2 + chair_on_edge
        await chair.ok("floor_give", participant_id=meeting.people["delegate1"].participant_id)

        def floors(c: WsClient) -> list[tuple[int, list[str]]]:
            return [(m["seq"], m["holders"]) for m in c.events("floor")]

        await until(lambda: floors(d1) and floors(d1) == floors(chair) == floors(d2),
                    lambda: f"the same floor events: {[floors(c) for c in clients]}")

        # the organizer's live view and a revoke, both asked of the edge: they run at the origin
        async with httpx.AsyncClient(base_url=edge.base_url) as http:
            headers = {"authorization": f"Bearer {meeting.organizer_token}"}
            live = (await http.get(f"/api/meetings/{mid}/live", headers=headers)).json()
            assert live["open"] is True and live["connected"] == 3, live
            inv = meeting.people["delegate2"].invitation_id
            r = await http.delete(f"/api/meetings/{mid}/invitations/{inv}", headers=headers)
            assert r.status_code in (200, 204), r.text
        code, _ = await d2.wait_closed()
        assert code == 4403
        assert two.rooms(edge_name).cluster_readout().decisions_forwarded >= 2
        assert two.rooms(origin).cluster_readout().decisions_served >= 2
        assert d1.closed is None and chair.closed is None

        # per-node metrics: the edge's Sessions and forwarded decisions, the origin's lease
        edge_m, origin_m = await metrics(edge), await metrics(origin_app)
        assert edge_m["mirp_cluster_edge_sessions"] == 1 + chair_on_edge, edge_m
        assert edge_m['mirp_cluster_decisions_total{outcome="forwarded"}'] >= 2
        assert origin_m['mirp_cluster_leases{state="held"}'] == 1.0, origin_m
        assert origin_m["mirp_cluster_stand_ins"] == 1 + chair_on_edge
        assert origin_m["mirp_cluster_stream_sent"] > 0
        assert "mirp_relay_packets_sent_total" in origin_m  # the relay's counters are there
    finally:
        for c in clients:
            await c.close()


async def test_closing_and_deleting_from_the_edge_reach_the_room(two: Nodes) -> None:
    """PATCH status closed (4410 for everyone) and DELETE (4404), both asked of the node that
    is not the meeting's origin."""
    clients: list[WsClient] = []
    try:
        for method, body, expected in (("PATCH", {"status": "closed"}, 4410),
                                       ("DELETE", None, 4404)):
            async with httpx.AsyncClient(base_url=two.apps["node-a"].base_url) as http:
                meeting = await make_meeting(http, interpreters={}, observer=False)
            mid = meeting.meeting_id
            chair = await WsClient.open(f"{two.apps['node-a'].ws_url}/ws", "chair")
            clients.append(chair)
            welcome = await chair.hello(meeting.tokens["chair"])
            assert welcome.get("type") == "welcome", welcome
            origin = await two.origin_of(mid)
            assert origin is not None
            edge = "node-b" if origin == "node-a" else "node-a"
            d1 = await WsClient.open(f"{two.apps[edge].ws_url}/ws", "delegate1")
            clients.append(d1)
            welcome = await d1.hello(meeting.tokens["delegate1"])
            assert welcome.get("type") == "welcome", welcome
            async with httpx.AsyncClient(base_url=two.apps[edge].base_url) as http:
                headers = {"authorization": f"Bearer {meeting.organizer_token}"}
                r = await http.request(method, f"/api/meetings/{mid}", json=body,
                                       headers=headers)
                assert r.status_code in (200, 204), r.text
            for c in (chair, d1):
                code, _ = await c.wait_closed()
                assert code == expected, (c.name, code)
    finally:
        for c in clients:
            await c.close()
