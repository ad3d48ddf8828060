"""A meeting that is webcast or recorded has one broadcast key per channel in its mix plan, an
alias whose target follows the Room's routes at the same tick as listeners' keys
(rooms/mixing.py)."""

from __future__ import annotations

from mirp.media.plan import FeedKey
from mirp.rooms import commands as c
from mirp.rooms.mixing import BROADCAST, base_key, broadcast_key
from tests.rooms.kit import Kit, make_spec


def kit(**spec: object) -> Kit:
    return Kit(make_spec(**spec), None, "ch", "d1", "d2", "fr1")


def test_no_broadcast_key_unless_webcast_or_recording() -> None:
    k = kit()
    assert not k.room.spec.broadcast
    plan = k.room.mix_plan()
    assert not plan.aliases and all(key.minus != BROADCAST for key in plan.feeds)


def test_each_channel_s_broadcast_key_is_an_alias_following_the_routes() -> None:
    """Never a recipe of its own (it would be a second encode of what listeners get): an alias
    of the channel's base key, switched in the very plan that switches listeners."""
    k = kit(recording=True)
    keys = k.room.broadcast_keys()
    assert next(iter(keys)) == "floor" and set(keys) == {"floor", *k.room.spec.languages}
    assert keys["fr"] == FeedKey("fr", 0, BROADCAST) == broadcast_key("fr")
    plan = k.room.mix_plan()
    assert not set(keys.values()) & set(plan.feeds)  # no broadcast key is mixed
    assert plan.aliases == {key: base_key(ch, None, k.room.routes) for ch, key in keys.items()}
    assert plan.aliases[keys["fr"]] == FeedKey("floor")  # auto-floor
    assert plan.recipe(FeedKey("floor")) == ()  # nobody audible yet
    k.do("ch", c.FloorGive("d1"))
    plan = k.room.mix_plan()
    assert plan.aliases[keys["fr"]] == plan.aliases[keys["floor"]] == FeedKey("floor")
    assert plan.recipe(FeedKey("floor")) == (("d1", 1.0),)
    k.do("fr1", c.OnAir(True))
    plan = k.room.mix_plan()
    assert plan.aliases[keys["fr"]] == FeedKey("fr")  # the key French listeners hear
    assert plan.recipe(FeedKey("fr")) == (("fr1", 1.0),)  # in the plan without a listener
    assert plan.aliases[keys["floor"]] == FeedKey("floor")
    assert all(key.minus != BROADCAST for key in plan.feeds)
    k.do("fr1", c.OnAir(False))
    assert k.room.mix_plan().aliases[keys["fr"]] == FeedKey("floor")


def test_the_webcast_option_alone_broadcasts_too_and_the_view_says_recording() -> None:
    k = kit(webcast="token")
    assert k.room.spec.broadcast and set(k.room.broadcast_keys().values()) <= set(
        k.room.mix_plan().aliases)
    assert k.room.snapshot("d1")["meeting"]["recording"] is False  # what the welcome carries
    # the view says what the recorder does, not the option (webcast/service.py tells it)
    rec = kit(recording=True).room
    assert rec.snapshot("d1")["meeting"]["recording"] is False
    (event,) = rec.follow_recording(True)
    assert event.message() == {"type": "meeting", "meeting": {"recording": True}}
    assert rec.snapshot("d1")["meeting"]["recording"] is True and not rec.follow_recording(True)


def test_an_options_change_puts_the_broadcast_keys_in_the_plan_at_once() -> None:
    k = kit()
    assert not k.room.spec.broadcast and not set(k.room.broadcast_keys().values()) & set(
        k.room.mix_plan().aliases)
    k.room.follow_options("public", False)
    assert set(k.room.broadcast_keys().values()) <= set(k.room.mix_plan().aliases)
    k.room.follow_options("off", False)
    assert not set(k.room.broadcast_keys().values()) & set(k.room.mix_plan().aliases)


def test_the_shared_plane_namespaces_both_sides_of_an_alias() -> None:
    """One plane for every room: a room's broadcast alias and its target get the meeting's
    namespace, so the webcaster's namespaced key finds the namespaced feed."""
    from mirp.media.plan import MixPlan
    from mirp.rooms.shared_plane import SharedPlane, namespaced

    class Plane:
        plan = MixPlan.of()

        def apply(self, plan: MixPlan) -> None:
            self.plan = plan

    plane = Plane()
    shared = SharedPlane(plane)  # type: ignore[arg-type]
    k = kit(recording=True)
    k.do("fr1", c.OnAir(True))
    shared.scope("m1").apply(k.room.mix_plan())
    alias = namespaced("m1", broadcast_key("fr"))
    assert plane.plan.aliases[alias] == namespaced("m1", FeedKey("fr"))
    assert plane.plan.aliases[alias] in plane.plan.feeds


def test_captions_keep_the_broadcast_aliases() -> None:
    """The captioned feeds are added to the plan: the aliases stay (they were lost once)."""
    k = kit(recording=True, captions=("fr",))
    plan = k.room.mix_plan()
    assert plan.aliases[broadcast_key("fr")] == FeedKey("floor")
    assert FeedKey("fr") in plan.feeds  # captioned: the captioner listens
