"""People of a meeting on real cluster nodes (tests/support/cluster.py `ClusterProcs`), joined as a
browser joins: /api/join's token, the WebSocket on a node, an offer, a real aiortc peer
(tests/support/rtc.py); what they hear checked by FFT."""

from __future__ import annotations

from typing import Any

import httpx

from tests.integration.conftest import WsClient
from tests.support.audio import level_db_at, peak_hz
from tests.support.cluster import ClusterProcs
from tests.support.factory import MeetingFixture
from tests.support.rtc import RtcClient
from tests.support.wait import Seen, until


class Person:
    def __init__(self, key: str, node: str, ws: WsClient, rtc: RtcClient | None) -> None:
        self.key, self.node, self.ws, self.rtc = key, node, ws, rtc


class People:
    def __init__(self, procs: ClusterProcs, meeting: MeetingFixture) -> None:
        self.procs, self.meeting = procs, meeting
        self.all: list[Person] = []

    async def join(self, key: str, node: str, *, media: bool = True,
                   tone_hz: float | None = None) -> Person:
        ws = await WsClient.open(self.procs.ws(node), f"{key}@{node}")
        welcome = await ws.hello(self.meeting.tokens[key])
        assert welcome.get("type") == "welcome", (welcome, self.procs.logs())
        rtc = None
        if media:
            rtc = RtcClient(tone_hz, name=f"{key}@{node}")

            async def signal(sdp: str) -> str:
                reply = await ws.request("offer", sdp=sdp)
                assert reply.get("type") == "answer", (key, reply)
                return str(reply["sdp"])

            await rtc.connect(signal)
            await rtc.wait_connected(within_s=20.0)
        person = Person(key, node, ws, rtc)
        self.all.append(person)
        return person

    async def close(self) -> None:
        for p in self.all:
            if p.rtc is not None:
                await p.rtc.close()
            await p.ws.close()


async def hears(person: Person, hz: float, what: str) -> None:
    rtc = person.rtc
    assert rtc is not None

    async def check() -> Any:
        await rtc.wait_recorded(0.5, within_s=5.0)
        got = rtc.recorded(0.5)
        peak, level = peak_hz(got), level_db_at(got, hz)
        return (abs(peak - hz) < 15 and level > -40) or Seen(f"peak {peak:.0f} Hz, "
                                                             f"{level:.0f} dB at {hz:g} Hz")

    await until(check, f"{person.key}@{person.node}: {what}", within=30.0)


async def gauge(procs: ClusterProcs, node: str, name: str) -> float:
    async with httpx.AsyncClient(base_url=procs.base(node), timeout=10) as http:
        r = await http.get("/metrics")
    assert r.status_code == 200, r.text
    for line in r.text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    return 0.0
