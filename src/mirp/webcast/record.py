"""A recording of one meeting's opening: one Ogg Opus file per channel and a meta.json.

`meta.json` says when each channel's first sample was heard (UTC, seconds since the epoch): the
index (speakers, on-air changes) is computed from the Room's records against it, at download
time, so the recorder writes audio only. A write that fails (a full disk) stops the whole
recording, keeps what is on disk playable, and raises `RecordingStopped` for the caller's alert.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from mirp.webcast.hls import write_atomic
from mirp.webcast.ogg import OggOpusWriter

META = "meta.json"


class RecordingStopped(Exception):
    """The recording could not be written (disk full, I/O error): it stops, the meeting goes on."""


@dataclass
class Recording:
    directory: Path
    meeting_id: str
    part: str  # the opening's UTC start, e.g. 20261129T030501Z
    files: dict[str, tuple[BinaryIO, OggOpusWriter]] = field(default_factory=dict)
    started: dict[str, float] = field(default_factory=dict)
    ended_at: float | None = None
    stopped: str | None = None  # why it stopped early

    def __post_init__(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)

    def add(self, channel: str, packet: bytes, first_heard: float, samples: int = 960) -> None:
        if self.stopped is not None:
            return
        try:
            entry = self.files.get(channel)
            if entry is None:
                out = open(self.directory / f"{channel}.opus", "wb")
                serial = zlib.crc32(f"{self.meeting_id}/{self.part}/{channel}".encode())
                entry = self.files[channel] = (out, OggOpusWriter(out, serial))
                self.started[channel] = first_heard
                self._meta()
            entry[1].add(packet, samples)
        except OSError as exc:
            self._stop(f"write failed: {exc.strerror or exc}")
            raise RecordingStopped(self.stopped) from exc

    def _meta(self) -> None:
        write_atomic(self.directory / META, json.dumps({
            "meeting_id": self.meeting_id, "part": self.part,
            "channels": {ch: {"started_at": t, "file": f"{ch}.opus"}
                         for ch, t in self.started.items()},
            "ended_at": self.ended_at, "stopped": self.stopped}).encode())

    def _stop(self, reason: str) -> None:
        self.stopped = reason
        for out, _ in self.files.values():
            try:
                out.close()
            except OSError:
                pass
        self.files.clear()
        try:
            self._meta()
        except OSError:
            pass

    def close(self, now: float) -> None:
        if self.stopped is not None:
            return
        self.ended_at = now
        try:
            for out, writer in self.files.values():
                writer.close()
                out.close()
            self.files.clear()
            self._meta()
        except OSError as exc:
            self._stop(f"write failed: {exc.strerror or exc}")
