"""The local append-only journal: what must survive a kill -9 before it reaches the database.

Why: an acknowledged command must not be lost when the process dies, and the database may be
away for a while. Records (attendance, listening, speaking, on air) and Room snapshots are
appended here first, fsync'd by group commit (one `fsync` serves every room that waited for the
same round), and only then acknowledged. A writer outside this module (rooms/registry.py's
Recorder) copies the records to the database and marks them done; a restarted process replays
what was not marked done and restores Rooms from their newest snapshot.

One file, mode 0600, of frames `length (u32) | crc32 (u32) | payload`; a payload is
`kind (1 byte) | number (u64) | key length (u16) | key | body`. Kinds: `R` a record (numbered,
in order), `D` done up to a number, `S` a snapshot of key, `X` the snapshot of key is void. A torn
or corrupt tail (the kill came mid-write) is cut off at open. The file is rewritten (compacted)
to its live entries (the pending records and the newest snapshot per key) when it has grown
well past them. The journal knows no meeting and no record type: bodies are bytes.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import struct
import time
import zlib
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger("mirp.journal")

_FRAME = struct.Struct(">II")  # payload length, crc32
_HEAD = struct.Struct(">cQH")  # kind, number, key length
COMPACT_MIN_BYTES = 4 * 1024 * 1024  # below this the file is never rewritten


@dataclass
class Replay:
    """What a previous process left: records not yet in the database, newest snapshots."""

    records: list[tuple[int, bytes]] = field(default_factory=list)
    snapshots: dict[str, bytes] = field(default_factory=dict)
    cut_bytes: int = 0  # a torn tail that was cut off


def _frame(kind: bytes, number: int, key: str, body: bytes) -> bytes:
    k = key.encode()
    payload = _HEAD.pack(kind, number, len(k)) + k + body
    return _FRAME.pack(len(payload), zlib.crc32(payload)) + payload


class Journal:
    """`path` None: kept in memory only (unit tests, or a server told not to journal)."""

    def __init__(self, path: Path | None, compact_min_bytes: int = COMPACT_MIN_BYTES) -> None:
        self.path = path
        self.compact_min_bytes = compact_min_bytes
        self._fd: int | None = None
        self._size = 0
        self._next = 1
        self._pending: deque[tuple[int, bytes, float]] = deque()  # number, body, appended at
        self._pending_bytes = 0  # their bodies' size (kept as we go: depth may be large)
        self._snapshots: dict[str, bytes] = {}  # newest per key (what a compaction keeps)
        self._buffer: list[bytes] = []  # frames not yet written
        self._unwritten_snapshots: dict[str, bytes | None] = {}  # coalesced: one per key/round
        self._waiters: list[asyncio.Future[None]] = []  # wait for the round after this one
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._inflight = False  # a round is being written (its entries are not on disk yet)
        self.failed: BaseException | None = None  # the last write error (the disk is in trouble)

    # ---------------------------------------------------------------- start and stop
    def open(self) -> Replay:
        """Read what is there (cutting a torn tail), then append from there. Call once."""
        replay = Replay()
        if self.path is None:
            return replay
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = self.path.read_bytes() if self.path.exists() else b""
        records: dict[int, bytes] = {}
        done = 0
        pos = 0
        while pos + _FRAME.size <= len(data):
            length, crc = _FRAME.unpack_from(data, pos)
            payload = data[pos + _FRAME.size : pos + _FRAME.size + length]
            if len(payload) < length or zlib.crc32(payload) != crc or length < _HEAD.size:
                break
            kind, number, klen = _HEAD.unpack_from(payload)
            key = payload[_HEAD.size : _HEAD.size + klen].decode()
            body = payload[_HEAD.size + klen :]
            if kind == b"R":
                records[number] = body
            elif kind == b"D":
                done = max(done, number)
            elif kind == b"S":
                replay.snapshots[key] = body
            elif kind == b"X":
                replay.snapshots.pop(key, None)
            pos += _FRAME.size + length
        replay.cut_bytes = len(data) - pos
        if replay.cut_bytes:
            log.warning("journal %s: torn tail of %d bytes cut off", self.path, replay.cut_bytes)
        replay.records = sorted((n, b) for n, b in records.items() if n > done)
        self._next = max([done, *records]) + 1
        now = time.time()
        self._pending.extend((n, b, now) for n, b in replay.records)
        self._pending_bytes = sum(len(b) for _, b in replay.records)
        self._snapshots = dict(replay.snapshots)
        created = not self.path.exists()
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600)
        os.chmod(self.path, 0o600)
        if created:  # the file's name is durable too
            _fsync_dir(self.path.parent)
        os.ftruncate(self._fd, pos)
        os.lseek(self._fd, pos, os.SEEK_SET)
        self._size = pos
        return replay

    def start(self) -> Journal:
        """The group-commit writer task (on the running loop)."""
        if self._task is None:
            self._wake = asyncio.Event()
            self._task = asyncio.create_task(self._run(), name="journal")
        return self

    async def close(self) -> None:
        """Write what is buffered, then stop (idempotent)."""
        if self._task is not None:
            with contextlib.suppress(Exception):
                await self.durable()
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    # ---------------------------------------------------------------- appending
    def append(self, body: bytes) -> int:
        """A record: pending until `done` covers its number. Durable after the next round."""
        number = self._next
        self._next += 1
        self._pending.append((number, body, time.time()))
        self._pending_bytes += len(body)
        if self.path is not None:
            self._buffer.append(_frame(b"R", number, "", body))
            self._kick()
        return number

    def snapshot(self, key: str, body: bytes | None) -> None:
        """The newest state of `key` (None: there is none any more). Within one round only the
        last snapshot of a key is written."""
        if body is None:
            self._snapshots.pop(key, None)
        else:
            self._snapshots[key] = body
        if self.path is not None:
            self._unwritten_snapshots[key] = body
            self._kick()

    def pending(self, limit: int) -> list[tuple[int, bytes]]:
        """The oldest records not yet marked done (for the database writer)."""
        return [(n, b) for n, b, _ in itertools.islice(self._pending, limit)]

    def done(self, through: int) -> None:
        """Records up to `through` are in the database (the mark is written with the next round)."""
        while self._pending and self._pending[0][0] <= through:
            self._pending_bytes -= len(self._pending.popleft()[1])
        if self.path is not None:
            self._buffer.append(_frame(b"D", through, "", b""))
            self._kick()

    def snapshot_of(self, key: str) -> bytes | None:
        return self._snapshots.get(key)

    def snapshot_keys(self) -> list[str]:
        return list(self._snapshots)

    @property
    def depth(self) -> int:
        """Records journaled but not yet in the database."""
        return len(self._pending)

    def age_s(self, now: float | None = None) -> float:
        """Seconds since the oldest record not yet in the database was journaled (0: none)."""
        if not self._pending:
            return 0.0
        return max(0.0, (now if now is not None else time.time()) - self._pending[0][2])

    async def durable(self) -> None:
        """Return once everything appended so far is on disk (fsync'd)."""
        if self.path is None or not (self._buffer or self._unwritten_snapshots or self._inflight):
            return
        if self._task is None:
            self.start()
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(fut)
        self._kick()
        await fut

    # ---------------------------------------------------------------- the writer
    def _kick(self) -> None:
        if self._wake is not None:
            self._wake.set()

    async def _run(self) -> None:
        assert self._wake is not None
        while True:
            await self._wake.wait()
            self._wake.clear()
            entries, self._buffer = self._buffer, []
            snaps, self._unwritten_snapshots = self._unwritten_snapshots, {}
            waiters, self._waiters = self._waiters, []
            self._inflight = True
            frames = entries + [
                _frame(b"S", 0, key, body) if body is not None else _frame(b"X", 0, key, b"")
                for key, body in snaps.items()
            ]
            try:
                if frames and self._fd is not None:
                    await asyncio.to_thread(self._write, b"".join(frames))
                if self._fd is not None and self._size > max(
                    self.compact_min_bytes, 4 * self._live_bytes()
                ):
                    await asyncio.to_thread(self._compact, self._live_frames())
            except Exception as exc:  # the disk is failing: say so to whoever waits, try again
                self._inflight = False
                self.failed = exc
                log.exception("journal %s: write failed", self.path)
                self._buffer[:0] = entries
                for key, body in snaps.items():
                    self._unwritten_snapshots.setdefault(key, body)
                for w in waiters:
                    if not w.done():
                        w.set_exception(exc)
                await asyncio.sleep(0.5)
                self._kick()
                continue
            self._inflight = False
            self.failed = None
            for w in waiters:
                if not w.done():
                    w.set_result(None)

    def _write(self, data: bytes) -> None:
        """All of `data`, fsync'd; on failure the file is cut back to its last good end, so a
        half-written frame never hides the frames written after it."""
        assert self._fd is not None
        view = memoryview(data)
        try:
            while view:
                n = os.write(self._fd, view)
                view = view[n:]
            os.fsync(self._fd)
        except OSError:
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, self._size)
                os.lseek(self._fd, self._size, os.SEEK_SET)
            raise
        self._size += len(data)

    def _live_frames(self) -> bytes:
        frames = [_frame(b"R", n, "", b) for n, b, _ in self._pending]
        frames += [_frame(b"S", 0, k, b) for k, b in self._snapshots.items()]
        return b"".join(frames)

    def _live_bytes(self) -> int:
        return self._pending_bytes + 40 * len(self._pending) + sum(
            len(b) + len(k) + 40 for k, b in self._snapshots.items()
        )

    def _compact(self, data: bytes) -> None:
        """Rewrite the file to its live entries: a new file, fsync'd, renamed over the old.
        Frames buffered meanwhile go into the new file (they are written after this)."""
        assert self.path is not None and self._fd is not None
        tmp = self.path.with_suffix(self.path.suffix + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, data)
            os.fsync(fd)
        except BaseException:
            os.close(fd)
            raise
        os.replace(tmp, self.path)
        _fsync_dir(self.path.parent)
        os.close(self._fd)
        self._fd = fd
        self._size = len(data)
        log.info("journal %s compacted to %d bytes", self.path, self._size)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
