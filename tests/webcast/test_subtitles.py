"""WebVTT subtitles in the webcast (webcast/subtitles.py): the worker fed by the real media
Relay (as in test_receiver.py), caption finals handed to it directly (no Whisper: the subject is
delivery). The playlists are parsed, the cues' times are checked against the fMP4 segments'
own `tfdt`, and a caption of a known utterance lands in the segment whose audio carries it."""

from __future__ import annotations

import re
import struct
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from mirp.api.deps import WebcastModes
from mirp.app import webcast_captions
from mirp.captions.service import Heard
from mirp.errors import InvalidInput
from mirp.interpretation.routing import Route
from mirp.media.mixer import FRAME_SAMPLES
from mirp.media.plan import FeedKey
from mirp.rooms import captioning
from mirp.rooms import commands as c
from mirp.webcast import receiver as receiver_module
from mirp.webcast.files import webcast_file
from mirp.webcast.hls import Rendition
from mirp.webcast.receiver import MeetingConfig, Receiver
from mirp.webcast.subtitles import MIN_SHOW_S, Said, SubtitleTrack, cue_text
from tests.rooms.kit import Kit, make_spec
from tests.support.audio import opus_packets, tone
from tests.support.factory import make_meeting_http, running_app
from tests.webcast.support import decode, playlist_segments
from tests.webcast.test_receiver import FLOOR, FR, Origin

START = 1_800_000_000.0  # the fake wall clock's origin: tick n was sent at START + n * 20 ms


class Clocked(Origin):
    """An origin whose packets say they were sent at START + tick * 20 ms (the receiver reads
    that through `sent_at`), run as fast as the machine goes: wall times are known exactly."""

    def __init__(self, receiver: Receiver) -> None:
        super().__init__(receiver)
        self.now = START

    def run(self, ticks: int) -> None:
        for _ in range(ticks):
            self.now = START + self.tick * 0.02
            super().run(1)


@pytest.fixture
async def origin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Clocked]:
    receiver = Receiver(tmp_path / "webcast", tmp_path / "recordings", segment_packets=50)
    o = Clocked(receiver)
    monkeypatch.setattr(receiver_module, "sent_at", lambda sent_us: o.now)
    # French: silence, then "an utterance" (a 700 Hz tone) from tick 130 to tick 170
    speech = np.zeros(400 * FRAME_SAMPLES, dtype=np.float32)
    speech[130 * FRAME_SAMPLES:170 * FRAME_SAMPLES] = tone(700, 0.8)
    o.signals["interp"] = speech
    yield o
    receiver.finish()
    await o.engine.close()


def start(o: Origin, subtitles: tuple[str, ...] = ("floor", "fr")) -> None:
    o.receiver.subtitled = lambda meeting_id: subtitles if meeting_id == "m1" else ()
    o.receiver.configure(MeetingConfig("m1", (("floor", FLOOR), ("fr", FR)), True, False))
    o.receiver.pump()
    o.relay.relay_to("webcast:m1", ("127.0.0.1", 9), [FLOOR, FR], epoch=0)


def say(o: Origin, channel: str, text: str, start_tick: int, end_tick: int,
        floor: bool = False) -> None:
    o.receiver.caption(Said("m1", channel, text, START + start_tick * 0.02,
                            START + end_tick * 0.02, floor))
    o.receiver.pump()


def attributes(line: str) -> dict[str, str]:
    return {k: v.strip('"') for k, v in re.findall(r'([A-Z-]+)=("[^"]*"|[^,]*)', line)}


def tags(playlist: str, tag: str) -> list[str]:
    return [line.split(":", 1)[1] for line in playlist.splitlines() if line.startswith(tag + ":")]


def tfdt(segment: bytes) -> int:
    """The first sample's time of an fMP4 media segment (its `tfdt`, version 1)."""
    at = segment.index(b"tfdt")
    version = segment[at + 4]
    return int(struct.unpack_from(">Q" if version else ">I", segment, at + 8)[0])


def cues(vtt: str) -> list[tuple[float, float, str]]:
    out = []
    for start, end, text in re.findall(r"(\S+) --> (\S+)[^\n]*\n([^\n]*)", vtt):
        out.append((seconds(start), seconds(end), text))
    return out


def seconds(stamp: str) -> float:
    h, m, s = stamp.split(":")
    return int(h) * 3600 + int(m) * 60 + float(s)


async def test_the_master_and_subtitles_playlists_reference_each_other(
        origin: Clocked, tmp_path: Path) -> None:
    start(origin)
    origin.run(400)  # 8 s: the window (6) has slid
    origin.receiver.finish()
    base = tmp_path / "webcast/m1"
    master = (base / "master.m3u8").read_text()
    media = [attributes(line) for line in tags(master, "#EXT-X-MEDIA")]
    subs = [m for m in media if m["TYPE"] == "SUBTITLES"]
    assert [(m["LANGUAGE"], m["NAME"], m["URI"]) for m in subs] == [
        ("mul", "Floor", "floor/subs.m3u8"), ("fr", "Français", "fr/subs.m3u8")]
    assert {m["GROUP-ID"] for m in subs} == {"subs"} and {m["DEFAULT"] for m in subs} == {"NO"}
    (variant,) = [attributes(v) for v in tags(master, "#EXT-X-STREAM-INF")]
    assert variant["SUBTITLES"] == "subs" and variant["AUDIO"] == "aud"
    for channel in ("floor", "fr"):
        audio = (base / channel / "index.m3u8").read_text()
        text = (base / channel / "subs.m3u8").read_text()
        webcast_file(str(tmp_path / "webcast"), "m1", f"{channel}/subs.m3u8")  # a name it serves
        # the same media sequence, durations and segment numbers as the audio
        assert tags(text, "#EXT-X-MEDIA-SEQUENCE") == tags(audio, "#EXT-X-MEDIA-SEQUENCE") \
            == ["2"]
        assert tags(text, "#EXTINF") == tags(audio, "#EXTINF")
        assert text.rstrip().endswith("#EXT-X-ENDLIST")
        names = playlist_segments(text)
        assert [n.replace(".vtt", ".m4s") for n in names] == playlist_segments(audio)
        for name in names:
            vtt = (base / channel / name).read_text()
            assert vtt.startswith("WEBVTT\n")
            kind = webcast_file(str(tmp_path / "webcast"), "m1", f"{channel}/{name}")[1]
            assert kind == "subtitles"
            # each segment's map puts its local time on the audio segment's own timeline
            at = tfdt((base / channel / name.replace(".vtt", ".m4s")).read_bytes())
            stamp = re.search(r"^X-TIMESTAMP-MAP=MPEGTS:(\d+),LOCAL:(\S+)$", vtt, re.M)
            assert stamp is not None, vtt
            mpegts, local = stamp.groups()
            assert int(mpegts) == at * 90_000 // 48_000
            assert seconds(local) == at / 48_000
            assert cues(vtt) == []  # nobody spoke: empty segments, all the same


async def test_a_caption_lands_in_the_segment_whose_audio_carries_its_words(
        origin: Clocked, tmp_path: Path) -> None:
    start(origin)
    origin.run(140)  # the utterance began at tick 130, in the segment still being made
    say(origin, "fr", "Bonjour à tous", 130, 170)
    origin.run(60)  # to tick 200
    say(origin, "fr", "Trop tard", 150, 160)  # its segment (ticks 150-199) is published
    origin.run(100)
    origin.receiver.finish()
    base = tmp_path / "webcast/m1/fr"
    segments = playlist_segments((base / "subs.m3u8").read_text())
    found = {name: cues((base / name).read_text()) for name in segments}
    # the caption is in every segment its time covers, and only there
    covering = [name for name, c in found.items() if any(t == "Bonjour à tous" for *_, t in c)]
    assert len(covering) == 2, found
    first = min(covering, key=lambda n: int(n.split("-")[1][:-4]))
    (start_s, end_s, _), = [c for c in found[first] if c[2] == "Bonjour à tous"]
    assert (start_s, end_s) == (2.6, 3.4)
    # ... and that segment's audio is where the words are: the tone begins at 2.6 s
    audio_segment = (base / first.replace(".vtt", ".m4s")).read_bytes()
    at = tfdt(audio_segment)
    assert at <= start_s * 48_000 < at + 48_000
    pcm = decode((base / "init.mp4").read_bytes() + audio_segment)
    onset = int(np.argmax(np.abs(pcm) > 0.05)) + at
    assert abs(onset / 48_000 - start_s) < 0.03, onset / 48_000
    # a caption whose segments were published shows from the first unpublished instant
    late = next(c for c in cues("".join((base / n).read_text() for n in segments))
                if c[2] == "Trop tard")
    assert late[0] == 4.0 and late[1] - late[0] >= MIN_SHOW_S


async def test_floor_captions_on_a_channel_carrying_the_floor_are_marked(
        origin: Clocked, tmp_path: Path) -> None:
    routes = {"fr": Route("fr", "auto_floor")}
    sent = [Said("m1", ch, "Order, please", START + 2.1, START + 2.5, floor)
            for ch, floor in captioning.webcast_targets("floor", ("floor", "fr"), routes)]
    assert [(s.channel, s.floor) for s in sent] == [("floor", False), ("fr", True)]
    start(origin)
    origin.run(100)
    for said in sent:
        origin.receiver.caption(said)
    origin.receiver.pump()
    origin.run(150)
    origin.receiver.finish()
    base = tmp_path / "webcast/m1"
    fr = "".join((base / "fr" / n).read_text()
                 for n in playlist_segments((base / "fr/subs.m3u8").read_text()))
    floor = "".join((base / "floor" / n).read_text()
                    for n in playlist_segments((base / "floor/subs.m3u8").read_text()))
    assert "<c.floor>Order, please</c>" in fr
    assert "Order, please" in floor and "<c.floor>" not in floor


def test_which_renditions_show_a_caption() -> None:
    on_air = {"fr": Route("fr", "interpretation", "fr", "i1", True)}
    off_air = {"fr": Route("fr", "auto_floor")}
    assert captioning.webcast_targets("fr", ("fr",), on_air) == [("fr", False)]
    assert captioning.webcast_targets("floor", ("fr",), on_air) == [("floor", False)]
    assert captioning.webcast_targets("floor", ("fr",), off_air) == [
        ("floor", False), ("fr", True)]
    assert captioning.webcast_targets("es", ("fr",), off_air) == []  # not captioned
    assert captioning.webcast_targets("floor", (), off_air) == []


def test_cue_text_is_escaped_and_one_line() -> None:
    assert cue_text("a < b -->\n\nc & d", False) == "a &lt; b --&gt; c &amp; d"
    assert cue_text("x", True) == "<c.floor>x</c>"


async def test_a_channel_without_captions_has_no_subtitles_rendition(
        origin: Clocked, tmp_path: Path) -> None:
    start(origin, subtitles=("fr",))
    origin.run(100)
    say(origin, "floor", "nobody shows this", 10, 20)  # no floor rendition: dropped
    origin.receiver.finish()
    base = tmp_path / "webcast/m1"
    master = (base / "master.m3u8").read_text()
    subs = [attributes(m) for m in tags(master, "#EXT-X-MEDIA") if "SUBTITLES" in m]
    assert [m["LANGUAGE"] for m in subs] == ["fr"]
    assert not (base / "floor/subs.m3u8").exists()
    assert not list((base / "floor").glob("*.vtt"))


async def test_a_meeting_without_captions_has_no_subtitles_at_all(
        origin: Clocked, tmp_path: Path) -> None:
    start(origin, subtitles=())
    origin.run(100)
    origin.receiver.finish()
    base = tmp_path / "webcast/m1"
    master = (base / "master.m3u8").read_text()
    assert "SUBTITLES" not in master
    assert not list(base.glob("*/*.vtt")) and not list(base.glob("*/subs.m3u8"))


@pytest.mark.parametrize("name", [
    "fr/abc.vtt", "fr/abc-1.vtt.tmp", "fr/.abc-1.vtt.tmp", "fr/ABC-1.vtt", "fr/abc-1.VTT",
    "fr/abc-1.vtt/x", "fr/../abc-1.vtt", "abc-1.vtt", "fr/sub.m3u8", "fr/subs.m3u8.tmp",
    "fr/abc-1.webvtt", "x1/abc-1.vtt", "fr/abc-1-2.vtt",
])
def test_a_vtt_name_the_worker_never_writes_is_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(InvalidInput):
        webcast_file(str(tmp_path), "m1", name)


def test_the_names_the_worker_writes_are_served(tmp_path: Path) -> None:
    assert webcast_file(str(tmp_path), "m1", "fr/subs.m3u8") == (f"{tmp_path}/m1/fr/subs.m3u8",
                                                                 "playlist")
    assert webcast_file(str(tmp_path), "m1", "ar/18c2f-12.vtt")[1] == "subtitles"


async def test_subtitles_are_served_like_the_other_webcast_files(tmp_path: Path) -> None:
    """Through the app: the subtitles playlist `no-cache`, a WebVTT segment immutable, and a
    token webcast's refused without its token, like its audio."""
    async with running_app(tmp_path) as (app, client):
        fx = await make_meeting_http(client, delegates=1, interpreters={}, observer=False)
        auth = {"Authorization": f"Bearer {fx.organizer_token}"}
        mid = fx.meeting_id
        base: Path = app.state.settings.data_dir / "webcast" / mid
        r = Rendition(base / "fr", "abc", segment_packets=5)
        r.subtitles = SubtitleTrack(base / "fr", "abc")
        r.subtitles.anchor(START, 0)
        r.subtitles.caption("Bonjour", START + 0.01, START + 0.05, False)
        for p in opus_packets(tone(300, 0.1)):
            r.add(p)
        for mode in ("public", "token"):
            app.state.webcast_modes = WebcastModes(ttl_s=0.0)
            res = await client.patch(f"/api/meetings/{mid}", headers=auth,
                                     json={"options": {"webcast": mode}})
            assert res.status_code == 200, res.text
            playlist = await client.get(f"/webcast/{mid}/fr/subs.m3u8")
            segment = await client.get(f"/webcast/{mid}/fr/abc-1.vtt")
            if mode == "token":
                assert (playlist.status_code, segment.status_code) == (401, 401)
                continue
            assert playlist.status_code == 200 and "abc-1.vtt" in playlist.text
            assert playlist.headers["cache-control"] == "no-cache"
            assert segment.status_code == 200 and "Bonjour" in segment.text
            assert segment.headers["cache-control"] == "max-age=31536000, immutable"
            assert segment.headers["content-type"].startswith("text/vtt")
            missing = await client.get(f"/webcast/{mid}/fr/abc-9.vtt")
            assert missing.status_code == 404
            bad = await client.get(f"/webcast/{mid}/fr/abc-1.vtt.tmp")
            assert bad.status_code == 422


def test_captions_of_a_meeting_the_worker_does_not_make_are_not_queued(tmp_path: Path) -> None:
    """Captions arrive whether or not the meeting is webcast: the worker's thread only runs
    with a webcast, so its queue must not keep them (it would grow for the server's life)."""
    receiver = Receiver(tmp_path / "webcast", tmp_path / "recordings")
    for _ in range(3):
        receiver.caption(Said("m_none", "fr", "Bonjour", START, START + 1, False))
    assert receiver._commands.empty()


def test_the_apps_hand_over_follows_the_rooms_captions_and_its_booths(tmp_path: Path) -> None:
    """app.py's part: the worker asks which channels of a meeting are captioned (the Room's
    option), and each caption goes to the renditions that show it; the floor's to French too,
    marked, while the French booth is off air (the channel carries the floor), not once it is
    on air."""
    k = Kit(make_spec(captions=("fr", "de"), webcast="public"), None, "ch", "fr1")
    mid = k.room.spec.id

    @dataclass
    class Runtime:
        room: Any

    registry = SimpleNamespace(rooms={mid: Runtime(k.room)})
    receiver = Receiver(tmp_path / "webcast", tmp_path / "recordings")
    hand_over = webcast_captions(registry, receiver)  # type: ignore[arg-type]
    assert receiver.subtitled(mid) == ("fr", "de", "floor")
    assert receiver.subtitled("m_other") == ()
    keys = tuple((ch, FeedKey(f"{mid}/{ch}")) for ch in ("floor", "en", "fr", "de"))
    receiver.configure(MeetingConfig(mid, keys, True, False))
    receiver.pump()
    master = (tmp_path / "webcast" / mid / "master.m3u8").read_text()
    subs = [attributes(m) for m in tags(master, "#EXT-X-MEDIA") if "SUBTITLES" in m]
    assert [m["LANGUAGE"] for m in subs] == ["mul", "fr", "de"]  # en is not captioned
    handed: list[Said] = []
    receiver.caption = handed.append  # type: ignore[method-assign]
    hand_over(Heard(mid, "floor", "Order, please", "en", START, START + 1))
    assert [(s.channel, s.floor) for s in handed] == [("floor", False), ("fr", True),
                                                      ("de", True)]
    k.do("fr1", c.OnAir(True))
    handed.clear()
    hand_over(Heard(mid, "floor", "Order, please", "en", START, START + 1))
    hand_over(Heard(mid, "fr", "À l'ordre", "fr", START, START + 1))
    hand_over(Heard("m_other", "fr", "Ailleurs", "fr", START, START + 1))  # not open here
    assert [(s.channel, s.floor, s.text) for s in handed] == [
        ("floor", False, "Order, please"), ("de", True, "Order, please"),
        ("fr", False, "À l'ordre")]
    receiver.finish()
