"""Captions in the Room (rooms/captioning.py): the captioned feeds are in the plan even with no
listener, a caption reaches those hearing its channel, and the floor's reaches the listeners of a
captioned channel whose booth is off air, marked."""

from __future__ import annotations

from mirp.media.plan import FeedKey
from mirp.rooms import commands as c
from mirp.rooms.events import Caption
from tests.rooms.kit import Kit, make_spec


def kit() -> Kit:
    k = Kit(make_spec(captions=("floor", "fr", "de")), None, "ch", "d1", "d2", "fr1")
    k.do("d1", c.Subscribe("floor"))
    k.do("d2", c.Subscribe("fr"))
    return k


def delivered(k: Kit, channel: str) -> dict[str, bool]:
    """participant -> the `floor` mark of the caption they got."""
    out: dict[str, bool] = {}
    for event in k.room.caption(channel, "Bonjour.", 1.0, 2.0, "fr"):
        assert isinstance(event, Caption)
        for pid in k.room.recipients(event.audience):
            out[pid] = event.floor
    return out


def test_the_captioned_feeds_are_mixed_even_with_nobody_listening() -> None:
    k = kit()
    feeds = k.room.mix_plan().feeds
    assert {FeedKey("floor"), FeedKey("fr"), FeedKey("de")} <= set(feeds)
    k.do("fr1", c.OnAir(True))
    assert k.room.mix_plan().feeds[FeedKey("fr")] == (("fr1", 1.0),)
    assert Kit(make_spec(), None, "ch").room.mix_plan().feeds.keys().isdisjoint(
        {FeedKey("fr"), FeedKey("de")})


def test_a_channel_with_its_interpreter_on_air_reads_its_own_captions() -> None:
    k = kit()
    k.do("fr1", c.OnAir(True))
    assert delivered(k, "fr") == {"d2": False}
    assert "d2" not in delivered(k, "floor")
    assert delivered(k, "floor")["d1"] is False


def test_a_booth_off_air_gives_its_listeners_the_floor_captions_marked() -> None:
    k = kit()
    assert k.hears("d2") == FeedKey("floor")  # auto-floor: fr carries the floor
    got = delivered(k, "floor")
    assert got["d2"] is True and got["d1"] is False


def test_an_uncaptioned_channel_gives_nothing() -> None:
    k = kit()
    assert k.room.caption("es", "Hola.", 1.0, 2.0, "es") == []
    assert Kit(make_spec(), None, "ch", "d1").room.caption("floor", "x", 1.0, 2.0, "en") == []


def test_the_floor_holders_are_named_for_the_transcript() -> None:
    k = kit()
    assert k.room.floor_speakers() == ()
    k.do("ch", c.FloorGive("d1"))
    assert k.room.floor_speakers() == ("D1",)
