"""What a participant asks the Room to do: one frozen dataclass per client action.

The wire names and fields mirror web/js/protocol.js (`{"type": ..., "id": n, ...fields}`). The
Room decides whether the sender may do it (Room.handle is the one place roles are checked);
here we only check shapes, so that signaling can turn a decoded JSON object into a Command with
`parse_command` and answer a malformed one with InvalidMessage before it reaches the Room.
Signaling-only messages (hello, offer, ice, ping) are not Commands: they never reach the Room.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, ClassVar, Literal

from mirp.errors import InvalidMessage

FloorKind = Literal["speak", "point_of_order"]
AUTO_RELAY = "auto"  # Subscribe(channel="auto"): an interpreter hands the choice back to auto-relay
MAX_CHAT_CHARS = 1000
MAX_ID_CHARS = 64
MAX_CHANNEL_CHARS = 16


@dataclass(frozen=True, slots=True)
class Command:
    """Base of every client action. `type` is the wire name."""

    type: ClassVar[str] = ""


# --- everyone -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Subscribe(Command):
    """Listen to `channel` (`floor` or a meeting language) with the floor under it at
    `floor_under` dB (None: no floor under; must be one of MeetingSpec.under_levels_db).
    For an interpreter this chooses what they hear: the floor, or another booth's channel (relay);
    choosing another source by hand turns auto-relay off for them until the floor language
    changes or they subscribe to `auto` (AUTO_RELAY)."""

    type: ClassVar[str] = "subscribe"
    channel: str
    floor_under: int | None = None


@dataclass(frozen=True, slots=True)
class QualityReport(Command):
    """The client's view of its connection (from getStats), shown to the chair and organizer."""

    type: ClassVar[str] = "quality"
    grade: str  # "good" | "fair" | "poor" (free text, capped)
    rtt_ms: float | None = None
    loss_pct: float | None = None
    jitter_ms: float | None = None


@dataclass(frozen=True, slots=True)
class Leave(Command):
    """The participant leaves for good (the same as Room.leave)."""

    type: ClassVar[str] = "leave"


# --- delegates (and the chair) --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FloorRequest(Command):
    """Ask for the floor; a point of order goes to the top of the speakers list, marked."""

    type: ClassVar[str] = "floor_request"
    kind: FloorKind = "speak"


@dataclass(frozen=True, slots=True)
class FloorWithdraw(Command):
    """Withdraw one's request, or, when holding the floor, finish speaking."""

    type: ClassVar[str] = "floor_withdraw"


# --- chair (and organizer) ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FloorGive(Command):
    """Give the floor to a participant (a delegate, or the chair itself): their microphone goes
    into the floor mix. Several may hold the floor at once (e.g. chair + speaker)."""

    type: ClassVar[str] = "floor_give"
    participant_id: str


@dataclass(frozen=True, slots=True)
class FloorTake(Command):
    """Take the floor back from a holder (the chair taking its own: stop speaking)."""

    type: ClassVar[str] = "floor_take"
    participant_id: str


@dataclass(frozen=True, slots=True)
class SpeakersReorder(Command):
    """The new order of the speakers list: a permutation of the ids now in it."""

    type: ClassVar[str] = "speakers_reorder"
    order: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class FloorTimeLimit(Command):
    """Speaking time per turn in seconds (None: no limit); restarts the running countdown."""

    type: ClassVar[str] = "floor_time_limit"
    seconds: int | None


@dataclass(frozen=True, slots=True)
class ParticipantMute(Command):
    """Mute (or unmute) a floor holder: they keep the floor, their microphone leaves the mix."""

    type: ClassVar[str] = "participant_mute"
    participant_id: str
    muted: bool = True


@dataclass(frozen=True, slots=True)
class FloorLanguage(Command):
    """The language spoken on the floor (None: auto, from the floor holder's profile)."""

    type: ClassVar[str] = "floor_language"
    language: str | None


@dataclass(frozen=True, slots=True)
class MeetingOpen(Command):
    type: ClassVar[str] = "meeting_open"


@dataclass(frozen=True, slots=True)
class MeetingClose(Command):
    type: ClassVar[str] = "meeting_close"


@dataclass(frozen=True, slots=True)
class ParticipantRemove(Command):
    """Remove a participant from the meeting: they may not rejoin."""

    type: ClassVar[str] = "participant_remove"
    participant_id: str


# --- interpreters ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OnAir(Command):
    """Go on air (only when nobody else in the booth is) or off air."""

    type: ClassVar[str] = "on_air"
    on: bool


@dataclass(frozen=True, slots=True)
class ConsoleOutput(Command):
    """Speak into the booth's language (A) or its retour (B)."""

    type: ClassVar[str] = "console_output"
    channel: str


@dataclass(frozen=True, slots=True)
class Cough(Command):
    """Momentary mute while held: on=True when pressed, False when released."""

    type: ClassVar[str] = "cough"
    on: bool


@dataclass(frozen=True, slots=True)
class HandoverRequest(Command):
    """Ask a booth partner to take over (when on air) or to let me take over (when the partner is
    on air). `to` None: the only other connected interpreter of the booth."""

    type: ClassVar[str] = "handover_request"
    to: str | None = None


@dataclass(frozen=True, slots=True)
class HandoverAccept(Command):
    """Accept the pending handover addressed to me: the microphone moves at once."""

    type: ClassVar[str] = "handover_accept"


@dataclass(frozen=True, slots=True)
class HandoverDecline(Command):
    """Refuse the pending handover addressed to me, or cancel the one I asked for."""

    type: ClassVar[str] = "handover_decline"


@dataclass(frozen=True, slots=True)
class BoothChat(Command):
    """A text message to my booth partners."""

    type: ClassVar[str] = "booth_chat"
    text: str


@dataclass(frozen=True, slots=True)
class SlowDown(Command):
    """Ask the floor holder(s) to slow down; the chair(s) see it too."""

    type: ClassVar[str] = "slow_down"


COMMAND_TYPES: Mapping[str, type[Command]] = {
    c.type: c
    for c in (
        Subscribe,
        QualityReport,
        Leave,
        FloorRequest,
        FloorWithdraw,
        FloorGive,
        FloorTake,
        SpeakersReorder,
        FloorTimeLimit,
        ParticipantMute,
        FloorLanguage,
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


# --- parsing ---------------------------------------------------------------------------------


def _str(v: Any, name: str, cap: int, *, optional: bool = False) -> str | None:
    if v is None and optional:
        return None
    if not isinstance(v, str) or not v or len(v) > cap:
        raise InvalidMessage(f"`{name}` must be a non-empty string of at most {cap} characters")
    return v


def _int(v: Any, name: str, *, optional: bool = False) -> int | None:
    if v is None and optional:
        return None
    if isinstance(v, bool) or not isinstance(v, int | float) or int(v) != v:
        raise InvalidMessage(f"`{name}` must be an integer")
    return int(v)


def _num(v: Any, name: str) -> float | None:
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int | float) or v != v or abs(v) > 1e9:
        raise InvalidMessage(f"`{name}` must be a number")
    return float(v)


def _bool(v: Any, name: str) -> bool:
    if not isinstance(v, bool):
        raise InvalidMessage(f"`{name}` must be true or false")
    return v


def parse_command(message: Mapping[str, Any]) -> Command:
    """A decoded client message -> its Command. Unknown keys (like the client's `id`) are ignored;
    a missing or ill-typed field raises InvalidMessage (nothing reaches the Room)."""
    kind = message.get("type")
    cls = COMMAND_TYPES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise InvalidMessage(f"unknown message type {kind!r}", {"type": str(kind)[:40]})
    m = message
    pid = "participant_id"
    match cls.type:
        case "subscribe":
            return Subscribe(
                _str(m.get("channel"), "channel", MAX_CHANNEL_CHARS) or "",
                _int(m.get("floor_under"), "floor_under", optional=True),
            )
        case "quality":
            return QualityReport(
                _str(m.get("grade"), "grade", 16) or "",
                _num(m.get("rtt_ms"), "rtt_ms"),
                _num(m.get("loss_pct"), "loss_pct"),
                _num(m.get("jitter_ms"), "jitter_ms"),
            )
        case "floor_request":
            k = m.get("kind", "speak")
            if k not in ("speak", "point_of_order"):
                raise InvalidMessage("`kind` must be speak or point_of_order")
            return FloorRequest(k)
        case "floor_give" | "floor_take" | "participant_remove":
            target = _str(m.get(pid), pid, MAX_ID_CHARS) or ""
            return cls(target)  # type: ignore[call-arg]
        case "participant_mute":
            return ParticipantMute(
                _str(m.get(pid), pid, MAX_ID_CHARS) or "", _bool(m.get("muted", True), "muted")
            )
        case "speakers_reorder":
            order = m.get("order")
            if not isinstance(order, list | tuple) or len(order) > 1000:
                raise InvalidMessage("`order` must be a list of participant ids")
            return SpeakersReorder(tuple(_str(x, "order[]", MAX_ID_CHARS) or "" for x in order))
        case "floor_time_limit":
            return FloorTimeLimit(_int(m.get("seconds"), "seconds", optional=True))
        case "floor_language":
            return FloorLanguage(
                _str(m.get("language"), "language", MAX_CHANNEL_CHARS, optional=True)
            )
        case "on_air" | "cough":
            return cls(_bool(m.get("on"), "on"))  # type: ignore[call-arg]
        case "console_output":
            return ConsoleOutput(_str(m.get("channel"), "channel", MAX_CHANNEL_CHARS) or "")
        case "handover_request":
            return HandoverRequest(_str(m.get("to"), "to", MAX_ID_CHARS, optional=True))
        case "booth_chat":
            text = m.get("text")
            if not isinstance(text, str) or not text.strip() or len(text) > MAX_CHAT_CHARS:
                raise InvalidMessage(f"`text` must be 1 to {MAX_CHAT_CHARS} characters")
            return BoothChat(text.strip())
    assert not fields(cls), cls  # the remaining commands carry no fields
    return cls()


def command_message(command: Command) -> dict[str, Any]:
    """The wire form of a Command (for tests and tools that speak the protocol)."""
    out: dict[str, Any] = {"type": command.type}
    for f in fields(command):
        v = getattr(command, f.name)
        out[f.name] = list(v) if isinstance(v, tuple) else v
    return out
