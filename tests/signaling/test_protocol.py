"""Every client message validates; bad input gets a typed error carrying the client's id."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mirp.errors import InvalidMessage, MessageTooLarge
from mirp.rooms import commands as c
from mirp.signaling import protocol as p

LIMIT = 64 * 1024

SDP = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"

# one valid example of every client message (the same examples as docs/protocol.md)
EXAMPLES: dict[str, dict[str, Any]] = {
    "hello": {"token": "eyJ.abc.def", "resume": "s_abc"},
    "offer": {"sdp": SDP},
    "ice": {
        "candidate": {
            "candidate": "candidate:1 1 udp 2130706431 127.0.0.1 5000 typ host",
            "sdpMid": "0",
            "sdpMLineIndex": 0,
            "usernameFragment": "x",
        }
    },
    "subscribe": {"channel": "fr", "floor_under": -18},
    "floor_request": {"kind": "point_of_order"},
    "floor_withdraw": {},
    "floor_give": {"participant_id": "p_abc"},
    "floor_take": {"participant_id": "p_abc"},
    "speakers_reorder": {"order": ["p_b", "p_a"]},
    "floor_time_limit": {"seconds": 120},
    "participant_mute": {"participant_id": "p_abc", "muted": True},
    "participant_remove": {"participant_id": "p_abc"},
    "floor_language": {"language": "fr"},
    "floor_room": {"mode": "room"},
    "participant_language": {"language": "fr", "participant_id": "p_abc"},
    "meeting_open": {},
    "meeting_close": {},
    "on_air": {"on": True},
    "console_output": {"channel": "en"},
    "cough": {"on": True},
    "handover_request": {"to": "p_fr2"},
    "handover_accept": {},
    "handover_decline": {},
    "booth_chat": {"text": "next speaker reads fast"},
    "slow_down": {},
    "video_set": {"on": False, "partner": True},
    "quality": {"rtt": 0.031, "jitter": 0.004, "loss": 0.01, "grade": "good", "received": 500},
    "leave": {},
    "ping": {"t": 1.5},
    "pong": {"t": 1.5},
}
SIGNALING_ONLY = {"hello", "offer", "ice", "ping", "pong"}


def parse(obj: Any) -> Any:
    """The parsed message (typed Any: each test reads the fields of the type it sent)."""
    return p.parse_client(json.dumps(obj), LIMIT).message


def test_examples_cover_every_message() -> None:
    assert set(EXAMPLES) == set(p.CLIENT_MESSAGES)


@pytest.mark.parametrize("kind", sorted(EXAMPLES))
def test_every_message_validates(kind: str) -> None:
    incoming = p.parse_client(json.dumps({"type": kind, "id": 7, "v": 1, **EXAMPLES[kind]}), LIMIT)
    assert incoming.message.type == kind
    assert incoming.id == 7
    # a Room command is handed to the Room as parsed: there is no second model to map it to
    assert isinstance(incoming.message, c.Command) == (kind not in SIGNALING_ONLY)
    assert c.wire_form(incoming.message) == {"type": kind, **EXAMPLES[kind]} or kind == "ice"


def test_defaults_and_nulls_as_the_browser_sends_them() -> None:
    assert parse({"type": "floor_request", "id": 1}) == c.FloorRequest("speak")
    assert parse({"type": "subscribe", "channel": "floor", "floor_under": None}).floor_under is None
    assert parse({"type": "floor_time_limit", "seconds": None}) == c.FloorTimeLimit(None)
    assert parse({"type": "floor_language", "language": None}) == c.FloorLanguage(None)
    assert parse({"type": "handover_request", "to": None}) == c.HandoverRequest(None)
    assert parse({"type": "ice", "candidate": None}).candidate is None
    assert parse({"type": "ping", "id": None}) == p.Ping()  # a null id is no id
    # browsers add fields to candidates: ignored there (and only there)
    ice = parse({"type": "ice", "candidate": {"candidate": "", "sdpMid": "0", "extra": 1}})
    assert ice.candidate == {"candidate": "", "sdpMid": "0"}


def test_the_parsed_message_is_the_room_s_command() -> None:
    # `auto` hands the choice back to auto-relay; `floor` is a choice by hand (there is no
    # separate `relay` message: an interpreter's source is a subscription like anyone's)
    assert parse({"type": "subscribe", "channel": "auto"}) == c.Subscribe(c.AUTO_RELAY, None)
    assert parse({"type": "subscribe", "channel": "fr"}) == c.Subscribe("fr", None)
    # quality in the browser's units (getStats: seconds, a fraction), kept as sent
    q = parse({"type": "quality", "rtt": 0.05, "loss": 0.02, "grade": "fair"})
    assert q == c.Quality("fair", rtt=0.05, loss=0.02)
    assert parse({"type": "speakers_reorder", "order": ["a", "b"]}) == c.SpeakersReorder(
        ("a", "b")
    )
    assert parse({"type": "booth_chat", "text": "  hi  "}) == c.BoothChat("hi")
    with pytest.raises(p.ProtocolError) as info:
        parse({"type": "booth_chat", "id": 3, "text": "   "})
    assert info.value.msg_id == 3 and info.value.details["fields"][0]["field"] == "text"


def test_relay_is_gone() -> None:
    with pytest.raises(p.ProtocolError) as info:
        parse({"type": "relay", "id": 5, "source": "auto"})
    assert info.value.details == {"type": "relay"}


@pytest.mark.parametrize(
    ("raw", "code", "msg_id"),
    [
        ("{not json", "invalid_message", None),
        ("[1, 2]", "invalid_message", None),
        ('"hello"', "invalid_message", None),
        ('{"id": 3}', "invalid_message", 3),
        ('{"type": "launch_rockets", "id": 4}', "invalid_message", 4),
        ('{"type": 5, "id": "x"}', "invalid_message", "x"),
        ('{"type": "subscribe", "id": 5}', "invalid_message", 5),  # missing field
        (
            '{"type": "subscribe", "id": 6, "channel": "fr", "floor_under": 12}',
            "invalid_message",
            6,
        ),  # out of range
        ('{"type": "on_air", "id": 7, "on": "yes"}', "invalid_message", 7),
        ('{"type": "floor_time_limit", "id": 15, "seconds": "60"}', "invalid_message", 15),
        ('{"type": "floor_withdraw", "id": 8, "please": true}', "invalid_message", 8),  # extra
        ('{"type": "floor_give", "id": 9, "participant_id": "<script>"}', "invalid_message", 9),
        ('{"type": "offer", "id": 10, "sdp": ""}', "invalid_message", 10),
        ('{"type": "ping", "id": 11, "v": 2}', "invalid_message", 11),  # unknown major version
        ('{"type": "booth_chat", "id": 12, "text": "' + "x" * 1001 + '"}', "invalid_message", 12),
        ('{"type": "speakers_reorder", "id": 13, "order": "p_a"}', "invalid_message", 13),
        ('{"type": "hello", "id": 14}', "invalid_message", 14),
        ('{"type": "ping", "id": true}', "invalid_message", None),  # not a message id
        ('{"type": "ping", "id": 1.5}', "invalid_message", None),
        ('{"type": "ping", "id": 16, "v": true}', "invalid_message", 16),
        ('{"type": "quality", "id": 17, "rtt_ms": 30}', "invalid_message", 17),
        ('{"type": "floor_time_limit", "id": 18, "seconds": 86400}', "invalid_message", 18),
    ],
)
def test_bad_input_is_a_typed_error(raw: str, code: str, msg_id: object) -> None:
    with pytest.raises(p.ProtocolError) as info:
        p.parse_client(raw, LIMIT)
    assert isinstance(info.value, InvalidMessage)
    assert info.value.code == code
    assert info.value.msg_id == msg_id
    assert info.value.ws_close == 4400
    out = p.error_message(info.value, info.value.msg_id)
    assert out["type"] == "error" and out["code"] == code and out["message"]


def test_oversized_message() -> None:
    raw = json.dumps({"type": "booth_chat", "text": "é" * 40_000})  # 80 kB of UTF-8
    with pytest.raises(MessageTooLarge) as info:
        p.parse_client(raw, LIMIT)
    assert info.value.code == "message_too_large"
    assert info.value.details["limit"] == LIMIT


def test_sizes_are_bytes_not_characters() -> None:
    text = "é" * 600  # 600 characters, 1,200 bytes
    raw = json.dumps({"type": "booth_chat", "text": text}, ensure_ascii=False)
    assert p.parse_client(raw, 1300).message == c.BoothChat(text)
    with pytest.raises(MessageTooLarge):
        p.parse_client(raw, 1000)


def test_server_messages_are_named() -> None:
    assert {"welcome", "answer", "ice", "ack", "error", "ping", "pong"} <= set(p.SERVER_MESSAGES)
    err = p.error_message(InvalidMessage("nope"), 3, fatal=True)
    assert err == {
        "type": "error",
        "id": 3,
        "code": "invalid_message",
        "message": "nope",
        "details": {},
        "fatal": True,
    }
