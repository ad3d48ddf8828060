"""The journal (mirp/journal.py) on real files: what is durable is read back after the process
'dies' (the object is dropped without close), a torn tail is cut, done records are not replayed,
the newest snapshot per key wins, compaction keeps exactly the live entries."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from mirp.journal import Journal


async def test_records_and_snapshots_survive_without_close(tmp_path: Path) -> None:
    path = tmp_path / "journal.bin"
    j = Journal(path)
    assert j.open().records == []
    j.start()
    numbers = [j.append(f"r{i}".encode()) for i in range(5)]
    j.snapshot("m1", b"old")
    j.snapshot("m1", b"new")
    j.snapshot("m2", b"gone")
    j.snapshot("m2", None)
    await j.durable()
    j.done(numbers[1])
    await j.durable()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert j.depth == 3 and j.age_s() >= 0
    # no close(): as after a kill -9
    again = Journal(path)
    replay = again.open()
    assert replay.records == [(3, b"r2"), (4, b"r3"), (5, b"r4")]
    assert replay.snapshots == {"m1": b"new"}
    assert again.depth == 3
    assert again.append(b"next") == 6
    await again.close()


async def test_a_torn_tail_is_cut_and_appending_goes_on(tmp_path: Path) -> None:
    path = tmp_path / "journal.bin"
    j = Journal(path).start()
    j.open()
    j.append(b"one")
    j.append(b"two")
    await j.durable()
    await j.close()
    whole = path.read_bytes()
    path.write_bytes(whole[:-3])  # the kill came in the middle of the last frame
    again = Journal(path)
    replay = again.open()
    assert replay.records == [(1, b"one")] and replay.cut_bytes > 0
    again.start()
    again.append(b"three")
    await again.durable()
    await again.close()
    assert Journal(path).open().records == [(1, b"one"), (2, b"three")]


async def test_compaction_keeps_only_the_live_entries(tmp_path: Path) -> None:
    path = tmp_path / "journal.bin"
    j = Journal(path, compact_min_bytes=10_000)
    j.open()
    j.start()
    for i in range(200):
        n = j.append(b"x" * 100)
        j.snapshot("room", f"state {i}".encode())
        await j.durable()
        if i < 199:
            j.done(n)
    await j.durable()
    await j.durable()
    assert path.stat().st_size < 10_000  # compacted at least once
    await j.close()
    replay = Journal(path).open()
    assert [n for n, _ in replay.records] == [200]
    assert replay.snapshots == {"room": b"state 199"}


async def test_memory_journal_keeps_pending_without_a_file() -> None:
    j = Journal(None)
    j.open()
    n = j.append(b"a")
    await j.durable()
    assert j.pending(10) == [(n, b"a")]
    j.done(n)
    assert j.depth == 0 and j.age_s() == 0.0
