"""Client messages -> Commands: every type round-trips; bad shapes are InvalidMessage."""

from __future__ import annotations

from typing import Any

import pytest

from mirp.errors import InvalidMessage
from mirp.rooms import commands as c

EXAMPLES: list[c.Command] = [
    c.Subscribe("fr", -12),
    c.Subscribe("floor"),
    c.Subscribe(c.AUTO_RELAY),
    c.QualityReport("good", 35.0, 0.5, 4.0),
    c.QualityReport("poor"),
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


@pytest.mark.parametrize("command", EXAMPLES, ids=lambda x: x.type)
def test_round_trip(command: c.Command) -> None:
    wire = {**c.command_message(command), "id": 7}  # the client's id is ignored
    assert c.parse_command(wire) == command


def test_the_client_s_own_messages_parse() -> None:
    # as web/js/protocol.js sends them
    assert c.parse_command({"type": "floor_withdraw", "id": 3}) == c.FloorWithdraw()
    assert c.parse_command({"type": "subscribe", "id": 1, "channel": "de", "floor_under": None})
    assert c.parse_command({"type": "handover_request", "to": None}) == c.HandoverRequest()
    assert c.parse_command({"type": "booth_chat", "text": "  hi  "}) == c.BoothChat("hi")


@pytest.mark.parametrize(
    "message",
    [
        {},
        {"type": "nope"},
        {"type": 5},
        {"type": "subscribe"},
        {"type": "subscribe", "channel": ""},
        {"type": "subscribe", "channel": "x" * 17},
        {"type": "subscribe", "channel": "fr", "floor_under": "loud"},
        {"type": "subscribe", "channel": "fr", "floor_under": -12.5},
        {"type": "subscribe", "channel": "fr", "floor_under": True},
        {"type": "floor_request", "kind": "shout"},
        {"type": "floor_give"},
        {"type": "floor_give", "participant_id": 12},
        {"type": "floor_give", "participant_id": "x" * 65},
        {"type": "speakers_reorder", "order": "a,b"},
        {"type": "speakers_reorder", "order": ["a", 3]},
        {"type": "floor_time_limit", "seconds": "60"},
        {"type": "participant_mute", "participant_id": "p", "muted": "yes"},
        {"type": "on_air"},
        {"type": "on_air", "on": 1},
        {"type": "cough", "on": None},
        {"type": "console_output", "channel": None},
        {"type": "booth_chat", "text": "   "},
        {"type": "booth_chat", "text": "x" * 1001},
        {"type": "booth_chat", "text": ["hi"]},
        {"type": "quality", "grade": "good", "rtt_ms": "fast"},
        {"type": "quality", "grade": "good", "rtt_ms": float("nan")},
    ],
)
def test_bad_messages_are_invalid(message: dict[str, Any]) -> None:
    with pytest.raises(InvalidMessage):
        c.parse_command(message)
