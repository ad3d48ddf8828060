"""Value types shared by the store (which builds them) and the rooms (which run them).

Nothing here does I/O. The store turns database rows into a MeetingSpec; signaling turns a verified
join token into a JoinGrant; the Room runs from both.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum


def utc(epoch_s: float) -> datetime:
    """Records carry timezone-aware UTC datetimes; the Room is given epoch seconds."""
    return datetime.fromtimestamp(epoch_s, tz=UTC)


class Role(StrEnum):
    ORGANIZER = "organizer"
    CHAIR = "chair"
    DELEGATE = "delegate"
    INTERPRETER = "interpreter"
    OBSERVER = "observer"
    ROOM = "room"  # the meeting room's sound desk: its audio is the room feed (docs/venue.md)


# may join before the meeting opens (the venue's connector is set up ahead, like the booths)
STAFF_ROLES = frozenset({Role.ORGANIZER, Role.CHAIR, Role.INTERPRETER, Role.ROOM})


class MeetingStatus(StrEnum):
    SCHEDULED = "scheduled"
    OPEN = "open"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class BoothSpec:
    """The interpreters of one language. `retour`: the second language it can work into.
    `understands`: the languages its interpreters can take from the floor directly (relay
    otherwise).
    """

    language: str
    retour: str | None = None
    understands: frozenset[str] = frozenset()
    auto_floor: bool = True  # its channel carries the floor while nobody in it is on air


@dataclass(frozen=True, slots=True)
class MeetingSpec:
    id: str
    title: str
    languages: tuple[str, ...]  # ISO 639-1 codes, in display order
    booths: tuple[BoothSpec, ...]
    status: MeetingStatus = MeetingStatus.SCHEDULED
    under_levels_db: tuple[int, ...] = (-12, -18, -24)  # floor-under levels offered to listeners
    capacity: int = 500
    captions: tuple[str, ...] = ()  # channels captioned live ("floor", languages): docs/captions.md
    removed_participants: frozenset[str] = frozenset()  # removed by a chair: may not rejoin
    webcast: str = "off"  # "public" | "token" | "off" (docs/webcast.md)
    recording: bool = False  # every channel recorded while the room is open

    @property
    def broadcast(self) -> bool:
        """Every channel is mixed and encoded for the webcast or the recording, listened to
        or not."""
        return self.webcast != "off" or self.recording

    def booth(self, language: str) -> BoothSpec | None:
        return next((b for b in self.booths if b.language == language), None)


@dataclass(frozen=True, slots=True)
class JoinGrant:
    """Who a verified join token says a person is, in one meeting."""

    meeting_id: str
    participant_id: str
    name: str
    role: Role
    delegation: str | None = None
    booth: str | None = None  # interpreters: the booth's language
    invitation_id: str | None = None
    language: str | None = None  # the language this person speaks (drives auto floor language)


# --- Records: append-only facts for statistics, written by the store's recorder -------------------
# The Room emits them; the store keeps them. Times are timezone-aware UTC datetimes.


@dataclass(frozen=True, slots=True)
class AttendanceRecord:
    meeting_id: str
    participant_id: str
    name: str
    role: Role
    kind: str  # "join" | "leave"
    at: datetime
    delegation: str | None = None
    booth: str | None = None
    channel: str | None = None


@dataclass(frozen=True, slots=True)
class SpeakingTurnRecord:
    meeting_id: str
    participant_id: str
    started_at: datetime
    ended_at: datetime
    floor_language: str | None = None


@dataclass(frozen=True, slots=True)
class OnAirTurnRecord:
    meeting_id: str
    participant_id: str
    booth: str
    channel: str  # the language spoken into (the booth's, or its retour)
    started_at: datetime
    ended_at: datetime


@dataclass(frozen=True, slots=True)
class ListeningRecord:
    meeting_id: str
    participant_id: str
    channel: str
    under_level_db: int
    started_at: datetime
    ended_at: datetime


@dataclass(frozen=True, slots=True)
class LifecycleRecord:
    meeting_id: str
    kind: str  # "opened" | "closed"
    at: datetime
    by: str | None = None


@dataclass(frozen=True, slots=True)
class RemovalRecord:
    """A chair removed a participant: their token stops working for this meeting."""

    meeting_id: str
    participant_id: str
    by: str
    at: datetime


@dataclass(frozen=True, slots=True)
class QualityRecord:
    """A sample of one participant's connection as their client reported it (the Room keeps at
    most one per participant every `RoomLimits.quality_sample_s`, and one at each grade change).
    rtt in seconds, loss a fraction; None: the client did not measure it."""

    meeting_id: str
    participant_id: str
    role: Role
    grade: str  # good | fair | poor | unknown
    at: datetime
    rtt: float | None = None
    loss: float | None = None
    jitter: float | None = None


@dataclass(frozen=True, slots=True)
class FailedJoinRecord:
    """A join the server refused, with its reason code (the error's `reason`, else its code:
    `revoked`, `removed`, `meeting_full`, `meeting_closed`, `unauthorized`, ...)."""

    meeting_id: str
    reason: str
    at: datetime
    participant_id: str | None = None  # None: the token named nobody we could trust
    role: Role | None = None


Record = (
    AttendanceRecord
    | SpeakingTurnRecord
    | OnAirTurnRecord
    | ListeningRecord
    | LifecycleRecord
    | RemovalRecord
    | QualityRecord
    | FailedJoinRecord
)
