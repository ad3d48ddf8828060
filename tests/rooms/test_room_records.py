"""The statistics records a meeting leaves behind."""

from __future__ import annotations

from mirp.rooms import commands as c
from mirp.rooms.model import (
    AttendanceRecord,
    LifecycleRecord,
    ListeningRecord,
    MeetingStatus,
    OnAirTurnRecord,
    RemovalRecord,
    SpeakingTurnRecord,
)
from tests.rooms.kit import MEETING, Kit, make_spec, records


def test_a_meeting_leaves_a_complete_record() -> None:
    k = Kit(make_spec(status=MeetingStatus.SCHEDULED))
    k.join("ch")
    k.join("fr1")
    k.do("ch", c.MeetingOpen())
    k.join("d1")
    k.join("d2")
    k.now += 10
    k.do("d2", c.Subscribe("fr", -12))  # d2 listened to floor for 10 s
    k.do("ch", c.FloorGive("d1"))
    k.do("fr1", c.OnAir(True))
    k.now += 30
    k.do("fr1", c.ConsoleOutput("en"))  # a turn per language
    k.now += 5
    k.do("ch", c.FloorTake("d1"))  # d1 spoke 35 s
    k.do("ch", c.ParticipantRemove("d2"))
    k.now += 5
    k.do("d1", c.Leave())
    k.do("ch", c.MeetingClose())

    recs = records(k.log)
    assert all(r.meeting_id == MEETING for r in recs)
    life = [r.kind for r in recs if isinstance(r, LifecycleRecord)]
    assert life == ["opened", "closed"]
    att = [(r.participant_id, r.kind) for r in recs if isinstance(r, AttendanceRecord)]
    assert att == [
        ("ch", "join"),
        ("fr1", "join"),
        ("d1", "join"),
        ("d2", "join"),
        ("d2", "leave"),
        ("d1", "leave"),
        ("ch", "leave"),
        ("fr1", "leave"),
    ]
    (turn,) = [r for r in recs if isinstance(r, SpeakingTurnRecord)]
    assert (turn.participant_id, (turn.ended_at - turn.started_at).total_seconds()) == ("d1", 35)
    assert turn.floor_language == "en"
    on_air = [
        (r.channel, (r.ended_at - r.started_at).total_seconds())
        for r in recs
        if isinstance(r, OnAirTurnRecord)
    ]
    assert on_air == [("fr", 30), ("en", 10)]
    listening = {
        (r.participant_id, r.channel, r.under_level_db, (r.ended_at - r.started_at).total_seconds())
        for r in recs
        if isinstance(r, ListeningRecord)
    }
    assert ("d2", "floor", 0, 10) in listening
    assert ("d2", "fr", -12, 35) in listening  # until removed
    assert ("d1", "floor", 0, 50) in listening
    (rem,) = [r for r in recs if isinstance(r, RemovalRecord)]
    assert (rem.participant_id, rem.by) == ("d2", "ch")
    assert all(r.started_at.tzinfo is not None for r in recs if isinstance(r, ListeningRecord))
