"""The Room's commands are the wire messages: each is built from its JSON fields with the same
rules as by hand, and refuses a bad shape (signaling answers that with invalid_message)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from mirp.errors import Forbidden, InvalidInput, NotFound
from mirp.rooms import commands as c
from mirp.rooms.floor import MAX_TIME_LIMIT_S
from tests.rooms.kit import Kit, messages

EXAMPLES: list[c.Command] = [
    c.Subscribe("fr", -12),
    c.Subscribe("floor"),
    c.Subscribe(c.AUTO_RELAY),
    c.Quality("good", 0.035, 0.004, 0.005, 1200),
    c.Quality("poor"),
    c.VideoSet(on=False),
    c.Leave(),
    c.FloorRequest(),
    c.FloorRequest("point_of_order"),
    c.FloorWithdraw(),
    c.FloorGive("p1"),
    c.FloorTake("p1"),
    c.SpeakersReorder(("a", "b")),
    c.FloorTimeLimit(120),
    c.FloorTimeLimit(None),
    c.ParticipantMute("p1"),
    c.ParticipantMute("p1", muted=False),
    c.FloorLanguage("en"),
    c.FloorLanguage(None),
    c.FloorRoom("room"),
    c.ParticipantLanguage("fr"),
    c.ParticipantLanguage(None, "p1"),
    c.MeetingOpen(),
    c.MeetingClose(),
    c.ParticipantRemove("p1"),
    c.OnAir(True),
    c.ConsoleOutput("en"),
    c.Cough(False),
    c.HandoverRequest("p2"),
    c.HandoverRequest(None),
    c.HandoverAccept(),
    c.HandoverDecline(),
    c.BoothChat("hello"),
    c.SlowDown(),
]


def test_examples_cover_every_command() -> None:
    assert {type(x) for x in EXAMPLES} == set(c.COMMAND_TYPES.values())


def test_class_names_are_the_wire_names() -> None:
    for kind, cls in c.COMMAND_TYPES.items():
        assert cls.__name__ == "".join(w.title() for w in kind.split("_")), (kind, cls)


def from_wire(message: dict[str, Any]) -> c.Command:
    """As signaling does it: the class named by `type`, built from the other fields."""
    fields = dict(message)
    return c.COMMAND_TYPES[fields.pop("type")](**fields)


@pytest.mark.parametrize("command", EXAMPLES, ids=lambda x: x.type)
def test_round_trip(command: c.Command) -> None:
    wire = json.loads(json.dumps(c.wire_form(command)))
    assert from_wire(wire) == command


def test_the_client_s_own_messages_parse() -> None:
    # as web/js/protocol.js sends them
    assert from_wire({"type": "floor_withdraw"}) == c.FloorWithdraw()
    assert from_wire({"type": "subscribe", "channel": "de", "floor_under": None}) == c.Subscribe(
        "de"
    )
    assert from_wire({"type": "handover_request", "to": None}) == c.HandoverRequest()
    assert from_wire({"type": "booth_chat", "text": "  hi  "}) == c.BoothChat("hi")
    assert from_wire({"type": "speakers_reorder", "order": ["a", "b"]}) == c.SpeakersReorder(
        ("a", "b")
    )
    assert from_wire({"type": "quality", "grade": "fair", "rtt": 0.05}) == c.Quality("fair", 0.05)


def test_the_speaking_time_limit_is_the_floor_s() -> None:
    """docs/protocol.md said 1-86,400 s while the floor refused more than 4 h: one bound now."""
    assert c.FloorTimeLimit(MAX_TIME_LIMIT_S).seconds == MAX_TIME_LIMIT_S
    with pytest.raises(ValidationError):
        c.FloorTimeLimit(MAX_TIME_LIMIT_S + 1)


@pytest.mark.parametrize(
    "message",
    [
        {"type": "subscribe"},
        {"type": "subscribe", "channel": ""},
        {"type": "subscribe", "channel": "x" * 17},
        {"type": "subscribe", "channel": "fr", "floor_under": "loud"},
        {"type": "subscribe", "channel": "fr", "floor_under": -12.5},
        {"type": "subscribe", "channel": "fr", "floor_under": True},
        {"type": "subscribe", "channel": "fr", "floor_under": 12},
        {"type": "subscribe", "channel": "fr", "volume": 3},
        {"type": "floor_request", "kind": "shout"},
        {"type": "floor_give"},
        {"type": "floor_give", "participant_id": 12},
        {"type": "floor_give", "participant_id": "x" * 65},
        {"type": "floor_give", "participant_id": "<script>"},
        {"type": "speakers_reorder", "order": "a,b"},
        {"type": "speakers_reorder", "order": ["a", 3]},
        {"type": "floor_time_limit", "seconds": "60"},
        {"type": "floor_time_limit", "seconds": 0},
        {"type": "floor_time_limit", "seconds": 86_400},
        {"type": "participant_mute", "participant_id": "p", "muted": "yes"},
        {"type": "on_air"},
        {"type": "on_air", "on": 1},
        {"type": "cough", "on": None},
        {"type": "console_output", "channel": None},
        {"type": "booth_chat", "text": "   "},
        {"type": "booth_chat", "text": "x" * (c.MAX_CHAT_CHARS + 1)},
        {"type": "booth_chat", "text": ["hi"]},
        {"type": "quality", "grade": "good", "rtt": "fast"},
        {"type": "quality", "grade": "good", "rtt": float("nan")},
        {"type": "quality", "grade": "good", "rtt_ms": 30},  # the old names are refused
        {"type": "quality", "grade": "excellent"},
        {"type": "quality", "loss": 2},  # a fraction
    ],
)
def test_bad_messages_are_refused(message: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        from_wire(message)


def test_the_automatic_floor_language_follows_a_language_set_in_the_meeting() -> None:
    """Automatic floor language needs the holder's language: an invitation may give none, so
    a participant (or the chair for them) sets it in the meeting with participant_language."""
    k = Kit(None, None, "ch", "org", "d1", "d3", "ob")
    k.do("ch", c.FloorGive("d3"))  # d3's invitation gave no language
    assert k.room.floor_language is None
    ev = k.do("d3", c.ParticipantLanguage("fr"))
    assert messages(ev, "floor")[0]["language"] == "fr"  # automatic: the holder's
    assert messages(ev, "participant")[0]["participant"]["language"] == "fr"
    assert k.room.snapshot("d1")["floor"]["language_auto"] is True
    ev = k.do("ch", c.ParticipantLanguage(None, "d3"))  # back to the invitation's: none
    assert messages(ev, "floor")[0]["language"] is None
    k.refuse("d1", c.ParticipantLanguage("de", "d3"), Forbidden)  # only for oneself
    k.refuse("org", c.ParticipantLanguage("de"), Forbidden)  # organizers are not on the floor
    k.refuse("ch", c.ParticipantLanguage("de", "ob"), InvalidInput)
    k.refuse("ch", c.ParticipantLanguage("ru", "d3"), InvalidInput)  # not a meeting language
    k.refuse("ch", c.ParticipantLanguage("de", "nobody"), NotFound)
