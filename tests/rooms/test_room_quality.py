"""Connection quality is sampled for the statistics: one QualityRecord per participant at each
grade change, else at most one every RoomLimits.quality_sample_s (clients report every few
seconds; the statistics need minutes)."""

from __future__ import annotations

from mirp.rooms import commands as c
from mirp.rooms.limits import RoomLimits
from mirp.rooms.model import QualityRecord, Role
from tests.rooms.kit import MEETING, Kit, records

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
