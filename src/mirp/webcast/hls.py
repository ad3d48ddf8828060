"""HLS for one meeting: a master playlist, and per channel a sliding-window media playlist of
fMP4 segments made of the channel's Opus packets (webcast/fmp4.py).

Files are written whole and renamed into place (a reader never sees half a segment or playlist),
so any static file server, reverse proxy or CDN can serve the directory. Segment names carry the
session (the room's opening) so a name is never reused: segments can be cached as immutable.
The timeline is the channel's own sample count (a gap in the packets was filled with silence by
the caller), so every segment starts where the previous one ended.

A rendition opened where a live playlist already is (the room opened again after a crash and
restart, or by another node after a failover, on a directory the nodes share) carries it on: its
segments stay in the window, the new session's follow after an `EXT-X-DISCONTINUITY` (its
timeline starts again at 0), and the media sequence numbers go on rising, so a player that was
following the old playlist follows the new one without being reloaded.
"""

from __future__ import annotations

import os
import shutil
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple, Protocol

from mirp.webcast import fmp4
from mirp.webcast.names import FLOOR, channel_name

PACKET_SAMPLES = 960
PLAYLIST = "index.m3u8"
MASTER = "master.m3u8"
INIT = "init.mp4"
SUBS_PLAYLIST = "subs.m3u8"  # a channel's WebVTT subtitles (webcast/subtitles.py)
KEEP_EXTRA = 4  # segments kept on disk past the window, for a player a little behind


def write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def master_playlist(channels: Sequence[str], bandwidth: int = 48_000,
                    subtitled: Sequence[str] = ()) -> str:
    """One audio rendition per channel; the floor is the default and the variant's own audio.
    Each channel of `subtitled` also has a WebVTT subtitles rendition of the same LANGUAGE
    and NAME (webcast/subtitles.py), none shown by default: the page picks the one of the
    language heard."""
    lines = ["#EXTM3U", "#EXT-X-VERSION:7", "#EXT-X-INDEPENDENT-SEGMENTS"]
    for kind, group, names, uri in (("AUDIO", "aud", channels, PLAYLIST),
                                    ("SUBTITLES", "subs", subtitled, SUBS_PLAYLIST)):
        for ch in names:
            default = "YES" if ch == FLOOR and kind == "AUDIO" else "NO"
            language = "mul" if ch == FLOOR else ch
            lines.append(
                f'#EXT-X-MEDIA:TYPE={kind},GROUP-ID="{group}",LANGUAGE="{language}",'
                f'NAME="{channel_name(ch)}",DEFAULT={default},AUTOSELECT=YES,'
                f'URI="{ch}/{uri}"')
    subs = ',SUBTITLES="subs"' if subtitled else ""
    lines.append(f'#EXT-X-STREAM-INF:BANDWIDTH={bandwidth},CODECS="opus",AUDIO="aud"{subs}')
    lines.append(f"{FLOOR}/{PLAYLIST}")
    return "\n".join(lines) + "\n"


class Subtitles(Protocol):
    """A channel's subtitles, carried by its rendition (webcast/subtitles.py `SubtitleTrack`,
    which depends on this module, not the other way round): the rendition cuts and fills
    them, the receiver anchors them to the audio and gives them captions."""

    want_anchor: bool

    def cut(self, index: int, start: int, duration: int) -> None: ...

    def fill(self, name: str) -> None: ...

    def anchor(self, wall: float, at: int) -> None: ...

    def caption(self, text: str, start: float, end: float, floor: bool) -> None: ...


class Segment(NamedTuple):
    name: str
    seconds: float
    discontinuity: bool = False  # the timeline starts again here (a new session)


def carried_on(text: str) -> tuple[int, int, list[Segment]] | None:
    """(media sequence, discontinuity sequence, segments) of a live playlist written by
    `Rendition`, or None when there is nothing to carry on: not ours, unreadable, or ended (the
    meeting closed: players have stopped, and the next opening starts afresh)."""
    sequence = discontinuities = 0
    segments: list[Segment] = []
    seconds: float | None = None
    pending_break = False
    for line in text.splitlines():
        try:
            if line.startswith("#EXT-X-MEDIA-SEQUENCE:"):
                sequence = int(line.split(":", 1)[1])
            elif line.startswith("#EXT-X-DISCONTINUITY-SEQUENCE:"):
                discontinuities = int(line.split(":", 1)[1])
            elif line == "#EXT-X-ENDLIST":
                return None
            elif line == "#EXT-X-DISCONTINUITY":
                pending_break = True
            elif line.startswith("#EXTINF:"):
                seconds = float(line.split(":", 1)[1].rstrip(",").split(",")[0])
            elif line and not line.startswith("#") and seconds is not None:
                if "/" in line or not line.endswith(".m4s"):
                    return None
                segments.append(Segment(line, seconds, pending_break))
                seconds, pending_break = None, False
        except ValueError:
            return None
    return (sequence, discontinuities, segments) if text.startswith("#EXTM3U") else None


@dataclass
class Rendition:
    """One channel's segments and playlist, in `directory` (created; a playlist already there is
    carried on, any other file of old sessions removed)."""

    directory: Path
    session: str
    segment_packets: int = 50
    window: int = 6
    samples: list[tuple[int, bytes]] = field(default_factory=list)
    segments: list[Segment] = field(default_factory=list)  # the window
    sequence: int = 0  # media sequence number of segments[0]
    discontinuities: int = 0  # discontinuity sequence: the breaks that left the window
    written: int = 0  # segments written by this session
    base_time: int = 0  # samples before the pending ones
    ended: bool = False
    retired: deque[str] = field(default_factory=deque)  # left the window, still on disk
    fresh: bool = True  # the next segment is this session's first
    subtitles: Subtitles | None = None  # cut with the audio, when the channel is captioned

    def __post_init__(self) -> None:
        previous = None
        try:
            previous = carried_on((self.directory / PLAYLIST).read_text())
        except (OSError, UnicodeDecodeError):
            pass
        if previous is None:
            shutil.rmtree(self.directory, ignore_errors=True)
        else:
            self.sequence, self.discontinuities, self.segments = previous
            keep = {n for s in self.segments for n in (s.name, vtt_name(s.name))}
            keep |= {PLAYLIST, SUBS_PLAYLIST}
            for old in self.directory.iterdir():  # segments past the window, temporary files
                if old.name not in keep:
                    old.unlink(missing_ok=True)
        self.directory.mkdir(parents=True, exist_ok=True)
        write_atomic(self.directory / INIT, fmp4.init_segment())
        self.fresh = bool(self.segments)

    @property
    def position(self) -> int:
        """The timeline's next sample (the next packet's time)."""
        return self.base_time + sum(d for d, _ in self.samples)

    def add(self, packet: bytes, samples: int = PACKET_SAMPLES) -> None:
        self.samples.append((samples, packet))
        if len(self.samples) >= self.segment_packets:
            self.cut()

    def cut(self) -> None:
        """Write the pending packets as a segment and the playlist after it."""
        if not self.samples:
            return
        self.written += 1
        name = f"{self.session}-{self.written}.m4s"
        write_atomic(self.directory / name,
                     fmp4.media_segment(self.written, self.base_time, self.samples))
        duration = sum(d for d, _ in self.samples)
        if self.subtitles is not None:  # before the audio playlist names this segment
            self.subtitles.cut(self.written, self.base_time, duration)
        self.base_time += duration
        self.samples = []
        self.segments.append(Segment(name, duration / fmp4.TIMESCALE, self.fresh))
        self.fresh = False
        while len(self.segments) > self.window:
            gone = self.segments.pop(0)
            self.sequence += 1
            self.discontinuities += gone.discontinuity
            self.retired.append(gone.name)
        while len(self.retired) > KEEP_EXTRA:  # kept a little, for a player a little behind
            gone_name = self.retired.popleft()
            (self.directory / gone_name).unlink(missing_ok=True)
            (self.directory / vtt_name(gone_name)).unlink(missing_ok=True)
        self._playlist()

    def end(self) -> None:
        self.cut()
        self.ended = True
        self._playlist()

    def _playlist(self) -> None:
        """The audio playlist, and the subtitles' one from the same window (so their sequence
        numbers, discontinuities and durations are the audio's: one definition of the window)."""
        write_atomic(self.directory / PLAYLIST, self._lines(
            lambda s: s.name, ["#EXT-X-INDEPENDENT-SEGMENTS", f'#EXT-X-MAP:URI="{INIT}"']))
        if self.subtitles is not None:
            for segment in self.segments:  # a carried-on segment may have had no subtitles
                self.subtitles.fill(vtt_name(segment.name))
            write_atomic(self.directory / SUBS_PLAYLIST,
                         self._lines(lambda s: vtt_name(s.name), []))

    def _lines(self, name: Callable[[Segment], str], head: list[str]) -> bytes:
        target = max([round(s.seconds) for s in self.segments] + [1])
        lines = ["#EXTM3U", "#EXT-X-VERSION:7", f"#EXT-X-TARGETDURATION:{target}",
                 f"#EXT-X-MEDIA-SEQUENCE:{self.sequence}",
                 f"#EXT-X-DISCONTINUITY-SEQUENCE:{self.discontinuities}", *head]
        for segment in self.segments:
            if segment.discontinuity:
                lines.append("#EXT-X-DISCONTINUITY")
            lines += [f"#EXTINF:{segment.seconds:.3f},", name(segment)]
        if self.ended:
            lines.append("#EXT-X-ENDLIST")
        return ("\n".join(lines) + "\n").encode()


def vtt_name(segment: str) -> str:
    """The WebVTT segment beside an audio segment: the same stem (session and number)."""
    return segment.removesuffix(".m4s") + ".vtt"
