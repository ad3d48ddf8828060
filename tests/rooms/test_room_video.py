"""The Room decides whose camera is the floor video and who gets no video; the plan carries
both to the media plane as viewer -> publisher (media/video.py forwards)."""

from __future__ import annotations

from mirp.media.plan import FeedKey, MixPlan
from mirp.rooms import commands as c
from mirp.rooms.shared_plane import SharedPlane
from tests.rooms.kit import Kit


def test_the_floor_video_is_the_speaker_else_the_chair() -> None:
    k = Kit()
    for pid in ("ch", "d1", "d2", "fr1"):
        k.join(pid)
    assert k.room.floor_video() == "ch"  # nobody holds the floor: the chair
    assert dict(k.room.mix_plan().video) == {"d1": "ch", "d2": "ch", "fr1": "ch"}
    k.do("ch", c.FloorGive("ch"))
    k.do("ch", c.FloorGive("d1"))
    assert k.room.floor_video() == "d1"  # a speaker before the chair who also holds it
    assert dict(k.room.mix_plan().video) == {"ch": "d1", "d2": "d1", "fr1": "d1"}
    k.do("ch", c.FloorGive("d2"))
    assert k.room.floor_video() == "d2"  # the one given the floor last
    k.do("ch", c.FloorTake("d2"))
    assert k.room.floor_video() == "d1"
    k.do("ch", c.FloorTake("d1"))
    assert k.room.floor_video() == "ch"
    k.room.leave("ch", k.now)
    assert k.room.floor_video() is None and not k.room.mix_plan().video


def test_video_off_takes_a_viewer_out_of_the_plan_until_turned_on_again() -> None:
    k = Kit()
    for pid in ("ch", "d1", "fr1", "ob"):
        k.join(pid)
    for pid in ("d1", "fr1", "ob"):  # everyone may: a listener on a poor line first of all
        k.do(pid, c.VideoSet(on=False))
    assert not k.room.mix_plan().video
    k.do("d1", c.VideoSet(on=True))
    assert dict(k.room.mix_plan().video) == {"d1": "ch"}
    assert k.room.participants["fr1"].view()["video"] is False
    assert c.COMMAND_TYPES["video_set"] is c.VideoSet


def test_one_plane_shows_each_room_its_own_floor_video() -> None:
    """Two meetings on one plane: their video maps merge (peer ids are unique)."""
    applied: list[MixPlan] = []

    class Plane:
        def apply(self, plan: MixPlan) -> None:
            applied.append(plan)

    shared = SharedPlane(Plane())  # type: ignore[arg-type]
    floor = {FeedKey("floor"): (("a", 1.0),)}
    shared.scope("m1").apply(MixPlan.of(floor, video={"x": "a"}))
    shared.scope("m2").apply(MixPlan.of(video={"y": "b"}))  # video alone still counts
    assert dict(applied[-1].video) == {"x": "a", "y": "b"}
    shared.scope("m1").apply(MixPlan.of())
    assert dict(applied[-1].video) == {"y": "b"}
