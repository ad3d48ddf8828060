"""The speakers list, floor holders, speaking time, mute and the floor language."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from mirp.errors import Conflict, InvalidInput, NotFound
from mirp.rooms import commands as c
from mirp.rooms.events import Notice
from mirp.rooms.model import SpeakingTurnRecord
from tests.rooms.kit import Kit, messages, records


def speakers(k: Kit) -> list[tuple[str, str]]:
    return [(r.participant_id, r.kind) for r in k.room.floor.speakers]


def cast() -> Kit:
    return Kit(None, None, "ch", "org", "d1", "d2", "d3", "fr1")


def test_requests_queue_in_order_and_points_of_order_go_on_top_first_come_first() -> None:
    k = cast()
    k.do("d1", c.FloorRequest())
    k.do("d2", c.FloorRequest())
    ev = k.do("d3", c.FloorRequest("point_of_order"))
    assert speakers(k) == [("d3", "point_of_order"), ("d1", "speak"), ("d2", "speak")]
    assert messages(ev, "floor")[0]["speakers"][0] == {
        "participant_id": "d3",
        "kind": "point_of_order",
    }
    k.do("d2", c.FloorRequest("point_of_order"))  # a request upgraded: moves up, after d3
    assert speakers(k) == [("d3", "point_of_order"), ("d2", "point_of_order"), ("d1", "speak")]
    k.refuse("d1", c.FloorRequest(), Conflict)
    k.refuse("d2", c.FloorRequest("point_of_order"), Conflict)
    k.refuse("d2", c.FloorRequest(), Conflict)


def test_withdraw_and_reorder() -> None:
    k = cast()
    for pid in ("d1", "d2", "d3"):
        k.do(pid, c.FloorRequest())
    k.do("d2", c.FloorWithdraw())
    assert speakers(k) == [("d1", "speak"), ("d3", "speak")]
    k.refuse("d2", c.FloorWithdraw(), Conflict)
    k.do("ch", c.SpeakersReorder(("d3", "d1")))
    assert [p for p, _ in speakers(k)] == ["d3", "d1"]
    for bad in (("d3",), ("d3", "d1", "d2"), ("d3", "d3"), ("d1", "zz")):
        k.refuse("ch", c.SpeakersReorder(bad), InvalidInput)


def test_give_takes_off_the_list_and_several_may_hold_the_floor() -> None:
    k = cast()
    k.do("d1", c.FloorRequest())
    ev = k.do("ch", c.FloorGive("d1"))
    assert messages(ev, "floor")[0]["holders"] == ["d1"] and not speakers(k)
    k.refuse("ch", c.FloorGive("d1"), Conflict)
    k.refuse("d1", c.FloorRequest(), Conflict)  # already holding it
    k.do("ch", c.FloorGive("ch"))
    assert list(k.room.floor.holders) == ["d1", "ch"]
    k.now += 42
    ev = k.do("d1", c.FloorWithdraw())  # "I have finished"
    (turn,) = records(ev, SpeakingTurnRecord)
    assert turn.participant_id == "d1"
    assert (turn.ended_at - turn.started_at).total_seconds() == 42
    assert turn.floor_language == "en"
    k.refuse("ch", c.FloorTake("d1"), NotFound)
    k.do("ch", c.FloorTake("ch"))
    assert not k.room.floor.holders


def test_cannot_give_the_floor_to_someone_disconnected() -> None:
    k = cast()
    k.room.disconnect("d1", k.now)
    k.refuse("ch", c.FloorGive("d1"), Conflict)


def test_speaking_time_counts_down_and_tick_reports_time_up_once_to_chairs_and_speaker() -> None:
    k = cast()
    k.do("ch", c.FloorTimeLimit(60))
    ev = k.do("ch", c.FloorGive("d1"))
    f = messages(ev, "floor")[0]
    assert (f["time_limit_s"], f["remaining_s"], f["timed"]) == (60, 60.0, "d1")
    assert k.room.next_deadline() == k.now + 60
    k.now += 20
    assert k.room.snapshot("d1")["floor"]["remaining_s"] == 60.0  # as of the last change
    k.do("d2", c.FloorRequest())
    assert k.room.snapshot("d1")["floor"]["remaining_s"] == 40.0
    assert k.advance(39.9) == []
    ev = k.advance(0.1)
    notices = [e for e in ev if isinstance(e, Notice)]
    assert [n.message() for n in notices] == [
        {"type": "notice", "kind": "time_up", "participant_id": "d1"}
    ]
    assert sorted(k.room.recipients(notices[0].audience)) == ["ch", "d1", "org"]
    assert "d1" in k.room.floor.holders  # the chair decides; the floor is not taken
    assert k.room.next_deadline() is None
    assert k.advance(10) == []  # reported once
    # a new limit restarts the countdown
    ev = k.do("ch", c.FloorTimeLimit(30))
    assert messages(ev, "floor")[0]["remaining_s"] == 30.0
    assert k.room.next_deadline() == k.now + 30


def test_chair_turns_are_not_timed_and_limits_are_validated() -> None:
    k = cast()
    k.do("ch", c.FloorTimeLimit(60))
    k.do("ch", c.FloorGive("ch"))
    assert k.room.floor.deadline is None
    for bad in (0, -5, 10**6):  # refused as a shape already (signaling: invalid_message)
        with pytest.raises(ValidationError):
            c.FloorTimeLimit(bad)
    k.do("ch", c.FloorTimeLimit(None))
    assert k.room.floor.time_limit_s is None


def test_taking_the_floor_stops_the_countdown() -> None:
    k = cast()
    k.do("ch", c.FloorTimeLimit(60))
    k.do("ch", c.FloorGive("d1"))
    ev = k.do("ch", c.FloorTake("d1"))
    f = messages(ev, "floor")[0]
    assert f["remaining_s"] is None and f["holders"] == []
    assert k.room.next_deadline() is None


def test_mute_only_a_holder_and_unmute() -> None:
    k = cast()
    k.refuse("ch", c.ParticipantMute("d1"), Conflict)
    k.do("ch", c.FloorGive("d1"))
    ev = k.do("ch", c.ParticipantMute("d1"))
    assert messages(ev, "floor")[0]["muted"] == ["d1"]
    assert "d1" not in k.room.mix_plan().sources()
    k.do("ch", c.ParticipantMute("d1", muted=False))
    assert "d1" in k.room.mix_plan().sources()


def test_floor_language_set_by_the_chair_or_from_the_holder_profile() -> None:
    k = cast()
    assert k.room.floor_language is None
    k.do("ch", c.FloorGive("d2"))  # d2 speaks fr
    assert k.room.floor_language == "fr"
    ev = k.do("ch", c.FloorGive("d1"))  # the latest holder with a known language: en
    assert messages(ev, "floor")[0]["language"] == "en"
    k.do("ch", c.FloorGive("d3"))  # no profile language: stays en
    assert k.room.floor_language == "en"
    ev = k.do("ch", c.FloorLanguage("de"))
    f = messages(ev, "floor")[0]
    assert (f["language"], f["language_auto"]) == ("de", False)
    k.refuse("ch", c.FloorLanguage("ru"), InvalidInput)
    k.do("ch", c.FloorLanguage(None))
    assert k.room.floor_language == "en"


def test_a_delegates_request_is_dropped_when_they_leave() -> None:
    k = cast()
    k.do("d1", c.FloorRequest())
    ev = k.room.leave("d1", k.now)
    assert messages(ev, "floor")[0]["speakers"] == []
