"""Joining, reconnecting, leaving, removal, capacity, opening and closing, audiences."""

from __future__ import annotations

import pytest

from mirp.errors import ClosedMeeting, Conflict, Forbidden, MeetingFull
from mirp.media.plan import FeedKey
from mirp.rooms import commands as c
from mirp.rooms.events import Audience, MeetingClosed, Removed
from mirp.rooms.limits import RoomLimits
from mirp.rooms.model import (
    AttendanceRecord,
    JoinGrant,
    LifecycleRecord,
    MeetingStatus,
    RemovalRecord,
    Role,
    SpeakingTurnRecord,
)
from tests.rooms.kit import MEETING, Kit, grant, make_spec, messages, records


def test_join_announces_the_participant_and_records_attendance() -> None:
    k = Kit(None, None, "ch")
    ev = k.join("d1")
    joined = messages(ev, "participant_joined")
    assert joined[0]["participant"]["participant_id"] == "d1"
    assert joined[0]["participant"]["role"] == "delegate"
    assert messages(ev, "subscribed") == [
        {"type": "subscribed", "channel": "floor", "floor_under": None, "auto": False}
    ]
    (att,) = records(ev, AttendanceRecord)
    assert (att.kind, att.participant_id, att.role) == ("join", "d1", Role.DELEGATE)
    assert att.at.tzinfo is not None
    assert k.room.recipients(Audience.all()) == ["ch", "d1"]


def test_before_opening_only_staff_may_join() -> None:
    k = Kit(make_spec(status=MeetingStatus.SCHEDULED))
    for pid in ("ch", "org", "fr1"):
        k.join(pid)
    for pid in ("d1", "ob"):
        with pytest.raises(Forbidden) as info:
            k.join(pid)
        assert info.value.details["reason"] == "not_open"
    ev = k.do("ch", c.MeetingOpen())
    assert messages(ev, "meeting") == [{"type": "meeting", "meeting": {"status": "open"}}]
    assert records(ev, LifecycleRecord)[0].kind == "opened"
    k.join("d1")
    k.refuse("ch", c.MeetingOpen(), Conflict)
    assert k.room.snapshot("d1")["meeting"]["status"] == "open"


def test_wrong_meeting_unknown_booth_and_capacity() -> None:
    k = Kit(make_spec(capacity=2))
    with pytest.raises(Forbidden):
        k.room.join(JoinGrant("other", "x", "X", Role.DELEGATE), k.now)
    with pytest.raises(Forbidden):
        k.join("zz", role=Role.INTERPRETER, booth="ru")
    k.join("ch")
    k.join("d1")
    with pytest.raises(MeetingFull):  # retryable later: not Conflict (4409 means "replaced")
        k.join("d2")
    k.join("d1")  # a reconnect of someone present does not count twice
    k.room.leave("d1", k.now)
    k.join("d2")


def test_limits_capacity_caps_the_meeting_capacity() -> None:
    k = Kit(make_spec(capacity=10), RoomLimits(capacity=1))
    k.join("ch")
    with pytest.raises(MeetingFull):
        k.join("d1")


def test_reconnect_within_grace_keeps_the_floor_and_channel() -> None:
    k = Kit(None, None, "ch", "d1", "d2")
    k.do("d1", c.Subscribe("fr", -18))
    k.do("ch", c.FloorGive("d1"))
    ev = k.room.disconnect("d1", k.now)
    assert messages(ev, "participant")[0]["participant"]["connected"] is False
    assert k.hears("d1") is None
    assert "d1" not in k.room.mix_plan().sources()  # no microphone while away
    assert k.room.next_deadline() == k.now + 30
    k.advance(29.0)
    assert "d1" in k.room.participants and "d1" in k.room.floor.holders
    ev = k.join("d1")
    assert "d1" in k.room.floor.holders
    assert messages(ev, "subscribed")[0]["channel"] == "fr"
    assert not records(ev, AttendanceRecord)  # the same attendance goes on
    assert "d1" in k.room.mix_plan().sources()
    assert k.room.next_deadline() is None


def test_after_grace_the_floor_is_released_and_the_participant_gone() -> None:
    k = Kit(None, None, "ch", "d1")
    k.do("ch", c.FloorGive("d1"))
    k.room.disconnect("d1", k.now)
    ev = k.advance(30.0)
    assert messages(ev, "participant_left") == [
        {"type": "participant_left", "participant_id": "d1", "reason": "timeout"}
    ]
    assert messages(ev, "floor")[0]["holders"] == []
    assert records(ev, SpeakingTurnRecord)[0].participant_id == "d1"
    assert records(ev, AttendanceRecord)[0].kind == "leave"
    ev = k.join("d1")  # may come back, as a new attendance
    assert records(ev, AttendanceRecord)[0].kind == "join"
    assert "d1" not in k.room.floor.holders


def test_disconnect_and_leave_are_idempotent() -> None:
    k = Kit(None, None, "ch", "d1")
    assert k.room.disconnect("nobody", k.now) == []
    assert k.room.leave("nobody", k.now) == []
    k.room.disconnect("d1", k.now)
    assert k.room.disconnect("d1", k.now) == []
    assert messages(k.room.leave("d1", k.now), "participant_left")[0]["reason"] == "left"
    assert k.room.leave("d1", k.now) == []


def test_removed_participant_is_told_recorded_and_cannot_rejoin() -> None:
    k = Kit(None, None, "ch", "d1", "d2")
    k.do("d1", c.FloorRequest())
    ev = k.do("ch", c.ParticipantRemove("d1"))
    removed = [e for e in ev if isinstance(e, Removed)]
    assert len(removed) == 1
    assert k.room.recipients(removed[0].audience) == ["d1"]
    assert removed[0].message()["type"] == "removed"
    assert records(ev, RemovalRecord)[0].by == "ch"
    assert messages(ev, "participant_left")[0]["reason"] == "removed"
    assert messages(ev, "floor")[0]["speakers"] == []
    with pytest.raises(Forbidden) as info:
        k.join("d1")
    assert info.value.details["reason"] == "removed"


def test_removed_in_the_spec_cannot_join() -> None:
    k = Kit(make_spec(removed_participants=frozenset({"d1"})))
    with pytest.raises(Forbidden):
        k.join("d1")


def test_close_ends_everything_and_refuses_afterwards() -> None:
    k = Kit(None, None, "ch", "d1", "fr1")
    k.do("ch", c.FloorGive("d1"))
    k.do("fr1", c.OnAir(True))
    k.now += 60
    ev = k.do("ch", c.MeetingClose())
    assert isinstance([e for e in ev if not hasattr(e, "record")][-1], MeetingClosed)
    assert messages(ev, "meeting")[-1]["meeting"] == {"status": "closed"}
    kinds = {type(r).__name__ for r in records(ev)}
    assert {"SpeakingTurnRecord", "OnAirTurnRecord", "ListeningRecord"} <= kinds
    assert [r.kind for r in records(ev, AttendanceRecord)] == ["leave"] * 3
    assert records(ev, LifecycleRecord)[0].kind == "closed"
    assert k.room.closed and k.room.mix_plan().feeds == {}
    assert k.hears("d1") is None and k.room.next_deadline() is None
    assert sorted(k.room.recipients(Audience.all())) == ["ch", "d1", "fr1"]
    with pytest.raises(Forbidden):
        k.do("d1", c.FloorRequest())
    with pytest.raises(Forbidden):
        k.join("d2")
    assert k.advance(100) == []
    assert k.room.leave("d1", k.now) == []  # the runtime's cleanup after close


def test_audiences_resolve_to_connected_participants() -> None:
    k = Kit(None, None, "ch", "org", "d1", "ob", "fr1", "fr2", "de1")
    k.room.disconnect("fr2", k.now)
    assert k.room.recipients(Audience.booth("fr")) == ["fr1"]
    assert sorted(k.room.recipients(Audience.presiding("d1"))) == ["ch", "d1", "org"]
    assert k.room.recipients(Audience.participant("ob")) == ["ob"]
    assert len(k.room.recipients(Audience.all())) == 6


def test_snapshot_has_what_the_client_reads() -> None:
    k = Kit(None, None, "ch", "d1", "fr1")
    k.do("d1", c.FloorRequest("point_of_order"))
    k.do("ch", c.FloorTimeLimit(120))
    s = k.room.snapshot("fr1")
    assert s["participant_id"] == "fr1"
    assert s["meeting"]["id"] == MEETING and s["meeting"]["languages"][0] == "en"
    assert {b["language"] for b in s["meeting"]["booths"]} == {"fr", "de", "es", "it"}
    assert s["meeting"]["under_levels_db"] == [-12, -18, -24]
    assert {p["participant_id"] for p in s["participants"]} == {"ch", "d1", "fr1"}
    assert s["floor"]["speakers"] == [{"participant_id": "d1", "kind": "point_of_order"}]
    assert s["floor"]["time_limit_s"] == 120 and s["floor"]["holders"] == []
    fr = next(b for b in s["booths"] if b["language"] == "fr")
    assert fr["on_air"] is None and fr["channel"] == "fr" and fr["handover"] is None
    assert fr["consoles"]["fr1"] == {"hearing": "floor", "auto": True, "connected": True}
    assert s["me"]["role"] == "interpreter" and s["subscription"]["channel"] == "floor"
    assert s["channels"]["floor"]["route"] == "floor"


def test_overview_counts_listeners_and_shows_booths_on_air() -> None:
    k = Kit(None, None, "ch", "d1", "d2", "ob", "fr1")
    k.do("d1", c.Subscribe("fr"))
    k.do("ob", c.Subscribe("fr", -12))
    k.do("fr1", c.OnAir(True))
    k.do("d2", c.Quality("fair", 0.08))
    k.room.disconnect("d2", k.now)
    o = k.room.overview()
    assert o["connected"] == 4 and o["present"] == 5
    assert o["channels"]["fr"]["listeners"] == 2
    assert o["channels"]["floor"]["listeners"] == 2  # ch and fr1 (d2 is away)
    fr = next(b for b in o["booths"] if b["language"] == "fr")
    assert fr["on_air"] == "fr1" and fr["on_air_name"] == "FR1"
    assert next(p for p in o["people"] if p["participant_id"] == "d2")["quality"] == "fair"


def test_feed_key_of_a_plain_listener() -> None:
    k = Kit(None, None, "ch", "d1")
    assert k.hears("d1") == FeedKey("floor")


def test_a_status_set_by_rest_is_followed_like_the_chairs() -> None:
    """REST close = meeting_close (same events, same records, then refused); REST open lets
    delegates in; repeating a status changes nothing."""
    k = Kit(make_spec(status=MeetingStatus.SCHEDULED), None, "ch")
    with pytest.raises(Forbidden):
        k.join("d1")
    ev = k.room.follow_status(MeetingStatus.OPEN, k.now)
    assert messages(ev, "meeting") == [{"type": "meeting", "meeting": {"status": "open"}}]
    assert records(ev, LifecycleRecord)[0].kind == "opened"
    assert k.room.follow_status(MeetingStatus.OPEN, k.now) == []
    k.join("d1")
    k.do("ch", c.FloorGive("d1"))
    k.now += 30
    ev = k.room.follow_status(MeetingStatus.CLOSED, k.now)
    assert isinstance([e for e in ev if not hasattr(e, "record")][-1], MeetingClosed)
    assert records(ev, LifecycleRecord)[0].kind == "closed"
    assert "SpeakingTurnRecord" in {type(r).__name__ for r in records(ev)}
    assert [r.kind for r in records(ev, AttendanceRecord)] == ["leave"] * 2
    assert k.room.follow_status(MeetingStatus.OPEN, k.now) == []  # closed stays closed
    with pytest.raises(ClosedMeeting):
        k.join("d2")


def test_a_revoked_invitation_lets_nobody_in_any_more() -> None:
    """A grant admitted just before the revoke (in flight to the room) is refused at the door."""
    k = Kit(None, None, "ch")
    k.room.join(grant("d1", invitation_id="i_link"), k.now)
    k.room.join(grant("d2", invitation_id="i_other"), k.now)
    assert k.room.revoke_invitation("i_link") == ["d1"]
    with pytest.raises(Forbidden) as info:
        k.room.join(grant("d3", invitation_id="i_link"), k.now)
    assert info.value.details["reason"] == "revoked"
    k.room.join(grant("ob", invitation_id="i_other"), k.now)


def test_a_rejoin_after_leaving_sits_where_it_was() -> None:
    """Leave, then come back (the Leave page's Rejoin, another device): the same channel,
    floor-under level and spoken language; after a lost connection's grace too. Not the floor
    or a place on the speakers list: those were given up."""
    k = Kit(None, None, "ch", "d1", "fr1")
    k.do("d1", c.Subscribe("fr", -18))
    k.do("d1", c.ParticipantLanguage("es"))
    k.do("d1", c.FloorRequest())
    k.room.leave("d1", k.now)
    ev = k.join("d1")
    assert messages(ev, "subscribed")[0] | {"type": 0} == {
        "type": 0, "channel": "fr", "floor_under": -18, "auto": False}
    assert k.room.participants["d1"].language == "es"
    assert k.room.floor.speakers == [] and records(ev, AttendanceRecord)[0].kind == "join"
    assert k.channel("d1") == "fr" and k.hears("d1") is not None

    k.room.disconnect("d1", k.now)
    k.advance(30.0)  # the grace ran out: gone, seat kept
    assert "d1" not in k.room.participants
    assert messages(k.join("d1"), "subscribed")[0]["channel"] == "fr"
    # a newcomer still starts on the floor; an interpreter's booth decides for them
    assert messages(k.join("d2"), "subscribed")[0]["channel"] == "floor"
    before = k.channel("fr1")
    k.room.leave("fr1", k.now)
    k.join("fr1", role=Role.INTERPRETER, booth="fr")
    assert k.channel("fr1") == before


def test_seats_of_those_who_left_are_bounded() -> None:
    k = Kit(make_spec(capacity=2), None, "ch")
    for i in range(1005):
        k.join(f"x{i}", role=Role.DELEGATE)
        k.room.leave(f"x{i}", k.now)
    assert len(k.room.roster.seats) == 1000 and "x0" not in k.room.roster.seats
