"""The webcast's and recordings' files as the API serves them: names checked before any path is
built (no traversal, nothing but what the worker writes), recordings listed from their
meta.json, the index (JSON and WebVTT chapters) computed from the Room's records."""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mirp.errors import InvalidInput, NotFound
from mirp.store.recordings import Turn
from mirp.webcast.hls import INIT, MASTER, PLAYLIST, SUBS_PLAYLIST
from mirp.webcast.record import META

MEETING_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
CHANNEL = re.compile(r"floor|[a-z]{2,3}")
SEGMENT = re.compile(r"[0-9a-f]{1,16}-[0-9]{1,10}\.(m4s|vtt)")  # audio, WebVTT
PART = re.compile(r"[0-9]{8}T[0-9]{6}Z")


def check_meeting_id(meeting_id: str) -> None:
    if not MEETING_ID.fullmatch(meeting_id):
        raise NotFound("no such meeting")


def webcast_file(root: str, meeting_id: str, path: str) -> tuple[str, str]:
    """The file for `/webcast/<meeting>/<path>` and its kind ("playlist", "init", "segment",
    "subtitles").
    A name the worker never writes is refused (InvalidInput), whatever it contains. A string,
    not a Path: this is on every viewer's every request, and joining Paths costs more than the
    rest of the check."""
    check_meeting_id(meeting_id)
    if path == MASTER:
        return f"{root}/{meeting_id}/{MASTER}", "playlist"
    channel, _, name = path.partition("/")
    if not CHANNEL.fullmatch(channel):
        raise InvalidInput(f"not a webcast file: {path!r}", {"field": "path"})
    if name in (PLAYLIST, SUBS_PLAYLIST):
        kind = "playlist"
    elif name == INIT:
        kind = "init"
    elif SEGMENT.fullmatch(name):
        kind = "subtitles" if name.endswith(".vtt") else "segment"
    else:
        raise InvalidInput(f"not a webcast file: {path!r}", {"field": "path"})
    return f"{root}/{meeting_id}/{channel}/{name}", kind


def read_small(path: str) -> bytes:
    """A playlist or segment (a few kB, written whole and renamed in by the worker, so in the
    page cache): read on the loop, which costs less than a hop to a thread and back per request
    (bench/webcast.py measures the whole request)."""
    try:
        with open(path, "rb") as f:
            return f.read()
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        raise NotFound("not in the webcast (yet, or any more)") from None


@dataclass(frozen=True, slots=True)
class Cached:
    """A webcast file as last read, and what identifies that version of it."""

    version: tuple[int, int, int]  # inode, mtime (ns), size: the worker renames a new file in
    body: bytes
    etag: bytes


class FileCache:
    """The webcast's files in memory, each checked against the disk by one `stat` per request
    (no open or read while it is unchanged). Every viewer of a channel asks for the same
    playlist and the same few segments, so this holds a handful of small files per channel;
    whoever writes them (the worker thread, or any other process) needs no hook: a new version
    is a new inode, and a deleted one (out of the window) is a 404 as the disk says."""

    def __init__(self, max_files: int = 2048) -> None:
        self.max_files = max_files
        self.files: dict[str, Cached] = {}
        self.reads = 0  # files read from disk (a cache miss or a new version)

    def get(self, path: str) -> Cached:
        try:
            st = os.stat(path)
        except (FileNotFoundError, NotADirectoryError):
            raise NotFound("not in the webcast (yet, or any more)") from None
        if not stat.S_ISREG(st.st_mode):
            raise NotFound("not in the webcast (yet, or any more)")
        version = (st.st_ino, st.st_mtime_ns, st.st_size)
        found = self.files.get(path)
        if found is not None and found.version == version:
            return found
        body = read_small(path)  # replaced since the stat: the next request reads it again
        self.reads += 1
        found = Cached(version, body, b'"%x-%x-%x"' % version)
        self.files.pop(path, None)
        while len(self.files) >= self.max_files:  # the oldest first (segments past the window)
            del self.files[next(iter(self.files))]
        self.files[path] = found
        return found


@dataclass(frozen=True, slots=True)
class Part:
    """One recording: a room's opening with recording on."""

    part: str
    directory: Path
    channels: dict[str, float]  # channel -> its first sample, UTC seconds
    ended_at: float | None
    stopped: str | None

    @property
    def started_at(self) -> float:
        return min(self.channels.values(), default=0.0)

    def to_json(self, running: bool) -> dict[str, Any]:
        return {
            "part": self.part, "started_at": _iso(self.started_at),
            "ended_at": _iso(self.ended_at) if self.ended_at else None,
            "running": running, "stopped": self.stopped,
            "channels": [{"channel": ch, "bytes": _size(self.directory / f"{ch}.opus"),
                          "started_at": _iso(at)} for ch, at in self.channels.items()],
        }


def _iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat()


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def read_part(directory: Path) -> Part | None:
    try:
        meta = json.loads((directory / META).read_text())
    except (OSError, ValueError):
        return None
    return Part(directory.name, directory,
                {str(ch): float(v["started_at"]) for ch, v in meta.get("channels", {}).items()},
                meta.get("ended_at"), meta.get("stopped"))


def parts(root: Path, meeting_id: str) -> list[Part]:
    check_meeting_id(meeting_id)
    base = root / meeting_id
    if not base.is_dir():
        return []
    found = [read_part(d) for d in sorted(base.iterdir()) if PART.fullmatch(d.name)]
    return [p for p in found if p is not None]


def part(root: Path, meeting_id: str, name: str) -> Part:
    check_meeting_id(meeting_id)
    if not PART.fullmatch(name):
        raise NotFound("no such recording")
    found = read_part(root / meeting_id / name)
    if found is None:
        raise NotFound("no such recording")
    return found


def channel_file(found: Part, channel: str) -> Path:
    if not CHANNEL.fullmatch(channel) or channel not in found.channels:
        raise NotFound("no such channel in this recording")
    return found.directory / f"{channel}.opus"


def delete_part(found: Part) -> None:
    shutil.rmtree(found.directory, ignore_errors=True)


def expired(root: Path, retention_days: dict[str, int], now: float | None = None) -> list[Part]:
    """Recordings ended more than their meeting's retention ago (meetings without one: kept)."""
    now = time.time() if now is None else now
    out = []
    for meeting_id, days in retention_days.items():
        for p in parts(root, meeting_id):
            if days > 0 and p.ended_at is not None and now - p.ended_at > days * 86400:
                out.append(p)
    return out


# ---------------------------------------------------------------- the index
def index(found: Part, turns: Sequence[Turn]) -> dict[str, Any]:
    """Every turn with its times in seconds from the recording's start (each channel's file
    starts at its own first sample: `offsets` says by how much it differs from the start)."""
    start = found.started_at

    def rel(at: datetime) -> float:
        return round(at.timestamp() - start, 3)

    return {
        "part": found.part, "started_at": _iso(start),
        "offsets": {ch: round(at - start, 3) for ch, at in found.channels.items()},
        "entries": [{
            "kind": turn.kind, "participant_id": turn.participant_id, "name": turn.name,
            "delegation": turn.delegation, "language": turn.language, "booth": turn.booth,
            "start": max(0.0, rel(turn.started_at)), "end": max(0.0, rel(turn.ended_at)),
            "started_at": turn.started_at.isoformat(), "ended_at": turn.ended_at.isoformat(),
        } for turn in turns],
    }


def _vtt_time(seconds: float) -> str:
    ms = round(seconds * 1000)
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}.{ms:03d}"


def vtt(found_index: dict[str, Any]) -> str:
    """WebVTT chapters: one cue per entry (a speaker, or a booth going on air)."""
    lines = ["WEBVTT", ""]
    for i, e in enumerate(found_index["entries"], 1):
        if e["kind"] == "speaker":
            who = e["name"] + (f" ({e['delegation']})" if e["delegation"] else "")
            text = f"{who}: {e['language'] or ''}".rstrip(": ")
        else:
            text = f"{e['booth']} booth on air ({e['language']}): {e['name']}"
        end = max(e["end"], e["start"] + 0.001)
        lines += [str(i), f"{_vtt_time(e['start'])} --> {_vtt_time(end)}",
                  text.replace("-->", "->"), ""]
    return "\n".join(lines)
