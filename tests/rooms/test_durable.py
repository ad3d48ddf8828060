"""Records and Room snapshots as the journal keeps them (rooms/durable.py): every record type
comes back equal, a Room comes back with its floor, list, on-air and channels, and a snapshot of
another MIRP version is not restored."""

from __future__ import annotations

import json
import pickle

import mirp
from mirp.rooms import commands as c
from mirp.rooms.durable import (
    SNAPSHOT_FORMAT,
    decode_record,
    decode_room,
    encode_record,
    encode_room,
)
from mirp.rooms.model import MeetingStatus, OnAirTurnRecord
from tests.rooms.kit import MEETING, Kit, make_spec, messages, records


def _busy_kit() -> Kit:
    k = Kit(make_spec(status=MeetingStatus.SCHEDULED))
    k.join("ch")
    k.join("fr1")
    k.do("ch", c.MeetingOpen())
    for pid in ("d1", "d2", "d3"):
        k.join(pid)
    k.do("d2", c.Subscribe("fr", -12))
    k.do("d1", c.FloorRequest())
    k.do("d3", c.FloorRequest())
    k.do("ch", c.FloorGive("d1"))
    k.do("fr1", c.OnAir(True))
    k.now += 12
    k.do("ch", c.FloorTake("d1"))
    k.do("ch", c.ParticipantRemove("d2"))
    k.do("ch", c.MeetingClose())
    return k


def test_every_record_type_round_trips() -> None:
    recs = records(_busy_kit().log)
    assert {type(r).__name__ for r in recs} >= {
        "AttendanceRecord", "SpeakingTurnRecord", "OnAirTurnRecord", "ListeningRecord",
        "LifecycleRecord", "RemovalRecord"}
    assert [decode_record(encode_record(r)) for r in recs] == recs


def test_a_room_comes_back_as_it_was() -> None:
    k = Kit(make_spec())
    for pid in ("ch", "fr1", "d1", "d2", "d3"):
        k.join(pid)
    k.do("d2", c.Subscribe("fr", -12))
    k.do("d1", c.FloorRequest())
    k.do("d3", c.FloorRequest())
    k.do("ch", c.FloorGive("d1"))
    k.do("fr1", c.OnAir(True))
    found = decode_room(encode_room(k.room, 41), MEETING)
    assert found is not None
    room, seq, _ = found
    assert seq == 41
    for pid in ("ch", "d2", "fr1"):
        assert room.snapshot(pid) == k.room.snapshot(pid)
    assert room.mix_plan() == k.room.mix_plan()
    assert room.participants["d2"].channel == "fr"


def test_a_snapshot_of_another_version_is_not_restored() -> None:
    k = Kit(make_spec())
    k.join("ch")
    body = encode_room(k.room, 1)
    head, _, blob = body.partition(b"\n")
    other = json.loads(head) | {"mirp": mirp.__version__ + ".other"}
    assert decode_room(json.dumps(other).encode() + b"\n" + blob, MEETING) is None
    assert decode_room(b"not a snapshot", MEETING) is None
    assert decode_room(body, "another meeting") is None


def test_a_snapshot_of_another_format_is_not_restored() -> None:
    """A snapshot of the Room before it was made of parts (format 1) starts the room fresh."""
    k = Kit(make_spec())
    k.join("ch")
    head, _, blob = encode_room(k.room, 1).partition(b"\n")
    old = json.loads(head) | {"format": SNAPSHOT_FORMAT - 1}
    assert decode_room(json.dumps(old).encode() + b"\n" + blob, MEETING) is None


def test_a_room_restored_in_place_keeps_its_parts_wired() -> None:
    """The runtime undoes a decision it could not commit by swapping the Room's `__dict__` for
    a pickled copy's: the parts must then still share the Room's own changes and roster (a
    part holding the Room, or a second Changes, would lose events or see another roster)."""
    k = Kit(make_spec())
    for pid in ("ch", "fr1", "d1"):
        k.join(pid)
    before = pickle.dumps(k.room)
    k.do("ch", c.FloorGive("d1"))
    k.room.__dict__.clear()
    k.room.__dict__.update(pickle.loads(before).__dict__)
    assert not k.room.floor.holders
    assert k.room.interpretation._roster is k.room.roster
    assert k.room.interpretation._changes is k.room.changes is k.room.roster._changes
    ev = k.do("fr1", c.OnAir(True))
    assert messages(ev, "booth") and k.room.booths["fr"].on_air == "fr1"
    k.now += 5
    ev = k.do("fr1", c.OnAir(False))
    assert [r.participant_id for r in records(ev, OnAirTurnRecord)] == ["fr1"]
