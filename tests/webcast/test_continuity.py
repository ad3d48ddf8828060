"""An HLS rendition opened again where a live playlist is (a crash and restart, or a failover to
another node sharing the directory) carries it on: sequence numbers keep rising, the new session
follows a discontinuity, old files leave as the window slides; an ended one starts afresh."""

from __future__ import annotations

from pathlib import Path

from mirp.webcast.hls import KEEP_EXTRA, PLAYLIST, SUBS_PLAYLIST, Rendition, carried_on
from mirp.webcast.subtitles import SubtitleTrack
from tests.support.audio import opus_packets, peak_hz, tone
from tests.webcast.support import decode, playlist_segments

PACKETS = 5  # per segment: 0.1 s


def feed(r: Rendition, hz: float, segments: int) -> None:
    for p in opus_packets(tone(hz, segments * PACKETS * 0.02))[: segments * PACKETS]:
        r.add(p)


def tags(directory: Path) -> list[str]:
    return [line for line in (directory / PLAYLIST).read_text().splitlines()
            if line.startswith(("#EXT-X-MEDIA-SEQUENCE", "#EXT-X-DISCONTINUITY", "#EXT-X-END"))
            or not line.startswith("#")]


def test_a_live_playlist_is_carried_on_by_the_next_session(tmp_path: Path) -> None:
    d = tmp_path / "floor"
    first = Rendition(d, "s1", segment_packets=PACKETS, window=4)
    feed(first, 300, 6)  # segments 1..6; the window holds 3..6 (sequence 2)
    before = (d / PLAYLIST).read_text()
    assert "#EXT-X-MEDIA-SEQUENCE:2" in before and "#EXT-X-DISCONTINUITY\n" not in before
    # the process dies here: no end(), the playlist stays live

    second = Rendition(d, "s2", segment_packets=PACKETS, window=4)
    assert (d / PLAYLIST).read_text() == before  # nothing changes until the next segment
    feed(second, 700, 1)
    assert tags(d) == ["#EXT-X-MEDIA-SEQUENCE:3", "#EXT-X-DISCONTINUITY-SEQUENCE:0",
                       "s1-4.m4s", "s1-5.m4s", "s1-6.m4s", "#EXT-X-DISCONTINUITY", "s2-1.m4s"]
    # files outside the old window went at the opening; the window's are all there
    assert sorted(p.name for p in d.glob("*.m4s")) == ["s1-3.m4s", "s1-4.m4s", "s1-5.m4s",
                                                       "s1-6.m4s", "s2-1.m4s"]
    init = (d / "init.mp4").read_bytes()
    assert abs(peak_hz(decode(init + (d / "s1-6.m4s").read_bytes())) - 300) < 20
    assert abs(peak_hz(decode(init + (d / "s2-1.m4s").read_bytes())) - 700) < 20

    feed(second, 700, 3)  # the break is at the window's head, its tag still there
    assert tags(d) == ["#EXT-X-MEDIA-SEQUENCE:6", "#EXT-X-DISCONTINUITY-SEQUENCE:0",
                       "#EXT-X-DISCONTINUITY", "s2-1.m4s", "s2-2.m4s", "s2-3.m4s", "s2-4.m4s"]
    feed(second, 700, 1)  # the tag leaves with its segment: the discontinuity sequence counts it
    assert tags(d) == ["#EXT-X-MEDIA-SEQUENCE:7", "#EXT-X-DISCONTINUITY-SEQUENCE:1",
                       "s2-2.m4s", "s2-3.m4s", "s2-4.m4s", "s2-5.m4s"]
    feed(second, 700, KEEP_EXTRA + 2)
    assert not list(d.glob("s1-*.m4s"))  # the old session's files gone past the extra kept
    names = playlist_segments((d / PLAYLIST).read_text())
    assert all((d / n).exists() for n in names)


def test_an_ended_playlist_is_not_carried_on(tmp_path: Path) -> None:
    d = tmp_path / "fr"
    first = Rendition(d, "s1", segment_packets=PACKETS, window=4)
    feed(first, 300, 3)
    first.end()
    assert "#EXT-X-ENDLIST" in (d / PLAYLIST).read_text()
    assert carried_on((d / PLAYLIST).read_text()) is None

    second = Rendition(d, "s2", segment_packets=PACKETS, window=4)
    assert not list(d.glob("s1-*"))
    feed(second, 700, 1)
    assert tags(d) == ["#EXT-X-MEDIA-SEQUENCE:0", "#EXT-X-DISCONTINUITY-SEQUENCE:0", "s2-1.m4s"]


def test_a_playlist_that_is_not_ours_is_replaced(tmp_path: Path) -> None:
    for text in ("garbage", "#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:x\n",
                 "#EXTM3U\n#EXTINF:1.0,\n../../etc/passwd.m4s\n"):
        assert carried_on(text) is None
    d = tmp_path / "floor"
    d.mkdir()
    (d / PLAYLIST).write_text("#EXTM3U\n#EXTINF:1.0,\n../secret.m4s\n")
    (d / "stray.m4s").write_bytes(b"x")
    r = Rendition(d, "s1", segment_packets=PACKETS)
    feed(r, 300, 1)
    assert tags(d) == ["#EXT-X-MEDIA-SEQUENCE:0", "#EXT-X-DISCONTINUITY-SEQUENCE:0", "s1-1.m4s"]
    assert not (d / "stray.m4s").exists()


def test_the_subtitles_playlist_is_the_audio_window_carried_on_alike(tmp_path: Path) -> None:
    d = tmp_path / "fr"
    first = Rendition(d, "s1", segment_packets=PACKETS, window=4)  # no captions then
    feed(first, 300, 5)
    second = Rendition(d, "s2", segment_packets=PACKETS, window=4)
    second.subtitles = SubtitleTrack(d, "s2")
    feed(second, 700, 2)
    audio, subs = tags(d), [line for line in (d / SUBS_PLAYLIST).read_text().splitlines()
                            if line.startswith(("#EXT-X-MEDIA-SEQUENCE", "#EXT-X-DISC"))
                            or not line.startswith("#")]
    assert subs == [line.replace(".m4s", ".vtt") for line in audio]
    assert "#EXT-X-DISCONTINUITY" in subs
    # every subtitles segment named exists; the old session's are empty WebVTT
    for name in playlist_segments((d / SUBS_PLAYLIST).read_text()):
        assert (d / name).read_text().startswith("WEBVTT")
