"""What a participant asks the Room to do: one class per client message, the one definition.

Each class IS the wire message: its wire name is `type` (the snake_case of the class name), its
fields are the message's fields with their types, limits and defaults. Signaling parses a client
message straight into one of these classes (signaling/protocol.py: `parse_client`), the Room
handles it, web/js/wire.js and the tables of docs/protocol.md are generated from it
(`python -m mirp.signaling.schema`). There is no second parser and no mapping between two
families of classes, so a field cannot be named or scaled differently on the wire and in the
Room.

Why pydantic dataclasses, strict: they validate when built from the wire (`cls(**fields)`) and
when built by hand (the Room tests write `Subscribe("fr", -12)`), with one set of rules. Strict
because a typo or a wrong type in a client is a bug that a silent coercion would hide:
unknown fields are refused, `"60"` is not a number, `true` is not 1. The Room still decides
whether the sender may do it (roles, state): here we only check shapes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from typing import Annotated, Any, ClassVar, Literal

from pydantic import ConfigDict, Field, StringConstraints
from pydantic.dataclasses import dataclass

from mirp.rooms.floor import MAX_TIME_LIMIT_S

# The shape rules of every client message (signaling/protocol.py uses them too).
STRICT = ConfigDict(strict=True, extra="forbid", allow_inf_nan=False)

MAX_ID_CHARS = 64
MAX_CHANNEL_CHARS = 16
MAX_CHAT_CHARS = 1000
MAX_SPEAKERS = 2000  # the longest speakers list a `speakers_reorder` may name
AUTO_RELAY = "auto"  # Subscribe(channel="auto"): an interpreter hands the choice back to auto-relay
MINUS_ROOM = "floor-minus-room"  # Subscribe: the floor without the meeting room (hybrid meetings)

Id = Annotated[str, Field(min_length=1, max_length=MAX_ID_CHARS, pattern=r"^[A-Za-z0-9_.:-]+$")]
Channel = Annotated[
    str, Field(min_length=1, max_length=MAX_CHANNEL_CHARS, pattern=r"^[A-Za-z0-9_-]+$")
]
LANGUAGE_PATTERN = r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$"  # a BCP 47 language tag, roughly
Language = Annotated[
    str, Field(min_length=2, max_length=MAX_CHANNEL_CHARS, pattern=LANGUAGE_PATTERN)
]
FloorKind = Literal["speak", "point_of_order"]
Grade = Literal["good", "fair", "poor", "unknown"]
RoomMode = Literal["room", "remote", "both"]  # rooms/floor.py ROOM_MODES


@dataclass(frozen=True, slots=True, config=STRICT)
class Command:
    """Base of every client message that reaches the Room. `type` is the wire name."""

    type: ClassVar[str] = ""


# --- everyone -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, config=STRICT)
class Subscribe(Command):
    """Listen to `channel` (`floor` or a meeting language) with the floor under it at
    `floor_under` dB (None: no floor under; must be one of MeetingSpec.under_levels_db).
    For an interpreter this chooses what they hear: the floor, or another booth's channel (relay);
    choosing another source by hand turns auto-relay off for them until the floor language
    changes or they subscribe to `auto` (AUTO_RELAY). `floor-minus-room` (MINUS_ROOM): the floor
    without the meeting room's feed, what the room itself hears (a second site, a broadcaster
    that has the room's sound already)."""

    type: ClassVar[str] = "subscribe"
    channel: Channel
    floor_under: Annotated[int, Field(ge=-60, le=0)] | None = None


@dataclass(frozen=True, slots=True, config=STRICT)
class VideoSet(Command):
    """Receive the floor video (`on`, the default on joining) or not: with video off (audio only,
    for a poor line) the server sends this participant no video packet at all. `partner`
    (interpreters only; absent: unchanged, off on joining): also receive the booth partner's
    camera as a second, small stream (the offer's second video m-line); off, it gets no packet."""

    type: ClassVar[str] = "video_set"
    on: bool
    partner: bool | None = None


@dataclass(frozen=True, slots=True, config=STRICT)
class Quality(Command):
    """The client's view of its connection, in the units of the browser's getStats() (seconds,
    a fraction), shown to the chair and on the organizer's live page."""

    type: ClassVar[str] = "quality"
    grade: Grade = "unknown"
    rtt: Annotated[float, Field(ge=0, le=60)] | None = None  # round-trip time, seconds
    jitter: Annotated[float, Field(ge=0, le=60)] | None = None  # seconds
    loss: Annotated[float, Field(ge=0, le=1)] | None = None  # fraction of packets lost
    received: Annotated[int, Field(ge=0)] | None = None  # packets received so far


@dataclass(frozen=True, slots=True, config=STRICT)
class Leave(Command):
    """Leave for good (a closed socket alone is a disconnection: the floor and the booth wait
    for the grace period). Signaling acks it and closes the Session with 1000."""

    type: ClassVar[str] = "leave"


# --- delegates (and the chair) --------------------------------------------------------------


@dataclass(frozen=True, slots=True, config=STRICT)
class FloorRequest(Command):
    """Ask for the floor; a point of order goes to the top of the speakers list, marked."""

    type: ClassVar[str] = "floor_request"
    kind: FloorKind = "speak"


@dataclass(frozen=True, slots=True, config=STRICT)
class FloorWithdraw(Command):
    """Withdraw one's request, or, when holding the floor, finish speaking."""

    type: ClassVar[str] = "floor_withdraw"


# --- chair (and organizer) ------------------------------------------------------------------


@dataclass(frozen=True, slots=True, config=STRICT)
class FloorGive(Command):
    """Give the floor to a participant (a delegate, or the chair itself): their microphone goes
    into the floor mix. Several may hold the floor at once (e.g. chair + speaker)."""

    type: ClassVar[str] = "floor_give"
    participant_id: Id


@dataclass(frozen=True, slots=True, config=STRICT)
class FloorTake(Command):
    """Take the floor back from a holder (the chair taking its own: stop speaking)."""

    type: ClassVar[str] = "floor_take"
    participant_id: Id


@dataclass(frozen=True, slots=True, config=STRICT)
class SpeakersReorder(Command):
    """The new order of the speakers list: a permutation of the ids now in it."""

    type: ClassVar[str] = "speakers_reorder"
    # a JSON array arrives as a list: the one field where a list may become a tuple
    order: Annotated[tuple[Id, ...], Field(strict=False, max_length=MAX_SPEAKERS)]


@dataclass(frozen=True, slots=True, config=STRICT)
class FloorTimeLimit(Command):
    """Speaking time per turn in seconds (None: no limit); restarts the running countdown."""

    type: ClassVar[str] = "floor_time_limit"
    seconds: Annotated[int, Field(ge=1, le=MAX_TIME_LIMIT_S)] | None = None


@dataclass(frozen=True, slots=True, config=STRICT)
class ParticipantMute(Command):
    """Mute (or unmute) a floor holder: they keep the floor, their microphone leaves the mix."""

    type: ClassVar[str] = "participant_mute"
    participant_id: Id
    muted: bool = True


@dataclass(frozen=True, slots=True, config=STRICT)
class FloorLanguage(Command):
    """The language spoken on the floor (None: auto, from the floor holder's profile)."""

    type: ClassVar[str] = "floor_language"
    language: Language | None = None


@dataclass(frozen=True, slots=True, config=STRICT)
class FloorRoom(Command):
    """Where the floor is in a hybrid meeting: `room` (the meeting room's feed, from its `room`
    participants, is the floor; the holders' microphones are not mixed), `remote` (the holders
    only: the room listens) or `both` (the default)."""

    type: ClassVar[str] = "floor_room"
    mode: RoomMode


@dataclass(frozen=True, slots=True, config=STRICT)
class ParticipantLanguage(Command):
    """The language a participant speaks on the floor, which the automatic floor language
    follows (None: back to the one their invitation gave, if any). Delegates and chairs set their
    own (`participant_id` None or theirs); the presiding roles set anyone's who may hold the
    floor."""

    type: ClassVar[str] = "participant_language"
    language: Language | None
    participant_id: Id | None = None


@dataclass(frozen=True, slots=True, config=STRICT)
class MeetingOpen(Command):
    """Scheduled -> open: delegates and observers may join."""

    type: ClassVar[str] = "meeting_open"


@dataclass(frozen=True, slots=True, config=STRICT)
class MeetingClose(Command):
    """End every turn and the meeting; every Session is then closed with 4410."""

    type: ClassVar[str] = "meeting_close"


@dataclass(frozen=True, slots=True, config=STRICT)
class ParticipantRemove(Command):
    """Remove a participant from the meeting: they may not rejoin."""

    type: ClassVar[str] = "participant_remove"
    participant_id: Id


# --- interpreters ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, config=STRICT)
class OnAir(Command):
    """Go on air (only when nobody else in the booth is) or off air."""

    type: ClassVar[str] = "on_air"
    on: bool


@dataclass(frozen=True, slots=True, config=STRICT)
class ConsoleOutput(Command):
    """Speak into the booth's language (A) or its retour (B)."""

    type: ClassVar[str] = "console_output"
    channel: Language


@dataclass(frozen=True, slots=True, config=STRICT)
class Cough(Command):
    """Momentary mute while held: on=True when pressed, False when released."""

    type: ClassVar[str] = "cough"
    on: bool


@dataclass(frozen=True, slots=True, config=STRICT)
class HandoverRequest(Command):
    """Ask a booth partner to take over (when on air) or to let me take over (when the partner is
    on air). `to` None: the only other connected interpreter of the booth."""

    type: ClassVar[str] = "handover_request"
    to: Id | None = None


@dataclass(frozen=True, slots=True, config=STRICT)
class HandoverAccept(Command):
    """Accept the pending handover addressed to me: the microphone moves at once."""

    type: ClassVar[str] = "handover_accept"


@dataclass(frozen=True, slots=True, config=STRICT)
class HandoverDecline(Command):
    """Refuse the pending handover addressed to me, or cancel the one I asked for."""

    type: ClassVar[str] = "handover_decline"


@dataclass(frozen=True, slots=True, config=STRICT)
class BoothChat(Command):
    """A text message to my booth partners (surrounding blanks are dropped; blank is refused)."""

    type: ClassVar[str] = "booth_chat"
    text: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_CHAT_CHARS)
    ]


@dataclass(frozen=True, slots=True, config=STRICT)
class SlowDown(Command):
    """Ask the floor holder(s) to slow down; the chair(s) see it too."""

    type: ClassVar[str] = "slow_down"


COMMAND_TYPES: Mapping[str, type[Command]] = {
    c.type: c
    for c in (
        Subscribe,
        Quality,
        VideoSet,
        Leave,
        FloorRequest,
        FloorWithdraw,
        FloorGive,
        FloorTake,
        SpeakersReorder,
        FloorTimeLimit,
        ParticipantMute,
        FloorLanguage,
        FloorRoom,
        ParticipantLanguage,
        MeetingOpen,
        MeetingClose,
        ParticipantRemove,
        OnAir,
        ConsoleOutput,
        Cough,
        HandoverRequest,
        HandoverAccept,
        HandoverDecline,
        BoothChat,
        SlowDown,
    )
}


def wire_form(message: Any) -> dict[str, Any]:
    """The JSON object of a client message (a Command, or one of signaling's own messages): for
    tests and tools that speak the protocol."""
    out: dict[str, Any] = {"type": message.type}
    for f in fields(message):
        v = getattr(message, f.name)
        out[f.name] = list(v) if isinstance(v, tuple) else v
    return out
