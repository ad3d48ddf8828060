"""Durable before acknowledged, and the live room survives a restart (docs/rooms.md).

Real `mirp serve` processes killed with SIGKILL right after an acknowledged command, then
started again on the same data directory and port: a removal and a close hold, the room comes
back (floor, speakers list, on air, channels) for clients reconnecting with their tokens, and
every record made before the kill reaches the database. PostgreSQL stopped for longer than the
old recorder's retries: the records are written once it is back, a removal meanwhile is refused
(retryable) and changes nothing.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.conftest import WsClient
from tests.support.factory import MeetingFixture, make_meeting_http
from tests.support.postgres import PostgresServer, start_postgres
from tests.support.server import Server, ack_then_kill
from tests.support.wait import Seen, until


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[Server]:
    srv = Server(tmp_path)
    await srv.start()
    try:
        yield srv
    finally:
        srv.close()


@pytest.fixture
def private_postgres() -> Iterator[PostgresServer]:
    """Its own PostgreSQL, since this test stops it (the session's is shared)."""
    with start_postgres() as pg:
        yield pg


async def meeting(srv: Server) -> MeetingFixture:
    async with httpx.AsyncClient(base_url=srv.base, timeout=30) as http:
        return await make_meeting_http(http, delegates=3, interpreters={"fr": 1},
                                       observer=False)


async def connect(srv: Server, fx: MeetingFixture, key: str) -> WsClient:
    ws = await WsClient.open(srv.ws, key)
    welcome = await ws.hello(fx.tokens[key])
    assert welcome.get("type") == "welcome", f"{key}: {welcome}"
    return ws


async def refused(srv: Server, fx: MeetingFixture, key: str) -> tuple[int | None, str]:
    ws = await WsClient.open(srv.ws, key)
    try:
        reply = await ws.hello(fx.tokens[key])
        assert reply.get("type") != "welcome", f"{key} was welcomed: {reply}"
        return await ws.wait_closed()
    finally:
        await ws.close()


async def report(srv: Server, fx: MeetingFixture) -> dict[str, Any]:
    auth = {"Authorization": f"Bearer {fx.organizer_token}"}
    async with httpx.AsyncClient(headers=auth, timeout=10) as http:
        r = await http.get(f"{srv.base}/api/meetings/{fx.meeting_id}/report")
        assert r.status_code == 200, r.text
        return dict(r.json())


async def close_all(*clients: WsClient) -> None:
    for c in clients:
        await c.close()


async def test_an_acked_removal_survives_a_kill(server: Server) -> None:
    fx = await meeting(server)
    chair = await connect(server, fx, "chair")
    d1 = await connect(server, fx, "delegate1")
    await ack_then_kill(server, chair, "participant_remove",
                        participant_id=fx.people["delegate1"].participant_id)
    await close_all(chair, d1)
    await server.start()
    code, reason = await refused(server, fx, "delegate1")
    assert code == 4403, (code, reason)
    again = await connect(server, fx, "chair")  # the others are still welcome
    assert fx.people["delegate1"].participant_id not in {
        p["participant_id"] for p in again.welcome["room"]["participants"]}  # type: ignore[index]
    await again.close()


async def test_an_acked_leave_survives_a_kill(server: Server) -> None:
    """`leave` is acked once the Room dropped the participant and that is on disk: after a kill
    right at the ack, the restored room does not hold them as merely disconnected."""
    fx = await meeting(server)
    chair = await connect(server, fx, "chair")
    d1 = await connect(server, fx, "delegate1")
    await ack_then_kill(server, d1, "leave")
    await close_all(chair, d1)
    await server.start()
    again = await connect(server, fx, "chair")
    assert fx.people["delegate1"].participant_id not in {
        p["participant_id"] for p in again.welcome["room"]["participants"]}  # type: ignore[index]
    await again.close()


async def test_an_acked_close_survives_a_kill(server: Server) -> None:
    fx = await meeting(server)
    chair = await connect(server, fx, "chair")
    d1 = await connect(server, fx, "delegate1")
    await ack_then_kill(server, chair, "meeting_close")
    await close_all(chair, d1)
    await server.start()
    for key in ("chair", "delegate2"):
        code, reason = await refused(server, fx, key)
        assert code == 4410, (key, code, reason)  # meeting_closed


def _live(room: dict[str, Any]) -> dict[str, Any]:
    """What must come back: floor (minus its ticking clock), list, on air, channels."""
    floor = {k: v for k, v in room["floor"].items() if k != "remaining_s"}
    return {
        "floor": floor,
        "on_air": {b["language"]: (b["on_air"], b["channel"]) for b in room["booths"]},
        "channels": room["channels"],
        "subscription": room["subscription"],
        "status": room["meeting"]["status"],
    }


async def test_the_live_room_survives_a_kill(server: Server) -> None:
    fx = await meeting(server)
    keys = ["chair", "delegate1", "delegate2", "delegate3", "interpreter_fr1"]
    clients = {k: await connect(server, fx, k) for k in keys}
    pid = {k: fx.people[k].participant_id for k in keys}
    await clients["delegate2"].ok("subscribe", channel="fr", floor_under=-12)
    await clients["delegate3"].ok("floor_request")
    await clients["delegate2"].ok("floor_request")
    await clients["chair"].ok("floor_time_limit", seconds=120)
    await clients["interpreter_fr1"].ok("on_air", on=True)
    await clients["chair"].ok("floor_give", participant_id=pid["delegate1"])
    await clients["chair"].ok("floor_language", language="en")
    await clients["delegate1"].ok("subscribe", channel="fr", floor_under=-18)
    # the state as everyone was last told, read by a fresh session of each just before the kill
    before = {}
    for k in keys:
        fresh = await connect(server, fx, k)
        clients[k] = fresh
        before[k] = _live(fresh.welcome["room"])  # type: ignore[index]
    assert before["chair"]["floor"]["holders"] == [pid["delegate1"]]
    assert [s["participant_id"] for s in before["chair"]["floor"]["speakers"]] == [
        pid["delegate3"], pid["delegate2"]]
    assert before["chair"]["on_air"]["fr"][0] == pid["interpreter_fr1"]
    await ack_then_kill(server, clients["delegate3"], "subscribe", channel="zh", floor_under=None)
    before["delegate3"]["subscription"] = {"channel": "zh", "floor_under": None, "auto": False}
    await close_all(*clients.values())
    await server.start()
    back = {k: await connect(server, fx, k) for k in keys}
    for k, ws in back.items():
        room = ws.welcome["room"]  # type: ignore[index]
        assert room.get("restored") is True, f"{k}: {room}"
        # routes follow who is connected: compared once everyone is back (below)
        after = _live(room) | {"channels": before[k]["channels"]}
        assert after == before[k], f"{k}: {after} != {before[k]}"
    last = await connect(server, fx, "chair")
    assert "restored" not in last.welcome["room"]  # type: ignore[index]
    assert _live(last.welcome["room"]) == before["chair"]  # type: ignore[index]
    await close_all(last, *back.values())


async def test_the_live_room_survives_a_graceful_restart(server: Server) -> None:
    fx = await meeting(server)
    pid = {k: p.participant_id for k, p in fx.people.items()}
    chair = await connect(server, fx, "chair")
    d1 = await connect(server, fx, "delegate1")
    d2 = await connect(server, fx, "delegate2")
    await d2.ok("subscribe", channel="fr", floor_under=None)
    await d2.ok("floor_request")
    await chair.ok("floor_give", participant_id=pid["delegate1"])
    server.close()  # SIGTERM: the server stops cleanly, telling the clients to come back
    assert (await d1.wait_closed())[0] in (1001, 1012)  # both: reconnect
    await close_all(chair, d1, d2)
    await server.start()
    d2 = await connect(server, fx, "delegate2")
    room = d2.welcome["room"]  # type: ignore[index]
    assert room.get("restored") is True, room
    assert room["floor"]["holders"] == [pid["delegate1"]], room["floor"]
    assert [s["participant_id"] for s in room["floor"]["speakers"]] == [pid["delegate2"]]
    assert room["subscription"]["channel"] == "fr"
    rep = await report(server, fx)  # nobody left: one join each, no leave yet
    assert {a["participant_id"]: (a["joins"], a["last_leave"]) for a in rep["attendance"]} == {
        pid[k]: (1, None) for k in ("chair", "delegate1", "delegate2")}, rep["attendance"]
    await d2.close()


async def test_records_made_before_a_kill_reach_the_report(server: Server) -> None:
    fx = await meeting(server)
    chair = await connect(server, fx, "chair")
    d1 = await connect(server, fx, "delegate1")
    fr1 = await connect(server, fx, "interpreter_fr1")
    d1_id = fx.people["delegate1"].participant_id
    fr1_id = fx.people["interpreter_fr1"].participant_id
    await d1.ok("subscribe", channel="fr", floor_under=None)
    await chair.ok("floor_give", participant_id=d1_id)
    await fr1.ok("on_air", on=True)
    await fr1.ok("on_air", on=False)
    await chair.ok("floor_take", participant_id=d1_id)
    await ack_then_kill(server, d1, "subscribe", channel="floor", floor_under=None)
    await close_all(chair, d1, fr1)
    await server.start()

    def complete(rep: dict[str, Any]) -> bool:
        return bool(
            {fx.people[k].name for k in ("chair", "delegate1", "interpreter_fr1")}
            <= {a["name"] for a in rep["attendance"]}
            and [t["participant_id"] for t in rep["speaking"]] == [d1_id]
            and [t["participant_id"] for t in rep["interpretation"]] == [fr1_id]
            and "fr" in {row["channel"] for row in rep["listening"]})

    async def recorded() -> bool | Seen:
        rep = await report(server, fx)
        return complete(rep) or Seen(rep)

    await until(recorded, "records kept through the kill", 30, step=0.2)


@pytest.mark.postgres
async def test_records_wait_out_a_database_outage(
    tmp_path: Path, private_postgres: PostgresServer
) -> None:
    srv = Server(tmp_path, private_postgres.create_database())
    await srv.start()
    try:
        fx = await meeting(srv)
        chair = await connect(srv, fx, "chair")
        d1 = await connect(srv, fx, "delegate1")
        fr1 = await connect(srv, fx, "interpreter_fr1")
        d1_id = fx.people["delegate1"].participant_id
        private_postgres.stop()
        outage_ends = time.monotonic() + 4.0  # the old recorder gave up after ~1.4 s
        await chair.ok("floor_give", participant_id=d1_id)
        await fr1.ok("on_air", on=True)
        await fr1.ok("on_air", on=False)
        await chair.ok("floor_take", participant_id=d1_id)
        # a decision cannot be committed: refused (retryable), and nothing happened
        reply = await chair.request("participant_remove", participant_id=d1_id)
        assert reply.get("code") == "unavailable", reply
        assert not d1.closed and not d1.events("participant_left"), d1.messages[-3:]
        async with httpx.AsyncClient(timeout=10) as http:
            ready = (await http.get(f"{srv.base}/readyz")).json()
        assert ready["error"]["details"]["journal"]["depth"] > 0, ready
        await asyncio.sleep(max(0.0, outage_ends - time.monotonic()))
        private_postgres.start()

        async def recorded() -> dict[str, Any] | Seen:
            rep = await report(srv, fx)
            return rep if rep.get("speaking") and rep.get("interpretation") else Seen(rep)

        last = await until(recorded, "records kept through the outage", 60, step=0.3)
        assert [t["participant_id"] for t in last["speaking"]] == [d1_id]
        async with httpx.AsyncClient(timeout=10) as http:
            ready = (await http.get(f"{srv.base}/readyz")).json()
        assert ready["journal"]["depth"] == 0, ready
        await chair.ok("participant_remove", participant_id=d1_id)  # and decisions work again
        await close_all(chair, d1, fr1)
    finally:
        srv.close()
