"""Redis away under two wired nodes (a redis-server of the test's own, stopped and started
again empty): /readyz on each node says "degraded"; the Sessions stay connected, the origin's
own Sessions keep working and its listeners keep receiving audio; when Redis is back the origin
takes its lease again (a newer epoch), and at the meeting's next event the edge's Sessions get a
fresh welcome with what they missed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.conftest import LightListener, WsClient
from tests.support.cluster import app_nodes
from tests.support.factory import make_meeting
from tests.support.redis import RedisServer
from tests.support.wait import Seen, until

pytestmark = [pytest.mark.redis, pytest.mark.rtc]


async def _ready(base: str) -> tuple[int, dict[str, Any]]:
    async with httpx.AsyncClient(base_url=base) as http:
        r = await http.get("/readyz", timeout=10)
    return r.status_code, r.json()


async def test_redis_away_and_back(tmp_path: Path, own_redis: RedisServer) -> None:
    async with app_nodes(tmp_path, own_redis.url) as nodes:
        async with httpx.AsyncClient(base_url=nodes.apps["node-a"].base_url) as http:
            meeting = await make_meeting(http, interpreters={}, observer=False)
        mid = meeting.meeting_id
        clients: list[WsClient] = []
        listener: LightListener | None = None
        try:
            first = await WsClient.open(f"{nodes.apps['node-a'].ws_url}/ws", "chair")
            clients.append(first)
            await first.hello(meeting.tokens["chair"])  # places the meeting
            origin = await nodes.origin_of(mid)
            assert origin in nodes.apps
            edge = "node-b" if origin == "node-a" else "node-a"
            chair = first
            if origin != "node-a":  # the chair on the origin, the delegate on the edge
                chair = await WsClient.open(f"{nodes.apps[origin].ws_url}/ws", "chair")
                clients.append(chair)
                await chair.hello(meeting.tokens["chair"])
            d1 = await WsClient.open(f"{nodes.apps[edge].ws_url}/ws", "delegate1")
            clients.append(d1)
            assert (await d1.hello(meeting.tokens["delegate1"]))["type"] == "welcome"
            p1 = meeting.people["delegate1"].participant_id
            pc = meeting.people["chair"].participant_id
            listener = LightListener("chair")  # the chair's peer on the origin: audio packets
            await listener.connect(chair)
            await until(lambda: listener.packets > 20 or Seen(listener.packets), "audio flowing")

            own_redis.stop()
            for name, served in nodes.apps.items():
                async def degraded(base: str = served.base_url) -> object:
                    code, body = await _ready(base)
                    details = body.get("error", {}).get("details", {})
                    return (code == 503 and details.get("status") == "degraded"
                            and details["checks"]["redis"].startswith("error")) or Seen(body)

                await until(degraded, f"{name}: /readyz degraded", 20)

            # the origin's own Sessions are served by its Room as on one process, media too
            await chair.ok("floor_give", participant_id=pc)
            assert chair.closed is None and d1.closed is None
            before = listener.packets
            await until(lambda: listener.packets > before + 50 or Seen(listener.packets),
                        "a second of audio more while Redis is away")

            own_redis.start()  # empty: no lease, no node left in it
            for name, served in nodes.apps.items():
                async def green(base: str = served.base_url) -> object:
                    code, body = await _ready(base)
                    cluster = body.get("cluster", {})
                    return (code == 200 and cluster["node_alive"]
                            and cluster["bus_live"]) or Seen(body)

                await until(green, f"{name}: /readyz green again", 30)
            await until(lambda: nodes.rooms(origin).node.keeper.retaken >= 1,
                        "the origin's lease taken again", 30)
            assert await nodes.origin_of(mid) == origin  # the same origin, a newer epoch

            # the next event of the meeting shows the edge its stream was broken (a gap, a
            # newer epoch): it resyncs, a fresh welcome on the same connection with what it
            # missed (the floor given during the outage), and the stream goes on from there
            await chair.ok("floor_give", participant_id=p1)

            def view(c: WsClient) -> list[str]:
                """The floor holders as the client's messages make them: its last welcome,
                then the floor events after it."""
                last = max(i for i, m in enumerate(c.messages) if m.get("type") == "welcome")
                holders = c.messages[last]["room"]["floor"]["holders"]
                for m in c.messages[last:]:
                    if m.get("type") == "floor":
                        holders = m["holders"]
                return sorted(holders)

            def resynced() -> object:
                welcomes = d1.events("welcome")
                ok = len(welcomes) >= 2 and welcomes[-1].get("resumed")
                return (ok and p1 in view(chair) and view(d1) == view(chair)) or Seen(
                    ([(w.get("seq"), w.get("resumed")) for w in welcomes], view(d1),
                     view(chair)))

            await until(resynced, "a fresh welcome on the edge, the same floor", 30)
            assert nodes.rooms(edge).cluster_readout().resyncs >= 1
            assert chair.closed is None and d1.closed is None
        finally:
            if listener is not None:
                await listener.close()
            for c in clients:
                await c.close()
