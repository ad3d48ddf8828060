"""Room state -> MixPlan: mix-minus, floor-under gains, shared keys, and who may be heard."""

from __future__ import annotations

import math

import pytest

from mirp.interpretation.routing import Route
from mirp.media.plan import FeedKey, db_to_gain
from mirp.rooms import commands as c
from mirp.rooms.mixing import Subscription, build_plan, key_for, recipe
from tests.rooms.kit import Kit


def cast() -> Kit:
    return Kit(None, None, "ch", "d1", "d2", "d3", "ob", "fr1", "fr2", "de1", "it1")


def test_floor_holders_hear_the_floor_minus_themselves() -> None:
    k = cast()
    k.do("ch", c.FloorGive("d1"))
    k.do("ch", c.FloorGive("ch"))
    assert k.hears("d2") == FeedKey("floor")
    assert k.recipe("d2") == (("d1", 1.0), ("ch", 1.0))
    assert k.hears("d1") == FeedKey("floor", minus="d1")
    assert k.recipe("d1") == (("ch", 1.0),)
    assert k.hears("ch") == FeedKey("floor", minus="ch")
    assert k.recipe("ch") == (("d1", 1.0),)


def test_floor_under_mixes_the_floor_at_the_chosen_level() -> None:
    k = cast()
    k.do("ch", c.FloorGive("d1"))
    k.do("fr1", c.OnAir(True))
    k.do("d2", c.Subscribe("fr", -12))
    k.do("d3", c.Subscribe("fr", -24))
    k.do("ob", c.Subscribe("fr"))
    assert k.hears("d2") == FeedKey("fr", -12)
    (voice, under) = k.recipe("d2")
    assert voice == ("fr1", 1.0)
    assert under[0] == "d1" and math.isclose(under[1], 10 ** (-12 / 20))
    assert math.isclose(dict(k.recipe("d3"))["d1"], db_to_gain(-24))
    assert k.recipe("ob") == (("fr1", 1.0),)
    # the speaker listening to the interpretation with the floor under: minus themselves
    k.do("d1", c.Subscribe("fr", -12))
    assert k.hears("d1") == FeedKey("fr", -12, "d1")
    assert k.recipe("d1") == (("fr1", 1.0),)


def test_a_channel_carrying_the_floor_shares_the_floor_key() -> None:
    k = cast()
    k.do("ch", c.FloorGive("d1"))
    k.do("d2", c.Subscribe("fr", -18))  # nobody on air in fr: auto-floor
    k.do("d3", c.Subscribe("en"))  # en is the floor language
    assert k.hears("d2") == k.hears("d3") == k.hears("ob") == FeedKey("floor")
    assert len(k.room.mix_plan().feeds) == 2  # floor, and floor minus d1
    k.do("fr1", c.OnAir(True))
    assert k.hears("d2") == FeedKey("fr", -18)
    k.do("fr1", c.OnAir(False))
    assert k.hears("d2") == FeedKey("floor")


def test_a_booth_without_auto_floor_is_silent_when_idle_but_keeps_the_floor_under() -> None:
    k = cast()
    k.do("ch", c.FloorGive("d1"))
    k.do("d2", c.Subscribe("it"))
    k.do("d3", c.Subscribe("it", -18))
    assert k.route("it")["kind"] == "silence"
    assert k.recipe("d2") == ()
    assert k.recipe("d3") == (("d1", db_to_gain(-18)),)


def test_cough_takes_the_interpreter_out_of_every_recipe() -> None:
    k = cast()
    k.do("ch", c.FloorGive("d1"))
    k.do("fr1", c.OnAir(True))
    k.do("d2", c.Subscribe("fr"))
    k.do("d3", c.Subscribe("fr", -12))
    assert "fr1" in k.room.mix_plan().sources()
    ev = k.do("fr1", c.Cough(True))
    assert any(e.message().get("cough") is True for e in ev if hasattr(e, "message"))
    assert "fr1" not in k.room.mix_plan().sources()
    assert k.recipe("d2") == ()  # silence for the cough, not a jump to the floor
    assert k.sources_heard("d3") == {"d1"}
    k.do("fr1", c.Cough(False))
    assert k.recipe("d2") == (("fr1", 1.0),)


def test_only_permitted_microphones_are_ever_in_the_plan() -> None:
    k = cast()
    for pid in ("d1", "d2", "d3", "ob", "fr1", "fr2"):
        k.do(pid, c.Subscribe("fr", -12))
    assert k.room.mix_plan().sources() == frozenset()  # nobody may be heard yet
    k.do("ch", c.FloorGive("d1"))
    k.do("fr2", c.OnAir(True))
    assert k.room.mix_plan().sources() == {"d1", "fr2"}
    k.do("ch", c.ParticipantMute("d1"))
    k.room.disconnect("fr2", k.now)
    assert k.room.mix_plan().sources() == frozenset()


def test_the_plan_holds_exactly_the_keys_in_use() -> None:
    k = cast()
    k.do("ch", c.FloorGive("d1"))
    k.do("fr1", c.OnAir(True))
    k.do("d2", c.Subscribe("fr", -12))
    k.do("d3", c.Subscribe("fr", -12))
    plan = k.room.mix_plan()
    assert set(plan.feeds) == set(k.room.feeds().values())
    assert set(plan.feeds) == {
        FeedKey("floor"),
        FeedKey("floor", minus="d1"),
        FeedKey("fr", -12),
    }
    k.room.disconnect("d2", k.now)
    k.room.disconnect("d3", k.now)
    assert FeedKey("fr", -12) not in k.room.mix_plan().feeds


def test_retour_output_feeds_the_other_channel() -> None:
    k = cast()
    k.do("fr1", c.OnAir(True))
    k.do("fr1", c.ConsoleOutput("en"))
    k.do("d1", c.Subscribe("en"))
    k.do("d2", c.Subscribe("fr"))
    assert k.recipe("d1") == (("fr1", 1.0),)
    assert k.hears("d2") == FeedKey("floor")


def test_key_for_applies_minus_to_anyone_whose_voice_is_in_their_product() -> None:
    routes = {
        "floor": Route("floor", "floor"),
        "fr": Route("fr", "interpretation", "fr", "fr1", True),
    }
    floor = (("d1", 1.0),)
    # an interpreter listening to the channel they speak into: never their own voice
    key = key_for("fr1", Subscription("fr", None), routes, floor)
    assert key == FeedKey("fr", 0, "fr1")
    assert recipe(key, routes, floor) == ()
    plan = build_plan(
        {"fr1": Subscription("fr", -12), "x": Subscription("fr", -12)}, routes, floor
    )
    [(source, gain)] = plan.recipe(FeedKey("fr", -12, "fr1"))
    assert source == "d1" and gain == pytest.approx(db_to_gain(-12))
    assert len(plan.recipe(FeedKey("fr", -12))) == 2
