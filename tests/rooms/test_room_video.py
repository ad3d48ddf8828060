"""The Room decides whose camera is the floor video, whose an interpreter's partner video, and
who gets no video; the plan carries them to the media plane as stream -> publisher
(rooms/video_plan.py decides, media/video.py forwards)."""

from __future__ import annotations

from typing import Any

from mirp.errors import Forbidden
from mirp.media.plan import FeedKey, MixPlan, partner_stream
from mirp.media.sdp import offers_camera
from mirp.rooms import commands as c
from mirp.rooms.model import Role
from mirp.rooms.shared_plane import SharedPlane
from tests.rooms.kit import Kit, messages
from tests.rooms.test_runtime import join, parts  # noqa: F401 - the parts fixture


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


def partner_of(k: Kit, pid: str) -> str | None:
    return k.room.mix_plan().video.get(partner_stream(pid))


def test_an_interpreter_who_asks_sees_the_booth_partner_beside_the_floor_video() -> None:
    k = Kit()
    for pid in ("ch", "d1", "fr1", "fr2", "de1"):
        k.join(pid)
    assert partner_of(k, "fr1") is None  # off on joining: one stream, the floor video
    k.do("fr1", c.VideoSet(on=True, partner=True))
    k.do("de1", c.VideoSet(on=True, partner=True))
    video = dict(k.room.mix_plan().video)
    assert video[partner_stream("fr1")] == "fr2"
    assert partner_stream("de1") not in video  # a booth of one has no partner stream
    assert partner_stream("fr2") not in video  # fr2 did not ask
    assert video["fr1"] == "ch"  # the floor video is unaffected, and stays large
    k.do("ch", c.FloorGive("d1"))
    assert k.room.mix_plan().video["fr1"] == "d1"
    assert partner_of(k, "fr1") == "fr2"
    k.do("fr1", c.VideoSet(on=True))  # partner absent: unchanged
    assert partner_of(k, "fr1") == "fr2"
    k.do("fr1", c.VideoSet(on=False))  # video off: no video at all, the partner's included
    assert "fr1" not in k.room.mix_plan().video and partner_of(k, "fr1") is None
    k.do("fr1", c.VideoSet(on=True, partner=False))
    assert k.room.mix_plan().video["fr1"] == "d1" and partner_of(k, "fr1") is None


def test_the_partner_is_the_one_on_air_else_the_first_who_joined_and_follows_the_booth() -> None:
    k = Kit()
    for pid in ("ch", "fr1", "fr2"):
        k.join(pid)
    k.join("fr3", role=Role.INTERPRETER, booth="fr")
    k.do("fr3", c.VideoSet(on=True, partner=True))
    assert partner_of(k, "fr3") == "fr1"
    k.do("fr2", c.OnAir(on=True))
    assert partner_of(k, "fr3") == "fr2"  # the one on air: whom fr3 takes over from
    k.room.disconnect("fr2", k.now)
    assert partner_of(k, "fr3") == "fr1"  # a lost connection shows nothing: the next one
    k.room.leave("fr1", k.now)
    assert partner_of(k, "fr3") is None  # alone in the booth now: no partner stream


def test_only_an_interpreter_may_ask_for_a_partner_video() -> None:
    k = Kit()
    for pid in ("ch", "d1", "fr1"):
        k.join(pid)
    k.refuse("d1", c.VideoSet(on=True, partner=True), Forbidden)
    k.do("d1", c.VideoSet(on=False, partner=False))  # saying "no partner" is fine
    assert "d1" not in k.room.mix_plan().video


def test_the_view_says_who_has_a_camera_so_the_chair_sees_who_speaks_audio_only() -> None:
    k = Kit()
    for pid in ("ch", "d1", "d2"):
        k.join(pid)
    assert k.room.participants["d1"].view()["camera"] is False  # no peer yet: audio only
    updates = messages(k.room.camera("d1", True, k.now), "participant")
    assert [u["participant"]["camera"] for u in updates] == [True]
    assert k.room.camera("d1", True, k.now) == []  # unchanged: nothing to tell
    k.room.camera("d1", False, k.now)  # a new peer without the camera
    assert k.room.participants["d1"].view()["camera"] is False
    k.do("ch", c.FloorGive("d2"))  # without a camera, still the floor: audio only
    assert k.room.floor_video() == "d2"


CAMERA_OFFER = "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=sendrecv\r\n" \
    "m=video 9 UDP/TLS/RTP/SAVPF 96\r\na={}\r\n"


def test_an_offer_that_sends_video_has_a_camera() -> None:
    assert offers_camera(CAMERA_OFFER.format("sendrecv"))
    assert offers_camera(CAMERA_OFFER.format("sendonly"))
    assert not offers_camera(CAMERA_OFFER.format("recvonly"))
    assert not offers_camera(CAMERA_OFFER.format("inactive"))
    assert not offers_camera(CAMERA_OFFER.split("m=video")[0])  # no video m-line
    assert not offers_camera("not sdp")


async def test_the_runtime_takes_the_camera_from_each_offer(parts: Any) -> None:  # noqa: F811
    registry, *_ = parts
    rt, chair = await join(registry, "chair")
    _, d1 = await join(registry, "d1")
    await rt.offer("p_d1", d1, CAMERA_OFFER.format("sendrecv"))
    seen = [m["participant"]["camera"] for m in chair.of("participant")
            if m["participant"]["participant_id"] == "p_d1"]
    assert seen[-1] is True
    await rt.offer("p_d1", d1, CAMERA_OFFER.format("recvonly"))  # a new peer, no camera
    assert rt.room.participants["p_d1"].view()["camera"] is False
    assert [m["participant"]["camera"] for m in chair.of("participant")
            if m["participant"]["participant_id"] == "p_d1"][-1] is False
