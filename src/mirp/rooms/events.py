"""What the Room tells the world: frozen events, each with its audience and its wire message.

Room.join/leave/disconnect/handle/tick return a list of events. Two families:
- wire events (`WireEvent`): `audience` says who receives `message()` (a JSON-ready dict with a
  "type"; the runtime adds "seq"). Shapes mirror web/js/roomview.js applyServerMessage; every
  message is described in docs/rooms.md.
- `RecordEvent`: an append-only statistics fact (rooms.model.Record) for Admission.record();
  nobody receives it over the wire.
Two wire events also ask the runtime to act: `Removed` (close that participant's sessions with
Forbidden.ws_close after sending it) and `MeetingClosed` (send it, then close every session).
Events carry no sequence number: the runtime numbers broadcasts in the order the Room emits them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from mirp.rooms.model import Record, Role

JsonDict = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Audience:
    """Who receives a wire event: the union of everyone (when `everyone`), the participants in
    `ids`, the interpreters of the booths in `booths`, and the participants whose role is in
    `roles`. Resolved against connected participants by Room.recipients()."""

    everyone: bool = False
    ids: frozenset[str] = frozenset()
    booths: frozenset[str] = frozenset()
    roles: frozenset[Role] = frozenset()

    @staticmethod
    def all() -> Audience:
        return Audience(everyone=True)

    @staticmethod
    def participant(*pids: str) -> Audience:
        return Audience(ids=frozenset(pids))

    @staticmethod
    def booth(language: str) -> Audience:
        return Audience(booths=frozenset({language}))

    @staticmethod
    def presiding(*also: str) -> Audience:
        """The chairs and organizers, plus `also` (e.g. the floor holders)."""
        return Audience(ids=frozenset(also), roles=frozenset({Role.CHAIR, Role.ORGANIZER}))

    def includes(self, pid: str, role: Role, booth: str | None) -> bool:
        return (
            self.everyone
            or pid in self.ids
            or role in self.roles
            or (role is Role.INTERPRETER and booth is not None and booth in self.booths)
        )


@dataclass(frozen=True, slots=True)
class WireEvent:
    """Base of the events sent to clients."""

    type: ClassVar[str] = ""

    @property
    def audience(self) -> Audience:
        return Audience.all()

    def message(self) -> JsonDict:
        return {"type": self.type}


@dataclass(frozen=True, slots=True)
class ParticipantJoined(WireEvent):
    """Someone joined (or came back within the grace period). `participant` as in the snapshot."""

    type: ClassVar[str] = "participant_joined"
    participant: Mapping[str, Any]

    def message(self) -> JsonDict:
        return {"type": self.type, "participant": dict(self.participant)}


@dataclass(frozen=True, slots=True)
class ParticipantUpdated(WireEvent):
    """A participant's presence changed (connected, channel, speaking, quality grade): the full
    participant view, to merge. (Hand raised and muted are in the floor message.)"""

    type: ClassVar[str] = "participant"
    participant: Mapping[str, Any]

    def message(self) -> JsonDict:
        return {"type": self.type, "participant": dict(self.participant)}


@dataclass(frozen=True, slots=True)
class LineQuality(WireEvent):
    """A participant's line quality grade changed. It is theirs and the presiding officers' to
    know (a delegate's poor line is not the other delegations' business), so it is not in the
    participant view that goes to everyone; the welcome snapshot follows the same audience."""

    type: ClassVar[str] = "line_quality"
    participant_id: str
    grade: str

    @property
    def audience(self) -> Audience:
        return Audience.presiding(self.participant_id)

    def message(self) -> JsonDict:
        return {"type": self.type, "participant_id": self.participant_id, "grade": self.grade}


@dataclass(frozen=True, slots=True)
class ParticipantLeft(WireEvent):
    """Gone for good: `reason` is "left", "removed" or "timeout" (the grace period expired)."""

    type: ClassVar[str] = "participant_left"
    participant_id: str
    reason: str

    def message(self) -> JsonDict:
        return {"type": self.type, "participant_id": self.participant_id, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class FloorChanged(WireEvent):
    """The whole floor: holders, language, time_limit_s, remaining_s, speakers, muted."""

    type: ClassVar[str] = "floor"
    floor: Mapping[str, Any]

    def message(self) -> JsonDict:
        return {"type": self.type, **self.floor}


@dataclass(frozen=True, slots=True)
class BoothChanged(WireEvent):
    """The whole state of one booth (see docs/rooms.md): everyone sees who is on air."""

    type: ClassVar[str] = "booth"
    booth: Mapping[str, Any]

    def message(self) -> JsonDict:
        return {"type": self.type, **self.booth}


@dataclass(frozen=True, slots=True)
class ChannelsChanged(WireEvent):
    """What each channel carries now (routes), when that changed."""

    type: ClassVar[str] = "channels"
    channels: Mapping[str, Any]

    def message(self) -> JsonDict:
        return {"type": self.type, "channels": dict(self.channels)}


@dataclass(frozen=True, slots=True)
class MeetingChanged(WireEvent):
    type: ClassVar[str] = "meeting"
    status: str

    def message(self) -> JsonDict:
        return {"type": self.type, "meeting": {"status": self.status}}


@dataclass(frozen=True, slots=True)
class RecordingChanged(WireEvent):
    """The meeting's recorder started or stopped writing (the webcast worker's real state:
    a full disk stops it though the option stays on): every participant's REC badge."""

    type: ClassVar[str] = "meeting"
    recording: bool

    def message(self) -> JsonDict:
        return {"type": self.type, "meeting": {"recording": self.recording}}


@dataclass(frozen=True, slots=True)
class MeetingClosed(WireEvent):
    """The chair closed the meeting: send this, then close every session of the room."""

    type: ClassVar[str] = "meeting"
    by: str | None = None

    def message(self) -> JsonDict:
        return {"type": self.type, "meeting": {"status": "closed"}, "closed": True, "by": self.by}


@dataclass(frozen=True, slots=True)
class Subscribed(WireEvent):
    """What this participant now hears. `auto`: chosen by the server (auto-relay)."""

    type: ClassVar[str] = "subscribed"
    participant_id: str
    channel: str
    floor_under: int | None
    auto: bool = False

    @property
    def audience(self) -> Audience:
        return Audience.participant(self.participant_id)

    def message(self) -> JsonDict:
        return {
            "type": self.type,
            "channel": self.channel,
            "floor_under": self.floor_under,
            "auto": self.auto,
        }


@dataclass(frozen=True, slots=True)
class Chat(WireEvent):
    """Booth chat: to the interpreters of `booth` only."""

    type: ClassVar[str] = "chat"
    booth: str
    sender: str
    text: str
    at: float

    @property
    def audience(self) -> Audience:
        return Audience.booth(self.booth)

    def message(self) -> JsonDict:
        return {
            "type": self.type,
            "booth": self.booth,
            "from": self.sender,
            "text": self.text,
            "at": self.at,
        }


@dataclass(frozen=True, slots=True)
class Notice(WireEvent):
    """A short notice. kinds: "slow_down" (from a booth, to the presiding roles and the floor
    holders), "time_up" (to the presiding roles and the timed speaker), "handover_expired" and
    "handover_declined" (to the booth)."""

    type: ClassVar[str] = "notice"
    kind: str
    to: Audience
    sender: str | None = None
    participant_id: str | None = None
    booth: str | None = None
    text: str | None = None

    @property
    def audience(self) -> Audience:
        return self.to

    def message(self) -> JsonDict:
        out: JsonDict = {"type": self.type, "kind": self.kind}
        for k, v in (
            ("from", self.sender),
            ("participant_id", self.participant_id),
            ("booth", self.booth),
            ("text", self.text),
        ):
            if v is not None:
                out[k] = v
        return out


@dataclass(frozen=True, slots=True)
class Removed(WireEvent):
    """To the removed participant: then the runtime closes their sessions (Forbidden)."""

    type: ClassVar[str] = "removed"
    participant_id: str
    by: str
    reason: str = "The chair removed you from the meeting."

    @property
    def audience(self) -> Audience:
        return Audience.participant(self.participant_id)

    def message(self) -> JsonDict:
        return {"type": self.type, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class RecordEvent:
    """A statistics fact for the store; never sent to clients."""

    record: Record


Event = WireEvent | RecordEvent


def records(events: Iterable[Event]) -> list[Record]:
    return [e.record for e in events if isinstance(e, RecordEvent)]


@dataclass(frozen=True, slots=True)
class Caption(WireEvent):
    """A final caption of `channel` ("floor" or a language), to those hearing it (docs/captions.md):
    text, start/end (wall-clock seconds), final, and `floor` true when it is the floor's caption
    on a language channel whose booth is off air (the channel falls back to the floor)."""

    type: ClassVar[str] = "caption"
    to: Audience
    channel: str
    text: str
    start: float
    end: float
    language: str
    final: bool = True
    floor: bool = False

    @property
    def audience(self) -> Audience:
        return self.to

    def message(self) -> JsonDict:
        return {"type": self.type, "channel": self.channel, "text": self.text,
                "start": self.start, "end": self.end, "language": self.language,
                "final": self.final, "floor": self.floor}
