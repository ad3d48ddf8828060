"""The worker switching recording or webcast in a running meeting (an options change): the other
side goes on untouched (viewers are not cut off by a recording switched on; a recording is not
cut by the webcast switched off), and a recording started late starts at its first packet."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from mirp.webcast.receiver import Receiver
from tests.support.audio import peak_hz
from tests.webcast.support import decode, playlist_segments
from tests.webcast.test_receiver import Origin, configure


@pytest.fixture
async def live(tmp_path: Path) -> AsyncIterator[Origin]:
    receiver = Receiver(tmp_path / "webcast", tmp_path / "recordings", segment_packets=50)
    o = Origin(receiver)
    yield o
    receiver.finish()
    await o.engine.close()


def playlist(tmp_path: Path, channel: str) -> str:
    return (tmp_path / "webcast/m1" / channel / "index.m3u8").read_text()


async def test_recording_switched_on_and_the_webcast_off_in_a_running_meeting(
        live: Origin, tmp_path: Path) -> None:
    configure(live, webcast=True, recording=False)
    live.run(100)  # 2 s of webcast alone
    before = playlist_segments(playlist(tmp_path, "floor"))
    assert len(before) == 2 and not (tmp_path / "recordings").exists()
    session = before[0].split("-")[0]

    switched = time.time()
    configure(live, webcast=True, recording=True)
    live.run(100)
    status = live.receiver.status("m1")
    assert status is not None and status.recording and status.webcast
    now = playlist(tmp_path, "floor")
    assert "#EXT-X-ENDLIST" not in now
    assert playlist_segments(now) == [f"{session}-{n}.m4s" for n in range(1, 5)]

    configure(live, webcast=False, recording=True)
    live.run(50)
    assert playlist(tmp_path, "floor").rstrip().endswith("#EXT-X-ENDLIST")
    status = live.receiver.status("m1")
    assert status is not None and status.recording and not status.webcast
    live.receiver.finish()

    (part,) = (tmp_path / "recordings/m1").iterdir()
    meta = json.loads((part / "meta.json").read_text())
    for channel, hz in (("floor", 300), ("fr", 700)):
        # time 0 is the recording's own first packet, not the webcast's 2 s before
        assert meta["channels"][channel]["started_at"] >= switched - 0.05
        recorded = decode((part / f"{channel}.opus").read_bytes())
        assert len(recorded) == 150 * 960  # through the webcast's end, nothing lost
        assert abs(peak_hz(recorded[48000:]) - hz) < 15
    assert meta["ended_at"] is not None and meta["stopped"] is None
