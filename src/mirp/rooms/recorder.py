"""The Recorder: where a Room's records, snapshots and decisions become durable.

Records and snapshots go to the journal (mirp/journal.py) first, so a slow or absent database
never slows a Room down and never loses a record; this module's task then copies the records to
the database (`store.record`) and marks them done. Decisions are committed straight away, since
their ack waits for them (docs/rooms.md, "Durability").
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Literal, Protocol, TypedDict

from mirp.cluster.snapshots import SnapshotWriter
from mirp.errors import MirpError
from mirp.journal import Journal
from mirp.rooms.durable import decode_record, encode_record, encode_room
from mirp.rooms.model import Record
from mirp.rooms.room import Room

log = logging.getLogger("mirp.rooms.recorder")


class RecordStore(Protocol):
    """Where records are committed (registry.RoomStore; store/admission.py)."""

    async def record(self, records: Sequence[Record]) -> None: ...


class JournalHealth(TypedDict):
    depth: int  # records in the journal, not yet in the database
    age_s: float  # the oldest such record's age
    failures: int  # consecutive failed writes to the database
    journal: Literal["ok", "error"]  # whether the journal file can be written


class Recorder:
    """Records and snapshots go to the journal first (`put` and `snapshot` never block; the
    journal's group commit makes them durable, and `durable()` waits for that), then this task
    copies the records to `store.record` in batches, in order, retried without limit (capped
    back-off) and marked done; nothing is dropped. `decide` commits a decision now, bounded by
    `decide_timeout_s` (the room's command waits for it)."""

    def __init__(
        self,
        store: RecordStore,
        journal: Journal | None = None,
        batch: int = 500,
        max_backoff_s: float = 5.0,
        decide_timeout_s: float = 5.0,
        write_timeout_s: float = 30.0,
    ) -> None:
        self.store = store
        self.journal = journal if journal is not None else Journal(None)
        self.batch = batch
        self.max_backoff_s = max_backoff_s
        self.decide_timeout_s = decide_timeout_s
        self.write_timeout_s = write_timeout_s  # a hung database: give up this try, retry
        self.dropped = 0  # bodies in the journal that are not records (never a record)
        self.written = 0
        self.failures = 0  # consecutive failed writes (the database is away)
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._busy = False
        self._writing = asyncio.Lock()  # one batch at a time: flush() beside the task
        # in a cluster (rooms/placement.py sets it): each snapshot also where another node
        # can restore it from (cluster/snapshots.py), and an ack waits for that too
        self.shared: SnapshotWriter | None = None

    def start(self) -> Recorder:
        if self._task is None:
            if self.journal.path is not None:
                self.journal.start()
            self._task = asyncio.create_task(self._run(), name="recorder")
        return self

    def put(self, record: Record) -> None:
        self.journal.append(encode_record(record))
        self._wake.set()

    def snapshot(self, meeting_id: str, room: Room | None, seq: int) -> None:
        if self.journal.path is None and self.shared is None:
            return  # nothing to restore from without a file or a cluster
        body = None if room is None else encode_room(room, seq)
        if self.journal.path is not None:
            self.journal.snapshot(meeting_id, body)
        if self.shared is not None:
            self.shared.put(meeting_id, body)

    async def durable(self) -> None:
        if self.shared is None:
            await self.journal.durable()
        else:  # side by side: an ack waits for the slower of the fsync and the Redis write
            await asyncio.gather(self.journal.durable(), self.shared.durable())

    async def shared_snapshot(self, meeting_id: str) -> bytes | None:
        """The meeting's snapshot as the cluster has it (another node may have written it);
        None without a cluster, or while the store is away (then the journal's is all)."""
        if self.shared is None:
            return None
        try:
            return await self.shared.store.get(meeting_id)
        except MirpError as exc:
            log.warning("room %s: shared snapshot not read: %s", meeting_id, exc)
            return None

    async def decide(self, records: Sequence[Record]) -> None:
        await asyncio.wait_for(self.store.record(records), self.decide_timeout_s)

    def health(self) -> JournalHealth:
        """The journal's depth (records not yet in the database) and age (seconds)."""
        return {
            "depth": self.journal.depth,
            "age_s": round(self.journal.age_s(), 3),
            "failures": self.failures,
            "journal": "error" if self.journal.failed is not None else "ok",
        }

    async def _run(self) -> None:
        while True:
            if not self.journal.depth:
                self._wake.clear()
                await self._wake.wait()
                continue
            self._busy = True
            try:
                ok = await self._write()
            finally:
                self._busy = False
            if not ok:
                delay = min(self.max_backoff_s, 0.2 * 2 ** min(self.failures, 10))
                await asyncio.sleep(delay)

    async def _write(self) -> bool:
        """One batch of the oldest pending records to the database; False if it failed."""
        async with self._writing:  # else a flush() and the task would write one batch twice
            return await self._write_batch()

    async def _write_batch(self) -> bool:
        entries = self.journal.pending(self.batch)
        if not entries:
            return True
        records: list[Record] = []
        for _, body in entries:
            try:
                records.append(decode_record(body))
            except Exception:
                self.dropped += 1
                log.error("journal entry is not a record: skipped: %r", body[:200])
        try:
            await asyncio.wait_for(self.store.record(records), self.write_timeout_s)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self.failures += 1
            if self.failures == 1 or self.failures % 50 == 0:
                log.warning(
                    "recording %d records failed (%d in a row; kept in the journal): %s",
                    len(records), self.failures, exc,
                )
            return False
        if self.failures:
            log.info("recording works again after %d failures", self.failures)
        self.failures = 0
        self.written += len(records)
        self.journal.done(entries[-1][0])
        return True

    async def flush(self) -> None:
        """Write what is pending now (one attempt per batch; tests and shutdown)."""
        while self.journal.depth:
            if not await self._write():
                return

    async def close(self, timeout_s: float = 10.0) -> None:
        """Write what is pending (up to `timeout_s`), then stop; the rest stays in the journal
        and is written by the next start."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while self._task is not None and (self._busy or self.journal.depth):
            if loop.time() > deadline:
                log.error("recorder: %d records left in the journal for the next start",
                          self.journal.depth)
                break
            self._wake.set()
            await asyncio.sleep(0.01)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self.journal.path is None:
            await self.flush()
        await self.journal.close()
