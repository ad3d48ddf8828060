"""The webcast and the recordings of a real meeting: the app served by uvicorn (its media plane
in its own process), aiortc peers as the floor's and the French booth's microphones, the HLS
renditions and the Ogg recordings decoded with PyAV and checked with an FFT.

Tones: delegate1 300 Hz (given the floor), interpreter_fr1 700 Hz (on air into fr).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from tests.integration.conftest import Harness
from tests.support.audio import level_db_at, peak_hz
from tests.support.factory import ServedApp, make_meeting, served_app, standard_meeting_body
from tests.support.wait import Seen, until
from tests.webcast.support import decode, playlist_segments

pytestmark = [pytest.mark.integration, pytest.mark.rtc]

HEARD, SILENT = -30.0, -45.0


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[ServedApp]:
    async with served_app(tmp_path) as s:
        yield s


@pytest.fixture
async def harness(served: ServedApp) -> AsyncIterator[Harness]:
    body = standard_meeting_body(options={"webcast": "public", "recording": True})
    h = Harness(served, await make_meeting(served.app, body=body))
    try:
        yield h
    finally:
        await h.close()


async def live_edge(http: httpx.AsyncClient, mid: str, channel: str) -> np.ndarray | Seen:
    """The newest two segments of a rendition, decoded (Seen while there are fewer)."""
    r = await http.get(f"/webcast/{mid}/{channel}/index.m3u8")
    if r.status_code != 200:
        return Seen(f"{channel}: playlist {r.status_code}")
    names = playlist_segments(r.text)
    if len(names) < 3:
        return Seen(f"{channel}: {len(names)} segments")
    init = (await http.get(f"/webcast/{mid}/{channel}/init.mp4")).content
    data = init
    for name in names[-2:]:
        seg = await http.get(f"/webcast/{mid}/{channel}/{name}")
        if seg.status_code != 200:
            return Seen(f"{channel}/{name}: {seg.status_code}")
        data += seg.content
    return decode(data)


async def rendition_carries(http: httpx.AsyncClient, mid: str, channel: str, hz: float) -> None:
    async def check() -> bool | Seen:
        audio = await live_edge(http, mid, channel)
        if isinstance(audio, Seen):
            return audio
        tail = audio[-48000:]
        if level_db_at(tail, hz) > HEARD and abs(peak_hz(tail) - hz) < 15:
            return True
        return Seen(f"{channel}: peak {peak_hz(tail):.0f} Hz, {level_db_at(tail, hz):.1f} dB "
                    f"at {hz}")

    await until(check, f"the {channel} rendition carries {hz} Hz", 30, step=0.5, tolerate=())


def onset(audio: np.ndarray, hz: float, after: float = 0.0) -> float:
    """The first 20 ms frame (from `after` s) from which `hz` is heard for 200 ms."""
    frame = 960
    start = int(after * 48000) // frame
    loud = [level_db_at(audio[i * frame:(i + 1) * frame * 1], hz, width_hz=60) > HEARD
            for i in range(len(audio) // frame)]
    for i in range(start, len(loud) - 10):
        if all(loud[i:i + 10]):
            return i * frame / 48000
    raise AssertionError(f"{hz} Hz never heard after {after} s")


async def test_renditions_and_recordings_carry_each_channels_tone(harness: Harness) -> None:
    h = harness
    mid = h.meeting.meeting_id
    chair = await h.attend("chair")
    d1 = await h.attend("delegate1", 300)
    fr1 = await h.attend("interpreter_fr1", 700)
    await until(lambda: any(m.get("type") == "meeting" and m["meeting"].get("recording")
                            for m in chair.ws.messages) or Seen("no REC"),
                "the REC badge: the recorder writing", 20, tolerate=())
    async with httpx.AsyncClient(base_url=h.served.base_url) as http:
        master = await until(lambda: _get(http, f"/webcast/{mid}/master.m3u8"),
                             "the master playlist", 20, tolerate=())
        assert 'NAME="Français"' in master and 'NAME="中文"' in master
        await chair.ws.ok("floor_give", participant_id=d1.id)
        await fr1.ws.ok("on_air", on=True)
        await rendition_carries(http, mid, "floor", 300)
        await rendition_carries(http, mid, "fr", 700)
        await rendition_carries(http, mid, "en", 300)  # no booth: the floor
        await rendition_carries(http, mid, "zh", 300)  # its booth empty, auto-floor
        await fr1.ws.ok("on_air", on=False)
        await chair.ws.ok("floor_take", participant_id=d1.id)
        await chair.ws.ok("meeting_close")
        auth = {"Authorization": f"Bearer {h.meeting.organizer_token}"}

        async def ended() -> dict[str, Any] | Seen:
            listed = (await http.get(f"/api/meetings/{mid}/recordings", headers=auth)).json()
            parts = listed["parts"]
            if len(parts) == 1 and parts[0]["ended_at"] and not parts[0]["running"]:
                index = (await http.get(f"/api/meetings/{mid}/recordings/{parts[0]['part']}"
                                        "/index.json", headers=auth)).json()
                if {e["kind"] for e in index["entries"]} == {"speaker", "on_air"}:
                    return dict(index)
            return Seen(f"{listed}")

        index = await until(ended, "the recording ended and indexed", 30, step=0.5, tolerate=())
        r = await http.get(f"/webcast/{mid}/floor/index.m3u8")
        assert r.text.rstrip().endswith("#EXT-X-ENDLIST")
        base = f"/api/meetings/{mid}/recordings/{index['part']}"
        floor = decode((await http.get(f"{base}/floor.opus", headers=auth)).content)
        fr = decode((await http.get(f"{base}/fr.opus", headers=auth)).content)
    (speaker,) = [e for e in index["entries"] if e["kind"] == "speaker"]
    (on_air,) = [e for e in index["entries"] if e["kind"] == "on_air"]
    assert speaker["participant_id"] == d1.id and on_air["booth"] == "fr"
    off = index["offsets"]
    # each recording carries its tone from the time its index says (± 100 ms)
    heard = onset(floor, 300) + off["floor"]
    assert abs(heard - speaker["start"]) <= 0.1, (heard, speaker)
    heard = onset(fr, 700) + off["fr"]
    assert abs(heard - on_air["start"]) <= 0.1, (heard, on_air)
    # and stops when it says: the floor silent after the turn's end, fr back to the floor's tone
    after = floor[int((speaker["end"] - off["floor"] + 0.2) * 48000):]
    assert len(after) == 0 or level_db_at(after, 300) < SILENT
    middle = fr[int((on_air["start"] - off["fr"] + 0.2) * 48000):
                int((on_air["end"] - off["fr"] - 0.1) * 48000)]
    assert abs(peak_hz(middle) - 700) < 15


async def _get(http: httpx.AsyncClient, path: str) -> str | Seen:
    r = await http.get(path)
    return r.text if r.status_code == 200 else Seen(f"{path}: {r.status_code}")


async def encoders_match(h: Harness, mid: str) -> None:
    """Encoders == the distinct keys listeners hear plus each channel's base key now: the
    webcast's per-channel keys are aliases and add none (they used to add one per channel)."""
    from mirp.rooms import mixing

    async def check() -> bool | Seen:
        room = h.rooms.rooms[mid].room
        listened = {mixing.key_for(pid, sub, room.routes, room.floor_sources)
                    for pid, sub in room.roster.subscriptions().items()}
        bases = {mixing.base_key(ch, None, room.routes) for ch in room.broadcast_keys()}
        want = len(listened | bases)
        s = await h.stats()
        if s.encoders == s.feeds_in_use == want:
            return True
        return Seen(f"encoders {s.encoders}, in use {s.feeds_in_use}, want {want}: "
                    f"{sorted(map(str, listened | bases))}")

    await until(check, "one encoder per distinct real key", 20, step=0.2, tolerate=())


async def test_the_french_channel_is_an_alias_switching_with_the_booth(harness: Harness) -> None:
    """Webcast and recording on, five channels: no encoder beyond the listeners' keys; the
    French rendition and recording go to the floor when the booth goes off air and back."""
    h = harness
    mid = h.meeting.meeting_id
    chair = await h.attend("chair")
    d1 = await h.attend("delegate1", 300)
    fr1 = await h.attend("interpreter_fr1", 700)
    d2 = await h.attend("delegate2")
    await d2.ws.ok("subscribe", channel="fr", floor_under=None)
    async with httpx.AsyncClient(base_url=h.served.base_url) as http:
        await until(lambda: _get(http, f"/webcast/{mid}/master.m3u8"), "the master playlist",
                    20, tolerate=())
        await chair.ws.ok("floor_give", participant_id=d1.id)
        await fr1.ws.ok("on_air", on=True)
        await rendition_carries(http, mid, "fr", 700)
        await encoders_match(h, mid)
        await fr1.ws.ok("on_air", on=False)
        await rendition_carries(http, mid, "fr", 300)  # the booth off air: the floor
        await encoders_match(h, mid)
        await fr1.ws.ok("on_air", on=True)
        await rendition_carries(http, mid, "fr", 700)
        await fr1.ws.ok("on_air", on=False)
        await chair.ws.ok("meeting_close")
        auth = {"Authorization": f"Bearer {h.meeting.organizer_token}"}

        async def ended() -> dict[str, Any] | Seen:
            listed = (await http.get(f"/api/meetings/{mid}/recordings", headers=auth)).json()
            parts = listed["parts"]
            if len(parts) == 1 and parts[0]["ended_at"] and not parts[0]["running"]:
                index = (await http.get(f"/api/meetings/{mid}/recordings/{parts[0]['part']}"
                                        "/index.json", headers=auth)).json()
                if len([e for e in index["entries"] if e["kind"] == "on_air"]) == 2:
                    return dict(index)
            return Seen(f"{listed}")

        index = await until(ended, "the recording ended and indexed", 30, step=0.5, tolerate=())
        base = f"/api/meetings/{mid}/recordings/{index['part']}"
        fr = decode((await http.get(f"{base}/fr.opus", headers=auth)).content)
    first, second = sorted((e for e in index["entries"] if e["kind"] == "on_air"),
                           key=lambda e: float(e["start"]))
    off = index["offsets"]["fr"]
    # each switch heard in the French recording where the index puts it: to the floor (whose
    # microphone is decoded throughout) within 100 ms; to the booth within 200 ms, as its
    # microphone, parked while off air, first refills its jitter buffer (the loaded machine)
    assert abs(onset(fr, 700) + off - first["start"]) <= 0.2, (onset(fr, 700), first)
    to_floor = onset(fr, 300, after=first["start"] - off + 0.1) + off
    assert abs(to_floor - first["end"]) <= 0.1, (to_floor, first)
    back = onset(fr, 700, after=first["end"] - off + 0.1) + off
    assert abs(back - second["start"]) <= 0.2, (back, second)
