"""The webcast's control side, on the app's loop: which meetings are webcast or recorded, which
key each channel is heard on, and the media plane told to relay those keys to the worker.

What a channel carries (an interpreter on air, a booth that carries the floor) is the Room's
business: a meeting that is webcast or recorded has one broadcast key per channel in its mix
plan (rooms/mixing.py `broadcast_key`), an alias of the key the channel's listeners hear, whose
target changes at the very tick the Room's routes do, so the webcast and the recordings switch
exactly when listeners do, with their very packets (the recordings' index is accurate to a
tick). The keys are fixed for the meeting; this side only follows which rooms
are open and their options, by polling the registry (every `POLL_S`, a pure read on the same
loop: no Room or registry code needs to know the webcast exists). The media plane encodes a
relayed key (an alias: its target) even with no listener (media/engine.py: `keys_out`), so the
worker gets the same packets an edge would (docs/relay.md); in a cluster this runs where the
room runs, so once per meeting.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

from mirp.media.plan import FeedKey
from mirp.media.plane import MediaPlane
from mirp.rooms.room import Room
from mirp.rooms.shared_plane import namespaced
from mirp.store.db import Database
from mirp.store.recordings import retention_days
from mirp.webcast.files import delete_part, expired
from mirp.webcast.receiver import MeetingConfig, MeetingStatus, Receiver

log = logging.getLogger(__name__)

POLL_S = 0.2
RETENTION_EVERY_S = 3600.0  # how often recordings past their meeting's retention are deleted
EPOCH = 0  # one process holds its rooms; a cluster's origin would give its lease epoch here


class RuntimeLike(Protocol):
    @property
    def room(self) -> Room: ...
    @property
    def closing(self) -> bool: ...
    def recording_state(self, on: bool) -> None: ...


class RegistryLike(Protocol):
    @property
    def rooms(self) -> Mapping[str, RuntimeLike]: ...


def link_id(meeting_id: str) -> str:
    return f"webcast:{meeting_id}"


def webcast_dir(data_dir: Path) -> Path:
    return data_dir / "webcast"


def recordings_dir(data_dir: Path) -> Path:
    return data_dir / "recordings"


class Webcaster:
    """Starts the worker (webcast/receiver.py), keeps it and the relay links in step with the
    open rooms, ends a meeting's playlists and recordings when its room closes."""

    def __init__(self, registry: RegistryLike, media: MediaPlane, data_dir: Path,
                 segment_packets: int = 50, window: int = 6, db: Database | None = None) -> None:
        self.registry = registry
        self.media = media
        self.db = db
        self.data_dir = data_dir
        self.receiver = Receiver(webcast_dir(data_dir), recordings_dir(data_dir),
                                 segment_packets=segment_packets, window=window)
        self.address: tuple[str, int] | None = None
        self._told: dict[str, MeetingConfig] = {}
        self._recording: dict[str, tuple[int, bool]] = {}  # told each runtime (id) its REC
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """The poll task; the worker's socket and thread start with the first meeting that is
        webcast or recorded (a server without any binds nothing)."""
        self._task = asyncio.get_running_loop().create_task(self._run(), name="webcast")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for meeting_id in list(self._told):
            self._stop(meeting_id)
        await asyncio.to_thread(self.receiver.close)

    def status(self, meeting_id: str) -> MeetingStatus | None:
        return self.receiver.status(meeting_id)

    async def _run(self) -> None:
        next_sweep = 0.0
        loop = asyncio.get_running_loop()
        while True:
            try:
                self.sync()
            except Exception:
                log.exception("webcast: sync failed")
            if self.db is not None and loop.time() >= next_sweep:
                next_sweep = loop.time() + RETENTION_EVERY_S
                try:
                    await self.sweep()
                except Exception:  # the database away: next time
                    log.exception("webcast: retention sweep failed")
            await asyncio.sleep(POLL_S)

    async def sweep(self) -> int:
        """Delete the recordings past their meeting's retention; how many."""
        if self.db is None:
            return 0
        async with self.db.session() as session:
            days = await retention_days(session)
        gone = await asyncio.to_thread(expired, recordings_dir(self.data_dir), days)
        for part in gone:
            log.info("recording %s of %s past its retention: deleted", part.part,
                     part.directory.parent.name)
            await asyncio.to_thread(delete_part, part)
        return len(gone)

    def sync(self) -> None:
        """One look at the open rooms: start, change or end what the worker makes of them."""
        wanted: dict[str, MeetingConfig] = {}
        for meeting_id, runtime in list(self.registry.rooms.items()):
            room = getattr(runtime, "room", None)  # a cluster's stand-in for a room held by
            if not isinstance(room, Room):  # another node has none: its origin webcasts it
                continue
            spec = room.spec
            if runtime.closing or room.closed:
                continue
            self._tell_recording(meeting_id, runtime, room)
            if not spec.broadcast:
                continue
            channels = tuple((ch, namespaced(meeting_id, key))
                             for ch, key in room.broadcast_keys().items())
            wanted[meeting_id] = MeetingConfig(meeting_id, channels, spec.webcast != "off",
                                               spec.recording)
        for meeting_id in [m for m in self._recording if m not in self.registry.rooms]:
            del self._recording[meeting_id]
        if wanted and self.address is None:
            self.address = self.receiver.start()
        for meeting_id in [m for m in self._told if m not in wanted]:
            self._stop(meeting_id)
        for meeting_id, config in wanted.items():
            if self._told.get(meeting_id) != config and self.address is not None:
                self._told[meeting_id] = config
                self.receiver.configure(config)
                keys: set[FeedKey] = {key for _, key in config.keys}
                self.media.relay_to(link_id(meeting_id), self.address, keys, EPOCH)

    def _tell_recording(self, meeting_id: str, runtime: RuntimeLike, room: Room) -> None:
        """The room's REC badge follows the recorder's real state (the worker's status: a full
        disk or a write error stops it though the option stays on; turning it off stops it),
        not the option. Told once per change and per runtime (a room opened again is told
        again)."""
        status = self.receiver.status(meeting_id)
        on = (meeting_id in self._told and self._told[meeting_id].recording
              and status is not None and status.recording and room.spec.recording)
        told = (id(runtime), on)
        if room.recording != on and self._recording.get(meeting_id) != told:
            self._recording[meeting_id] = told
            runtime.recording_state(on)

    def _stop(self, meeting_id: str) -> None:
        self._told.pop(meeting_id, None)
        self.media.relay_stop(link_id(meeting_id))
        self.receiver.end(meeting_id)
