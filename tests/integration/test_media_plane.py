"""The media plane in its own process, end to end: a real server process (`python -m mirp
serve`: control loop in one process, media engine and peers in its child), real aiortc peers.

- The control process made busy (a 5000-row bulk CSV, then the 5000-invitation listing) does not
  delay the media clock: the listener's RTP has no sequence gap and no skipped tick.
- The media process killed with SIGKILL: clients get `peer_closed`, make a new offer, and hear
  again (FFT); a new media process took over.
"""

from __future__ import annotations

import itertools
import os
import signal
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from tests.integration.conftest import Attendee, Harness
from tests.integration.test_media_e2e import hears, pid
from tests.support.factory import ServedApp, make_meeting
from tests.support.rtc import RtcClient
from tests.support.server import Server, serving
from tests.support.wait import until


def media_pid(server: Server) -> int | None:
    """The server's media process (`python -m mirp.media.worker`), if one runs (the other
    children are the CPU worker pool's)."""
    assert server.proc is not None
    path = Path(f"/proc/{server.proc.pid}/task/{server.proc.pid}/children")
    kids = [int(p) for p in path.read_text().split()] if path.exists() else []
    media = []
    for kid in kids:
        try:
            cmdline = Path(f"/proc/{kid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"mirp.media.worker" in cmdline:
            media.append(kid)
    return media[0] if len(media) == 1 else None


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    with serving(tmp_path / "data", MIRP_LOG_LEVEL="warning", MIRP_MEDIA_PROCESS="true") as srv:
        yield srv


@pytest.fixture
async def remote(server: Server) -> AsyncIterator[tuple[Harness, httpx.AsyncClient]]:
    async with httpx.AsyncClient(base_url=server.base, timeout=120) as http:
        fx = await make_meeting(http, delegates=1, interpreters={}, observer=True)
        ws = server.base.replace("http://", "ws://")
        h = Harness(ServedApp(app=None, base_url=server.base, ws_url=ws), fx)  # type: ignore
        try:
            yield h, http
        finally:
            await h.close()


async def reoffer(a: Attendee, tone_hz: float | None) -> None:
    """What the browser client does on `peer_closed`: a new peer connection, same Session."""
    assert a.rtc is not None
    await a.rtc.close()
    a.rtc = RtcClient(tone_hz, name=f"{a.key}-again")

    async def signal_(sdp: str) -> str:
        reply = await a.ws.request("offer", sdp=sdp)
        assert reply.get("type") == "answer", reply
        return str(reply["sdp"])

    await a.rtc.connect(signal_)
    await a.rtc.wait_connected(within_s=20.0)


async def test_the_media_clock_keeps_time_while_the_control_process_is_busy(
        remote: tuple[Harness, httpx.AsyncClient], server: Server) -> None:
    h, http = remote
    chair = await h.attend("chair", media=False)
    await h.attend("delegate1", 440)
    obs = await h.attend("observer")
    await chair.ws.ok("floor_give", participant_id=pid(h, "delegate1"))
    await hears(obs, [440])
    assert obs.rtc is not None
    auth = {"Authorization": f"Bearer {h.meeting.organizer_token}"}
    url = f"/api/meetings/{h.meeting.meeting_id}/invitations"
    csv = "\n".join(f"Person {i}, Delegation {i % 40}, p{i}@example.org" for i in range(5000))
    started = time.monotonic()
    r = await http.post(f"{url}/bulk", json={"csv": csv}, headers=auth)
    assert r.status_code == 201, r.text[:300]
    listed, query = 0, {"limit": "1000"}
    while True:  # every invitation, page by page
        r = await http.get(url, params=query, headers=auth)
        assert r.status_code == 200, r.text[:300]
        listed += len(r.json())
        if "X-Next-After" not in r.headers:
            break
        query["after"] = r.headers["X-Next-After"]
    assert listed >= 5000
    ended = time.monotonic()
    # the last 10 s of RTP headers the listener saw, those that arrived during the load
    seen = [p for p in obs.rtc.rtp if started <= p.arrival <= ended]
    assert len(seen) >= 10, (len(seen), ended - started)
    broken = [
        (a.sequence_number, b.sequence_number, (b.timestamp - a.timestamp) % 2**32)
        for a, b in itertools.pairwise(seen)
        if (b.sequence_number - a.sequence_number) % 65536 != 1
        or (b.timestamp - a.timestamp) % 2**32 != 960
    ]
    # a gap in sequence numbers is a packet lost; a timestamp step beyond one frame is a tick
    # the engine skipped: neither happens, however long the control process was busy
    assert not broken, f"{len(broken)} breaks in {len(seen)} packets: {broken[:5]}"
    await hears(obs, [440])
    assert server.proc.poll() is None


async def test_a_killed_media_process_costs_a_reoffer_and_the_audio_comes_back(
        remote: tuple[Harness, httpx.AsyncClient], server: Server) -> None:
    h, _ = remote
    chair = await h.attend("chair", media=False)
    d1 = await h.attend("delegate1", 440)
    obs = await h.attend("observer")
    await chair.ws.ok("floor_give", participant_id=pid(h, "delegate1"))
    await hears(obs, [440])
    old = await until(lambda: media_pid(server), "the media process")
    os.kill(old, signal.SIGKILL)
    await until(lambda: d1.ws.events("peer_closed") and obs.ws.events("peer_closed"),
                "peer_closed at both clients", within=10)
    assert obs.ws.last("peer_closed") == {"type": "peer_closed",
                                          "reason": "media process restarted"}
    new = await until(lambda: (media_pid(server) or 0) not in (0, old) and media_pid(server),
                      "a new media process", within=20)
    assert new != old
    await reoffer(d1, 440)
    await reoffer(obs, None)
    await hears(obs, [440])  # the floor and the subscription are the room's: kept
    assert d1.ws.closed is None and obs.ws.closed is None
    assert server.proc.poll() is None
