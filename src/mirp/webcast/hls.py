"""HLS for one meeting: a master playlist, and per channel a sliding-window media playlist of
fMP4 segments made of the channel's Opus packets (webcast/fmp4.py).

Files are written whole and renamed into place (a reader never sees half a segment or playlist),
so any static file server, reverse proxy or CDN can serve the directory. Segment names carry the
session (the room's opening) so a name is never reused: segments can be cached as immutable.
The timeline is the channel's own sample count (a gap in the packets was filled with silence by
the caller), so every segment starts where the previous one ended.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from mirp.webcast import fmp4
from mirp.webcast.names import FLOOR, channel_name

if TYPE_CHECKING:  # subtitles.py writes with this module's write_atomic
    from mirp.webcast.subtitles import SubtitleTrack

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


@dataclass
class Rendition:
    """One channel's segments and playlist, in `directory` (created, emptied of old sessions)."""

    directory: Path
    session: str
    segment_packets: int = 50
    window: int = 6
    samples: list[tuple[int, bytes]] = field(default_factory=list)
    segments: list[tuple[str, float]] = field(default_factory=list)  # name, seconds
    sequence: int = 0  # media sequence number of segments[0]
    written: int = 0  # segments written
    base_time: int = 0  # samples before the pending ones
    ended: bool = False
    subtitles: SubtitleTrack | None = None  # cut with the audio, when the channel is captioned

    def __post_init__(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)
        self.directory.mkdir(parents=True, exist_ok=True)
        write_atomic(self.directory / INIT, fmp4.init_segment())

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
        self.segments.append((name, duration / fmp4.TIMESCALE))
        while len(self.segments) > self.window:
            self.segments.pop(0)
            self.sequence += 1
        stale = self.written - self.window - KEEP_EXTRA
        if stale > 0:
            (self.directory / f"{self.session}-{stale}.m4s").unlink(missing_ok=True)
        self._playlist()

    def end(self) -> None:
        self.cut()
        self.ended = True
        if self.subtitles is not None:
            self.subtitles.end()
        self._playlist()

    def _playlist(self) -> None:
        target = max([round(s) for _, s in self.segments] + [1])
        lines = ["#EXTM3U", "#EXT-X-VERSION:7", f"#EXT-X-TARGETDURATION:{target}",
                 f"#EXT-X-MEDIA-SEQUENCE:{self.sequence}", "#EXT-X-INDEPENDENT-SEGMENTS",
                 f'#EXT-X-MAP:URI="{INIT}"']
        for name, seconds in self.segments:
            lines += [f"#EXTINF:{seconds:.3f},", name]
        if self.ended:
            lines.append("#EXT-X-ENDLIST")
        write_atomic(self.directory / PLAYLIST, ("\n".join(lines) + "\n").encode())
