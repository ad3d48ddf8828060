"""Connection quality is sampled for the statistics: one QualityRecord per participant at each
grade change, else at most one every RoomLimits.quality_sample_s (clients report every few
seconds; the statistics need minutes)."""

from __future__ import annotations

from mirp.rooms import commands as c
from mirp.rooms.events import Event, WireEvent
from mirp.rooms.limits import RoomLimits
from mirp.rooms.model import QualityRecord, Role
from tests.rooms.kit import MEETING, Kit, messages, records

LIMITS = RoomLimits(grace_s=30, handover_timeout_s=20, quality_sample_s=60)


def test_quality_is_sampled_once_a_period_and_at_each_grade_change() -> None:
    k = Kit(None, LIMITS, "ch", "d1")
    start = k.now
    k.do("d1", c.Quality("good", 0.04, 0.002, 0.0, 100))  # first report: sampled
    for _ in range(5):  # every 10 s, the same grade: not sampled
        k.now += 10
        k.do("d1", c.Quality("good", 0.05, 0.002, 0.01, 200))
    k.now += 5  # 55 s after the first sample
    k.do("d1", c.Quality("fair", 0.15, 0.01, 0.03))  # grade change: sampled
    k.now += 30
    k.do("d1", c.Quality("fair", 0.2))  # 30 s after the last sample: not sampled
    k.now += 30
    k.do("d1", c.Quality("fair", 0.25, None, 0.04))  # 60 s after: sampled
    k.do("ch", c.Quality("poor"))  # another participant: their own clock
    got = records(k.log, QualityRecord)
    assert [(r.participant_id, r.grade, round((r.at.timestamp() - start), 1), r.rtt, r.loss)
            for r in got] == [
        ("d1", "good", 0.0, 0.04, 0.0),
        ("d1", "fair", 55.0, 0.15, 0.03),
        ("d1", "fair", 115.0, 0.25, 0.04),
        ("ch", "poor", 115.0, None, None)]
    assert all(r.meeting_id == MEETING for r in got)
    assert [r.role for r in got] == [Role.DELEGATE] * 3 + [Role.CHAIR]
    assert got[1].jitter == 0.01


def test_a_shorter_period_samples_more() -> None:
    k = Kit(None, RoomLimits(grace_s=30, handover_timeout_s=20, quality_sample_s=10), "d1")
    for _ in range(4):
        k.do("d1", c.Quality("good", 0.04))
        k.now += 10
    assert len(records(k.log, QualityRecord)) == 4


def _told_grade(k: Kit, events: list[Event], pid: str) -> set[str]:
    """Who was told `pid`'s line quality grade by these events."""
    told: set[str] = set()
    for e in events:
        if not isinstance(e, WireEvent):
            continue
        m = e.message()
        views = [m.get("participant") or {}] if m["type"] != "line_quality" else [m]
        if any(v.get("participant_id") == pid and ("grade" in v or "quality" in v) for v in views):
            told.update(k.room.recipients(e.audience))
    return told


def test_a_line_quality_grade_goes_to_its_participant_and_the_presiding_only() -> None:
    k = Kit(None, LIMITS, "ch", "org", "d1", "d2", "fr1", "ob")
    ev = k.do("d1", c.Quality("poor", 0.8, 0.1, 0.2))
    assert messages(ev, "line_quality") == [
        {"type": "line_quality", "participant_id": "d1", "grade": "poor"}]
    assert _told_grade(k, ev, "d1") == {"ch", "org", "d1"}
    assert _told_grade(k, k.do("d1", c.Quality("poor", 0.7)), "d1") == set()  # same grade
    # a join or a reconnection tells everyone the participant, without the grade
    k.room.disconnect("d1", k.now)
    assert _told_grade(k, k.join("d1"), "d1") == set()


def test_the_welcome_gives_a_grade_to_its_participant_and_the_presiding_only() -> None:
    k = Kit(None, LIMITS, "ch", "org", "d1", "d2", "fr1")
    k.do("d1", c.Quality("fair", 0.2))
    k.do("d2", c.Quality("good", 0.02))

    def grades(viewer: str) -> dict[str, str | None]:
        snap = k.room.snapshot(viewer)
        return {p["participant_id"]: p["quality"] for p in snap["participants"] if "quality" in p}

    assert grades("d2") == {"d2": "good"}
    assert grades("fr1") == {"fr1": None}  # their own, not reported yet
    assert grades("d1") == {"d1": "fair"}
    assert k.room.snapshot("d1")["me"]["quality"] == "fair"
    for presiding in ("ch", "org"):
        assert grades(presiding) == {"ch": None, "org": None, "d1": "fair", "d2": "good",
                                     "fr1": None}
    # the organizer's overview (an API for the organizer) keeps every grade
    assert {p["participant_id"]: p["quality"] for p in k.room.overview()["people"]}["d1"] == "fair"
