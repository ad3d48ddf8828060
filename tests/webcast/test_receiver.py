"""The webcast worker fed by the real media Relay (the datagrams an edge would get), no socket.

An origin MediaEngine mixes two tones (floor 300 Hz, fr 700 Hz) and relays them; the worker
writes an HLS rendition and an Ogg recording per channel; both are read back with PyAV.
"""

from __future__ import annotations

import errno
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from mirp.media.engine import MediaEngine
from mirp.media.mixer import FRAME_SAMPLES
from mirp.media.plan import FeedKey, MixPlan
from mirp.media.relay import Relay
from mirp.media.relay_format import DATA, HEADER, MAGIC, VERSION
from mirp.webcast import ogg
from mirp.webcast.receiver import MeetingConfig, Receiver
from tests.media.fake_fanout import FakeFanout
from tests.support.audio import peak_hz, tone
from tests.webcast.support import decode, rendition

FLOOR, FR = FeedKey("m1/floor"), FeedKey("m1/fr")
TONES = {"floor": 300, "fr": 700}


class Origin:
    def __init__(self, receiver: Receiver) -> None:
        self.engine = MediaEngine(FakeFanout())
        self.relay = Relay(self.engine, send=lambda addr, data: self.sent(data))
        self.engine.relay = self.relay
        self.receiver = receiver
        self.drop: set[int] = set()  # ticks whose datagrams are lost
        self.tick = 0
        for sid in ("chair", "interp"):
            self.engine.add_source(sid)
        self.signals = {"chair": tone(300, 10.0), "interp": tone(700, 10.0)}
        self.engine.apply(MixPlan.of({FLOOR: (("chair", 1.0),), FR: (("interp", 1.0),)}))

    def sent(self, data: bytes) -> None:
        if self.tick not in self.drop:
            self.receiver.received(data)

    def run(self, ticks: int) -> None:
        for _ in range(ticks):
            for sid, sig in self.signals.items():
                at = (self.tick * FRAME_SAMPLES) % (len(sig) - FRAME_SAMPLES)
                self.engine.push_pcm(sid, sig[at:at + FRAME_SAMPLES])
            self.engine.run_tick()
            self.tick += 1


@pytest.fixture
async def origin(tmp_path: Path) -> AsyncIterator[Origin]:
    receiver = Receiver(tmp_path / "webcast", tmp_path / "recordings", segment_packets=50)
    o = Origin(receiver)
    yield o
    receiver.finish()
    await o.engine.close()


def configure(o: Origin, **kw: Any) -> None:
    config = MeetingConfig("m1", (("floor", FLOOR), ("fr", FR)),
                           webcast=kw.get("webcast", True), recording=kw.get("recording", True))
    o.receiver.configure(config)
    o.receiver.pump()
    o.relay.relay_to("webcast:m1", ("127.0.0.1", 9), [FLOOR, FR], epoch=0)


async def test_each_rendition_and_recording_carries_its_channels_tone(origin: Origin,
                                                                      tmp_path: Path) -> None:
    configure(origin)
    origin.run(250)  # 5 s
    origin.receiver.finish()
    master = (tmp_path / "webcast/m1/master.m3u8").read_text()
    assert 'NAME="Français"' in master and 'LANGUAGE="fr"' in master
    assert 'NAME="Floor",DEFAULT=YES' in master and 'URI="fr/index.m3u8"' in master
    for channel, hz in TONES.items():
        names, data = rendition(tmp_path / "webcast/m1" / channel)
        assert len(names) == 5  # 1 s segments, all within the window
        assert (tmp_path / f"webcast/m1/{channel}/index.m3u8").read_text().rstrip().endswith(
            "#EXT-X-ENDLIST")
        audio = decode(data)
        assert len(audio) == 250 * 960
        for second in range(1, 5):  # every segment carries the tone
            assert abs(peak_hz(audio[second * 48000:(second + 1) * 48000]) - hz) < 15
        (part,) = (tmp_path / "recordings/m1").iterdir()
        recorded = decode((part / f"{channel}.opus").read_bytes())
        assert len(recorded) == 250 * 960
        assert abs(peak_hz(recorded[48000:]) - hz) < 15
        meta = json.loads((part / "meta.json").read_text())
        assert meta["channels"][channel]["file"] == f"{channel}.opus"
        assert meta["ended_at"] is not None and meta["stopped"] is None


async def test_a_gap_is_filled_so_the_timeline_goes_on(origin: Origin, tmp_path: Path) -> None:
    configure(origin, recording=False)
    origin.drop = set(range(60, 70))  # 200 ms lost
    origin.run(150)
    origin.receiver.finish()
    _, data = rendition(tmp_path / "webcast/m1/floor")
    assert len(decode(data)) == 150 * 960
    assert not (tmp_path / "recordings").exists()


async def test_a_channel_switching_key_keeps_one_timeline(origin: Origin,
                                                          tmp_path: Path) -> None:
    configure(origin, recording=False)
    origin.run(100)
    # fr now carries the floor (the booth's interpreter left): the same channel, another key
    origin.receiver.configure(MeetingConfig("m1", (("floor", FLOOR), ("fr", FLOOR)), True, False))
    origin.receiver.pump()
    origin.run(100)
    origin.receiver.finish()
    _, data = rendition(tmp_path / "webcast/m1/fr")
    audio = decode(data)
    assert len(audio) == 200 * 960
    assert abs(peak_hz(audio[48000:96000]) - 700) < 15
    assert abs(peak_hz(audio[-48000:]) - 300) < 15


async def test_a_full_disk_stops_the_recording_not_the_webcast(
        origin: Origin, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    configure(origin)
    origin.run(60)
    real = ogg.OggOpusWriter._write

    def full(self: ogg.OggOpusWriter, data: bytes) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(ogg.OggOpusWriter, "_write", full)
    origin.run(60)
    origin.receiver.pump()
    status = origin.receiver.status("m1")
    assert status is not None and not status.recording
    assert "No space left" in (status.recording_stopped or "")
    monkeypatch.setattr(ogg.OggOpusWriter, "_write", real)
    origin.run(100)  # the webcast goes on
    origin.receiver.finish()
    _, data = rendition(tmp_path / "webcast/m1/floor")
    assert len(decode(data)) == 220 * 960
    (part,) = (tmp_path / "recordings/m1").iterdir()
    meta = json.loads((part / "meta.json").read_text())
    assert "No space left" in meta["stopped"]
    assert len(decode((part / "floor.opus").read_bytes())) == 50 * 960  # the pages before


async def test_bad_datagrams_are_counted_and_never_raise(origin: Origin) -> None:
    configure(origin)
    r = origin.receiver
    r.received(b"short")
    r.received(HEADER.pack(0x00, VERSION, DATA, 0, 1, 0, 0, 0, 0) + b"x")
    r.received(HEADER.pack(MAGIC, VERSION, DATA, 0, 99, 0, 0, 0, 0) + b"x")  # never announced
    r.received(HEADER.pack(MAGIC, VERSION, 2, 0, 5, 0, 0, 0, 0) + b"not json")
    assert r.malformed == 3 and r.unknown == 1
    origin.run(60)
    r.pump()
    status = r.status("m1")
    assert status is not None and status.packets["floor"] == 60


async def test_a_restarted_origin_clock_goes_on_in_the_same_rendition(origin: Origin,
                                                                      tmp_path: Path) -> None:
    """A media process restarted under the same link starts its pts at 0 again: the channels
    go on (nothing dropped as 'late', nothing filled)."""
    configure(origin, recording=False)
    origin.run(100)
    fresh = Origin(origin.receiver)  # a new engine: its tick, pts and feed ids from 0
    fresh.relay.relay_to("webcast:m1", ("127.0.0.1", 9), [FLOOR, FR], epoch=0)
    fresh.run(100)
    origin.receiver.finish()
    _, data = rendition(tmp_path / "webcast/m1/floor")
    audio = decode(data)
    assert len(audio) == 200 * 960
    assert abs(peak_hz(audio[-48000:]) - 300) < 15
    await fresh.engine.close()


async def test_a_broadcast_alias_switching_target_is_one_stream_on_one_clock(
        origin: Origin, tmp_path: Path) -> None:
    """The webcast's key of fr is an alias (media/plan.py): the booth's feed, then the floor's
    when the booth goes off air, then the booth's again. The worker sees one key whose packets
    come from another encoder at each switch, on the one media clock: nothing filled, nothing
    dropped, each part its tone, in the rendition and the recording alike."""
    fr_b = FeedKey("m1/fr", 0, "~broadcast")
    on = MixPlan.of({FLOOR: (("chair", 1.0),), FR: (("interp", 1.0),)}, {fr_b: FR})
    off = MixPlan.of({FLOOR: (("chair", 1.0),), FR: ()}, {fr_b: FLOOR})
    origin.engine.apply(on)
    origin.receiver.configure(MeetingConfig("m1", (("floor", FLOOR), ("fr", fr_b)), True, True))
    origin.receiver.pump()
    origin.relay.relay_to("webcast:m1", ("127.0.0.1", 9), [FLOOR, fr_b], epoch=0)
    origin.run(100)
    origin.engine.apply(off)
    origin.run(100)
    origin.engine.apply(on)
    origin.run(100)
    assert origin.engine.stats().encoders <= 2  # floor and fr; never one for the alias
    origin.receiver.finish()
    _, data = rendition(tmp_path / "webcast/m1/fr")
    (part,) = (tmp_path / "recordings/m1").iterdir()
    for audio in (decode(data), decode((part / "fr.opus").read_bytes())):
        assert len(audio) == 300 * 960
        for second, hz in ((1, 700), (3, 300), (5, 700)):
            assert abs(peak_hz(audio[second * 48000:(second + 1) * 48000]) - hz) < 15
