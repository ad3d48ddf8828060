"""A meeting that is webcast or recorded has one broadcast key per channel in its mix plan, whose
recipe follows the Room's routes at the same tick as listeners' keys (rooms/mixing.py)."""

from __future__ import annotations

from mirp.media.plan import FeedKey
from mirp.rooms import commands as c
from mirp.rooms.mixing import BROADCAST, broadcast_key
from tests.rooms.kit import Kit, make_spec


def kit(**spec: object) -> Kit:
    return Kit(make_spec(**spec), None, "ch", "d1", "d2", "fr1")


def test_no_broadcast_key_unless_webcast_or_recording() -> None:
    k = kit()
    assert not k.room.spec.broadcast
    assert all(key.minus != BROADCAST for key in k.room.mix_plan().feeds)


def test_each_channel_has_its_broadcast_key_following_the_routes() -> None:
    k = kit(recording=True)
    keys = k.room.broadcast_keys()
    assert next(iter(keys)) == "floor" and set(keys) == {"floor", *k.room.spec.languages}
    assert keys["fr"] == FeedKey("fr", 0, BROADCAST) == broadcast_key("fr")
    plan = k.room.mix_plan()
    assert set(keys.values()) <= set(plan.feeds)
    assert all(plan.recipe(key) == () for key in keys.values())  # nobody audible yet
    k.do("ch", c.FloorGive("d1"))
    plan = k.room.mix_plan()
    assert plan.recipe(keys["floor"]) == (("d1", 1.0),)
    assert plan.recipe(keys["fr"]) == (("d1", 1.0),)  # auto-floor: fr carries the floor
    k.do("fr1", c.OnAir(True))
    plan = k.room.mix_plan()
    assert plan.recipe(keys["fr"]) == (("fr1", 1.0),)  # no floor under it
    assert plan.recipe(keys["floor"]) == (("d1", 1.0),)
    k.do("fr1", c.OnAir(False))
    assert k.room.mix_plan().recipe(keys["fr"]) == (("d1", 1.0),)


def test_the_webcast_option_alone_broadcasts_too_and_the_view_says_recording() -> None:
    k = kit(webcast="token")
    assert k.room.spec.broadcast and set(k.room.broadcast_keys().values()) <= set(
        k.room.mix_plan().feeds)
    assert k.room.snapshot("d1")["meeting"]["recording"] is False  # what the welcome carries
    assert kit(recording=True).room.snapshot("d1")["meeting"]["recording"] is True
