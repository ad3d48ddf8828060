"""Media across three real `mirp serve` processes on loopback, one redis-server, one database
(tests/support/cluster.py `ClusterProcs`), clients as a browser is one: /api/join's token, the
WebSocket, an offer, a real aiortc peer (tests/support/rtc.py); what they hear checked by FFT.

One meeting, its origin where its first join placed it, the two other nodes its edges: a chair
on one edge gives the floor to a delegate (300 Hz) on the other, an interpreter (700 Hz) there
is on air in French. Listeners on both edges hear their channel; the edges encode nothing and
the origin one encoder per distinct feed. The origin is SIGKILLed: the listeners on the edges
hear their channel again on the same peer connection. Then an edge is SIGKILLed: its clients
come back through the node left, with their tokens, and hear their channel again."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.cluster.people import People, gauge, hears
from tests.support.cluster import ClusterProcs
from tests.support.factory import make_meeting
from tests.support.redis import RedisServer
from tests.support.wait import Seen, until

pytestmark = [pytest.mark.process, pytest.mark.redis, pytest.mark.rtc]

FLOOR_HZ, FR_HZ = 300.0, 700.0


@pytest.fixture
async def procs(tmp_path: Any, redis_server: RedisServer) -> AsyncIterator[ClusterProcs]:
    started = ClusterProcs(tmp_path, redis_server.url)
    try:
        await started.start()
        yield started
    finally:
        started.close()


async def test_media_across_three_processes_through_an_origin_and_an_edge_crash(
        procs: ClusterProcs) -> None:
    async with httpx.AsyncClient(base_url=procs.base("node-a"), timeout=30) as http:
        meeting = await make_meeting(http, delegates=1, interpreters={"fr": 1})
    people = People(procs, meeting)
    try:
        chair = await people.join("chair", "node-a", media=False)  # places the meeting
        origin = await procs.origin_of(meeting.meeting_id)
        assert origin is not None
        edge1, edge2 = [n for n in procs.names if n != origin]
        if chair.node == origin:  # the chair on an edge: come in again there
            await chair.ws.close()
            people.all.remove(chair)
            chair = await people.join("chair", edge1, media=False)
        delegate = await people.join("delegate1", edge2, tone_hz=FLOOR_HZ)
        interpreter = await people.join("interpreter_fr1", edge2, tone_hz=FR_HZ)
        observer = await people.join("observer", edge1)
        await interpreter.ws.ok("on_air", on=True)
        await observer.ws.ok("subscribe", channel="fr", floor_under=None)
        await delegate.ws.ok("floor_request")
        await chair.ws.ok("floor_give", participant_id=delegate.ws.welcome["participant_id"]
                          if delegate.ws.welcome else "")

        await hears(observer, FR_HZ, "French from the interpreter on the other edge")
        await hears(interpreter, FLOOR_HZ, "the floor from the delegate on the same edge")

        # each distinct feed encoded once, at the origin; the edges fan out
        async def encoded_once() -> Any:
            enc = {n: await gauge(procs, n, "mirp_media_encoders") for n in procs.names}
            in_use = await gauge(procs, origin, "mirp_media_feeds_in_use")
            ok = enc[edge1] == 0 and enc[edge2] == 0 and enc[origin] == in_use > 0
            return ok or Seen((enc, in_use))

        await until(encoded_once, "encoders == distinct feeds, all at the origin")

        # the origin SIGKILLed: the edges' listeners hear their channel again, same peers
        pcs = {p.key: p.rtc.pc for p in (observer, interpreter) if p.rtc is not None}
        procs.kill(origin)
        await hears(observer, FR_HZ, "French again after the origin died")
        await hears(interpreter, FLOOR_HZ, "the floor again after the origin died")
        for p in (observer, interpreter):
            assert p.rtc is not None and p.rtc.pc is pcs[p.key]
            assert p.rtc.pc.connectionState == "connected"
            assert not p.ws.events("peer_closed") and p.ws.closed is None, p.ws.messages[-3:]
        new_origin = await procs.origin_of(meeting.meeting_id)
        assert new_origin in (edge1, edge2)

        # an edge SIGKILLed: its clients come back through the node left, with their tokens
        gone = edge2 if new_origin == edge1 else edge1
        left = edge1 if gone == edge2 else edge2
        procs.kill(gone)
        moved = [p for p in people.all if p.node == gone and p.rtc is not None]
        for p in moved:
            assert p.rtc is not None
            await p.rtc.close()
            await p.ws.close()
            people.all.remove(p)
        heard = {"delegate1": FLOOR_HZ, "interpreter_fr1": FLOOR_HZ, "observer": FR_HZ}
        tones = {"delegate1": FLOOR_HZ, "interpreter_fr1": FR_HZ}
        for p in moved:
            back = await people.join(p.key, left, tone_hz=tones.get(p.key))
            if p.key != "delegate1":  # the floor holder hears the floor without their voice
                await hears(back, heard[p.key], "their channel again through another node")
        stayed = [p for p in people.all if p.node == left and p.rtc is not None
                  and p.key != "delegate1"]
        for p in stayed:
            await hears(p, heard[p.key], "their channel still, with the speakers back")
    finally:
        await people.close()

