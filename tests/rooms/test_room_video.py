"""The Room decides whose camera is the floor video and who gets no video; the plan carries
both to the media plane (media/video.py forwards)."""

from __future__ import annotations

from mirp.rooms import commands as c
from tests.rooms.kit import Kit


def test_the_floor_video_is_the_speaker_else_the_chair() -> None:
    k = Kit()
    for pid in ("ch", "d1", "d2", "fr1"):
        k.join(pid)
    assert k.room.mix_plan().floor_video == "ch"  # nobody holds the floor: the chair
    k.do("ch", c.FloorGive("ch"))
    k.do("ch", c.FloorGive("d1"))
    assert k.room.mix_plan().floor_video == "d1"  # a speaker before the chair who also holds it
    k.do("ch", c.FloorGive("d2"))
    assert k.room.mix_plan().floor_video == "d2"  # the one given the floor last
    k.do("ch", c.FloorTake("d2"))
    assert k.room.mix_plan().floor_video == "d1"
    k.do("ch", c.FloorTake("d1"))
    assert k.room.mix_plan().floor_video == "ch"
    k.room.leave("ch", k.now)
    assert k.room.mix_plan().floor_video is None


def test_video_off_is_carried_to_the_plane_and_can_be_turned_on_again() -> None:
    k = Kit()
    for pid in ("ch", "d1", "fr1", "ob"):
        k.join(pid)
    for pid in ("d1", "fr1", "ob"):  # everyone may: a listener on a poor line first of all
        k.do(pid, c.VideoSet(on=False))
    assert k.room.mix_plan().video_off == {"d1", "fr1", "ob"}
    k.do("d1", c.VideoSet(on=True))
    assert k.room.mix_plan().video_off == {"fr1", "ob"}
    assert c.COMMAND_TYPES["video_set"] is c.VideoSet
