"""Durable before acknowledged, in process (rooms/runtime.py with the registry's Recorder and a
real journal file): a decision the database does not take is refused and undone; an ack is sent
only once its records and the Room's snapshot are on disk; a room waiting for the database does
not delay another room; a restored room welcomes its participants back with `restored`."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from mirp.config import Limits, Settings
from mirp.errors import Unavailable
from mirp.journal import Journal
from mirp.rooms import commands as c
from mirp.rooms.durable import decode_room
from mirp.rooms.model import (
    AttendanceRecord,
    JoinGrant,
    MeetingSpec,
    Record,
    Role,
    SpeakingTurnRecord,
)
from mirp.rooms.registry import RoomRegistry
from tests.rooms.test_runtime import SPEC, FakeSession, Plane, Store
from tests.support.wait import Seen, until

GRANTS_M2 = {"chair2": JoinGrant("m2", "p_chair2", "Chair 2", Role.CHAIR),
             "d21": JoinGrant("m2", "p_d21", "D21", Role.DELEGATE)}


class FlakyStore(Store):
    """The database as the rooms see it: writes can fail (`down`) or hang (`hold`)."""

    def __init__(self) -> None:
        super().__init__()
        self.down = False
        self.hold: asyncio.Event | None = None
        self.holding = 0  # writes waiting for `hold`

    async def authorize(self, token: str, meeting_id: str | None) -> JoinGrant:
        if token in GRANTS_M2:
            return GRANTS_M2[token]
        return await super().authorize(token, meeting_id)

    async def load_spec(self, meeting_id: str) -> MeetingSpec:
        if meeting_id == "m2":
            return replace(SPEC, id="m2")
        return await super().load_spec(meeting_id)

    async def record(self, records: Sequence[Record]) -> None:
        if self.down:
            raise ConnectionError("database away")
        if self.hold is not None and any(r.meeting_id == "m1" for r in records):
            self.holding += 1
            await self.hold.wait()
            self.holding -= 1
        await super().record(records)


def make_registry(tmp_path: Path, store: FlakyStore, **limits: Any) -> RoomRegistry:
    journal = Journal(tmp_path / "journal.bin")
    journal.open()
    return RoomRegistry(settings=Settings(limits=Limits(reconnect_grace_s=30, **limits)),
                        media=Plane(), store=store, idle_close_s=60,
                        journal=journal)


async def join(registry: RoomRegistry, key: str) -> tuple[Any, FakeSession]:
    session = FakeSession(key)
    return await registry.join(await registry.authorize(key), session), session


async def test_a_decision_the_database_refuses_is_undone(tmp_path: Path) -> None:
    store = FlakyStore()
    registry = make_registry(tmp_path, store)
    rt, chair = await join(registry, "chair")
    _, d2 = await join(registry, "d2")
    seen = len(chair.messages)
    store.down = True
    with pytest.raises(Unavailable):
        await rt.command("p_chair", chair, c.ParticipantRemove("p_d2"), {"type": "ack", "id": 1})
    with pytest.raises(Unavailable):
        await rt.command("p_chair", chair, c.MeetingClose(), {"type": "ack", "id": 2})
    assert chair.messages[seen:] == [] and d2.closed is None and not d2.of("removed")
    assert "p_d2" in rt.room.participants and "p_d2" not in rt.room.removed
    assert not rt.room.closed and rt.overview()["status"] == "open"
    await rt.command("p_d2", d2, c.FloorRequest())  # the room goes on
    store.down = False
    await rt.command("p_chair", chair, c.ParticipantRemove("p_d2"), {"type": "ack", "id": 3})
    assert {"type": "ack", "id": 3} in chair.messages and d2.closed is not None
    await registry.close()


async def test_the_ack_follows_the_snapshot_on_disk(tmp_path: Path) -> None:
    registry = make_registry(tmp_path, FlakyStore())
    rt, chair = await join(registry, "chair")
    _, d1 = await join(registry, "d1")
    await rt.command("p_d1", d1, c.FloorRequest())
    await rt.command("p_chair", chair, c.FloorGive("p_d1"), {"type": "ack", "id": 7})
    assert {"type": "ack", "id": 7} in chair.messages
    on_disk = Journal(tmp_path / "journal.bin").open()  # what a kill -9 now would leave
    found = decode_room(on_disk.snapshots["m1"], "m1")
    assert found is not None and list(found[0].floor.holders) == ["p_d1"]
    await registry.close()


async def test_a_room_waiting_for_the_database_delays_no_other_room(tmp_path: Path) -> None:
    store = FlakyStore()
    registry = make_registry(tmp_path, store)
    rt1, chair = await join(registry, "chair")
    await join(registry, "d2")
    rt2, chair2 = await join(registry, "chair2")
    await join(registry, "d21")
    store.hold = asyncio.Event()
    removal = asyncio.ensure_future(
        rt1.command("p_chair", chair, c.ParticipantRemove("p_d2"), {"type": "ack", "id": 1}))
    await until(lambda: store.holding, "the removal waiting for the database")
    assert not removal.done()  # room m1 waits for its database write...
    await rt2.command("p_chair2", chair2, c.FloorGive("p_d21"), {"type": "ack", "id": 2})
    assert {"type": "ack", "id": 2} in chair2.messages  # ...room m2 does not
    store.hold.set()
    await removal
    assert {"type": "ack", "id": 1} in chair.messages
    await registry.close()


async def test_a_restored_room_welcomes_its_participants_back(tmp_path: Path) -> None:
    first = make_registry(tmp_path, FlakyStore())
    rt, chair = await join(first, "chair")
    _, d1 = await join(first, "d1")
    _, fr1 = await join(first, "fr1")
    await rt.command("p_d1", d1, c.Subscribe("fr", -12))
    await rt.command("p_fr1", fr1, c.OnAir(True))
    await rt.command("p_chair", chair, c.FloorGive("p_d1"), {"type": "ack", "id": 1})
    # "kill -9": a second registry on the same journal file, the first never closed
    second = make_registry(tmp_path, FlakyStore())
    _, d1b = await join(second, "d1")
    room = d1b.of("welcome")[0]["room"]
    assert room["restored"] is True
    assert room["floor"]["holders"] == ["p_d1"] and room["subscription"]["channel"] == "fr"
    assert [b["on_air"] for b in room["booths"]] == ["p_fr1"]
    others = {p["participant_id"]: p["connected"] for p in room["participants"]}
    assert others == {"p_chair": False, "p_d1": True, "p_fr1": False}  # in grace, not gone
    _, d1c = await join(second, "d1")  # a later welcome is an ordinary one
    assert "restored" not in d1c.of("welcome")[0]["room"]
    await second.close()
    await first.close()


async def test_a_stale_snapshot_is_closed_out_with_its_records(tmp_path: Path) -> None:
    first = make_registry(tmp_path, FlakyStore())
    rt, chair = await join(first, "chair")
    await join(first, "d1")
    await rt.command("p_chair", chair, c.FloorGive("p_d1"), {"type": "ack", "id": 1})
    taken = decode_room(Journal(tmp_path / "journal.bin").open().snapshots["m1"], "m1")
    assert taken is not None
    store = FlakyStore()
    second = make_registry(tmp_path, store, restore_max_age_s=0.0)  # every snapshot is stale
    _, d1b = await join(second, "d1")
    room = d1b.of("welcome")[0]["room"]
    assert "restored" not in room and room["floor"]["holders"] == []  # a fresh room
    await second.recorder.flush()
    records = [r for batch in store.batches for r in batch]
    leaves = {r.participant_id: r.at.timestamp() for r in records
              if isinstance(r, AttendanceRecord) and r.kind == "leave"}
    assert leaves == pytest.approx({"p_chair": taken.at, "p_d1": taken.at}, abs=1e-3)  # its time
    turns = [r for r in records if isinstance(r, SpeakingTurnRecord)]
    assert [t.participant_id for t in turns] == ["p_d1"]
    await second.close()
    await first.close()


async def test_a_change_no_ack_waits_for_is_snapshotted_soon_by_the_room_task(
        tmp_path: Path) -> None:
    """A join's snapshot is coalesced (rooms/keeper.py LAZY_SNAPSHOT_S): an actor timer writes
    it, in the room task, without any later change."""
    registry = make_registry(tmp_path, FlakyStore())
    rt, _ = await join(registry, "chair")
    await join(registry, "d1")

    def snapshot_has_d1() -> object:
        body = registry.recorder.journal.snapshot_of("m1")
        found = decode_room(body, "m1") if body is not None else None
        return (found is not None and "p_d1" in found.room.participants) or Seen(found)

    await until(snapshot_has_d1, "the join in the snapshot")
    assert rt.actor.timer("snapshot") is None  # done, nothing pending
    await registry.close()
