"""WebVTT subtitles in the webcast: per captioned channel a live subtitles playlist whose
segments mirror the channel's audio segments (webcast/hls.py), with the captioner's finals as
cues (docs/webcast.md, "Captions").

Why segments that mirror the audio: a player fetches the subtitles segment of the time it plays,
so each WebVTT segment has the media sequence number and duration of the audio segment of that
time, and an `X-TIMESTAMP-MAP` that puts its cues on the fMP4 timeline (the channel's sample
count, 48 kHz; the map's MPEGTS is that time in 90 kHz). A segment is written at the very cut
of its audio segment, empty when nobody spoke (a player needs every segment).

Captions come with wall-clock times (when the captioner heard the words, captions/service.py
`Heard`); the audio timeline is a sample count. Each segment's first packet gives an anchor
(when the origin sent it, from the relay header, and its sample time), so a wall time maps onto
the timeline of the segment it falls in, through gaps and clock jumps alike. A caption whose
time is not published yet lands exactly there. But a caption comes after the words (the
captioner decodes an utterance once it ends, 1-3 s), so its first words are nearly always in a
segment already published: it is then shown from the first unpublished instant, for its own
duration (never shorter than `MIN_SHOW_S`). A viewer thus reads it as long after the words as a
delegate does (the captioner's latency), never earlier and never lost. Holding the subtitles a
few segments back instead would put the words and their caption together only for a viewer
kept that much further behind the live edge (web/js/webcast.js plays 1.5 s behind it).

Runs on the webcast worker's thread, like the rest of what it writes.
"""

from __future__ import annotations

import bisect
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from mirp.rooms import captioning
from mirp.webcast.fmp4 import TIMESCALE
from mirp.webcast.hls import write_atomic

MIN_SHOW_S = 1.5  # a caption pushed past published segments stays on screen at least this long
ANCHORS = 16  # segment anchors kept: a caption older than that many segments is shown at once


@dataclass(frozen=True, slots=True)
class Said:
    """A caption final for one subtitles rendition (the app hands it to the worker)."""

    meeting_id: str
    channel: str  # the rendition it shows on
    text: str
    start: float  # wall-clock seconds, as the captioner gives them
    end: float
    floor: bool  # the floor's caption on a channel carrying the floor (its booth off air)


@dataclass(slots=True)
class Cue:
    ident: str
    start: int  # samples on the channel's timeline
    end: int
    text: str
    floor: bool


def vtt_time(samples: int) -> str:
    ms = samples * 1000 // TIMESCALE
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}.{ms:03d}"


def cue_text(text: str, floor: bool) -> str:
    """One line of escaped text; the floor's captions in a `floor` class span (a page styles or
    marks it; web/js/webcast.js shows a "Floor" badge)."""
    line = " ".join(text.split())
    line = line.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return f"<c.floor>{line}</c>" if floor else line


def vtt_segment(start: int, cues: Collection[Cue]) -> bytes:
    """A WebVTT segment starting at sample `start`: cue times are timeline seconds, and the map
    says so (local time T is MPEGTS T * 90 kHz, the fMP4 time scaled as HLS asks)."""
    lines = ["WEBVTT",
             f"X-TIMESTAMP-MAP=MPEGTS:{start * 90_000 // TIMESCALE},LOCAL:{vtt_time(start)}", ""]
    for cue in cues:
        lines += [cue.ident, f"{vtt_time(cue.start)} --> {vtt_time(cue.end)}",
                  cue_text(cue.text, cue.floor), ""]
    return "\n".join(lines).encode()


@dataclass
class SubtitleTrack:
    """One channel's subtitles, in its rendition's directory, cut with its audio (hls.py calls
    `cut` and `end`; the receiver calls `anchor` and `caption`)."""

    directory: Path
    session: str
    cues: list[Cue] = field(default_factory=list)
    published: int = 0  # samples: the end of the newest segment written
    anchors: list[tuple[float, int]] = field(default_factory=list)  # (wall s, samples)
    want_anchor: bool = True  # the next packet starts a segment
    said: int = 0

    def anchor(self, wall: float, at: int) -> None:
        """The packet at sample `at` was sent at `wall`."""
        self.want_anchor = False
        if self.anchors and wall < self.anchors[-1][0]:  # the wall clock went back: start over
            self.anchors.clear()
        self.anchors.append((wall, at))
        del self.anchors[:-ANCHORS]

    def at(self, wall: float) -> int | None:
        """A wall-clock time on the timeline (None before any audio)."""
        if not self.anchors:
            return None
        i = max(0, bisect.bisect_right(self.anchors, (wall, 1 << 62)) - 1)
        w, at = self.anchors[i]
        return max(0, at + round((wall - w) * TIMESCALE))

    def caption(self, text: str, start: float, end: float, floor: bool) -> None:
        first = self.at(start)
        if first is None or not text.strip():
            return
        length = max(0, round((end - start) * TIMESCALE))
        if first < self.published:  # its words are published: show it from now on
            first = self.published
            length = max(length, round(MIN_SHOW_S * TIMESCALE))
        self.said += 1
        self.cues.append(Cue(f"{self.session}-{self.said}", first, first + max(length, 1),
                             text, floor))

    def cut(self, index: int, start: int, duration: int) -> None:
        """Write segment `index` for the audio segment [start, start + duration) (its playlist
        is the rendition's: hls.py writes both from one window)."""
        end = start + duration
        shown = [c for c in self.cues if c.start < end and c.end > start]
        write_atomic(self.directory / f"{self.session}-{index}.vtt", vtt_segment(start, shown))
        self.cues = [c for c in self.cues if c.end > end]
        self.published = end
        self.want_anchor = True

    def fill(self, name: str) -> None:
        """An empty segment under `name` if none is there (a segment carried on from a session
        that wrote no subtitles: players want every segment the playlist names)."""
        if not (self.directory / name).exists():
            write_atomic(self.directory / name, vtt_segment(0, ()))


# ---------------------------------------------------------------- the app's side (its loop)
class RoomLike(Protocol):
    @property
    def spec(self) -> Any: ...
    @property
    def routes(self) -> Mapping[str, Any]: ...


def subtitled(room: RoomLike | None) -> tuple[str, ...]:
    """The channels a webcast shows captions on: those the room captions (rooms/captioning.py:
    the floor's too when any is)."""
    if room is None:
        return ()
    return tuple(captioning.caption_keys(room.spec.captions).values())


def said(meeting_id: str, room: RoomLike, channel: str, text: str, start: float,
         end: float) -> list[Said]:
    """A caption final of `channel` as the webcast shows it: on its own rendition, and the
    floor's marked on each captioned rendition now carrying the floor."""
    return [Said(meeting_id, ch, text, start, end, floor)
            for ch, floor in captioning.webcast_targets(channel, room.spec.captions,
                                                        room.routes)]
