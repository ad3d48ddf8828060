"""The meeting room in a hybrid meeting: the `room` role's feed on the floor (where the chair says
the floor is), what the room hears (the floor minus itself, or a language channel), and what
it may and may not do."""

from __future__ import annotations

from mirp.errors import Forbidden, InvalidInput
from mirp.media.plan import FeedKey
from mirp.rooms import commands as c
from mirp.rooms.model import MeetingStatus, Role
from tests.rooms.kit import Kit, make_spec, messages


def hybrid() -> Kit:
    k = Kit(None, None, "ch", "d1", "d2", "ob", "fr1", "de1")
    k.join("hall", role=Role.ROOM, language="fr")
    return k


def test_the_room_is_on_the_floor_and_hears_the_floor_minus_itself() -> None:
    k = hybrid()
    assert k.recipe("ob") == (("hall", 1.0),)
    assert k.hears("hall") == FeedKey("floor", minus="hall")
    assert k.recipe("hall") == ()
    k.do("ch", c.FloorGive("d1"))  # both (the default): the remote speaker and the room
    assert k.sources_heard("ob") == {"d1", "hall"}
    assert k.recipe("hall") == (("d1", 1.0),)
    assert k.hears("d1") == FeedKey("floor", minus="d1")
    assert k.sources_heard("d1") == {"hall"}


def test_the_chair_says_where_the_floor_is() -> None:
    k = hybrid()
    k.do("ch", c.FloorGive("d1"))
    ev = k.do("ch", c.FloorRoom("remote"))
    assert messages(ev, "floor")[0]["room"] == "remote"
    assert k.recipe("ob") == (("d1", 1.0),)
    assert k.hears("hall") == FeedKey("floor")  # not on the floor: nothing to leave out
    ev = k.do("ch", c.FloorRoom("room"))
    assert messages(ev, "floor")[0]["muted"] == ["d1"]  # not heard: their page says so
    assert k.recipe("ob") == (("hall", 1.0),)
    assert k.recipe("hall") == ()  # the room never hears itself
    assert k.room.snapshot("ob")["floor"]["room"] == "room"


def test_auto_floor_channels_carry_the_room_until_a_booth_is_on_air() -> None:
    k = hybrid()
    k.do("d2", c.Subscribe("de"))
    assert k.recipe("d2") == (("hall", 1.0),)
    k.do("de1", c.OnAir(True))
    assert k.recipe("d2") == (("de1", 1.0),)


def test_the_room_may_listen_to_a_language_for_its_interpretation_system() -> None:
    k = hybrid()
    k.do("fr1", c.OnAir(True))
    k.do("hall", c.Subscribe("fr"))
    assert k.hears("hall") == FeedKey("fr")
    assert k.recipe("hall") == (("fr1", 1.0),)
    k.do("hall", c.Subscribe("fr", -12))  # the floor under it, minus the room itself
    assert k.hears("hall") == FeedKey("fr", -12, "hall")
    assert k.recipe("hall") == (("fr1", 1.0),)


def test_the_floor_language_follows_the_room_and_a_remote_speaker_over_it() -> None:
    k = hybrid()
    assert k.room.floor_language == "fr"
    k.do("ch", c.FloorGive("d1"))  # speaks en
    assert k.room.floor_language == "en"
    k.do("ch", c.FloorRoom("room"))
    assert k.room.floor_language == "fr"


def test_a_lost_room_leaves_the_floor_mix() -> None:
    k = hybrid()
    k.room.disconnect("hall", k.now)
    assert k.recipe("ob") == ()


def test_what_a_room_may_not_do() -> None:
    k = hybrid()
    k.refuse("hall", c.FloorRequest(), Forbidden)
    k.refuse("hall", c.FloorRoom("room"), Forbidden)
    k.refuse("d1", c.FloorRoom("room"), Forbidden)
    k.refuse("ch", c.FloorGive("hall"), InvalidInput)
    k.do("hall", c.ParticipantLanguage("en"))
    assert k.room.floor_language == "en"


def test_the_room_connects_before_the_meeting_opens() -> None:
    k = Kit(make_spec(status=MeetingStatus.SCHEDULED), None)
    k.join("hall", role=Role.ROOM)
    assert k.room.participants["hall"].connected


def test_floor_minus_room_is_the_feed_the_room_hears() -> None:
    k = hybrid()
    k.do("ch", c.FloorGive("d1"))
    k.do("ob", c.Subscribe(c.MINUS_ROOM))
    assert k.hears("ob") == k.hears("hall") == FeedKey("floor", minus="hall")
    assert k.recipe("ob") == (("d1", 1.0),)
    k.do("ch", c.FloorRoom("remote"))  # the room is not on the floor: the floor itself
    assert k.hears("ob") == FeedKey("floor")
    k.refuse("fr1", c.Subscribe(c.MINUS_ROOM), InvalidInput)  # interpreters hear the floor
