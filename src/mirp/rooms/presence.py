"""A participant's live presence in a Room, and the Room's limits.

Presence is what the other participants see of someone (name, delegation, role, booth,
connected, channel, speaking, connection quality) plus what the Room needs to keep while their
connection is lost (the grace period keeps their floor, on-air state and channel).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from mirp.interpretation.routing import FLOOR
from mirp.rooms.mixing import Listening
from mirp.rooms.model import AttendanceRecord, JoinGrant, Role


def utc(epoch_s: float) -> datetime:
    """Records carry timezone-aware UTC datetimes; the Room is given epoch seconds."""
    return datetime.fromtimestamp(epoch_s, tz=UTC)


@dataclass(frozen=True, slots=True)
class RoomLimits:
    """grace_s: how long a lost connection keeps its place (floor, on air, channel).
    handover_timeout_s: how long a handover request waits for an answer.
    capacity: None uses MeetingSpec.capacity."""

    grace_s: float = 30.0
    handover_timeout_s: float = 20.0
    capacity: int | None = None


@dataclass(slots=True)
class Participant:
    grant: JoinGrant
    joined_at: float
    connected: bool = True
    lost_at: float | None = None  # when the connection was lost (grace runs from here)
    channel: str = FLOOR
    floor_under: int | None = None
    listening_since: float = 0.0
    speaking: bool = False
    quality: dict[str, Any] | None = None
    spoken: str | None = None  # set by `participant_language`; None: the grant's language

    @property
    def id(self) -> str:
        return self.grant.participant_id

    @property
    def role(self) -> Role:
        return self.grant.role

    @property
    def booth(self) -> str | None:
        return self.grant.booth if self.grant.role is Role.INTERPRETER else None

    @property
    def language(self) -> str | None:
        return self.spoken or self.grant.language or self.grant.extra.get("language")

    def listening(self) -> Listening:
        return Listening(self.id, self.channel, self.floor_under)

    def attendance(self, kind: str, now: float) -> AttendanceRecord:
        g = self.grant
        return AttendanceRecord(
            g.meeting_id,
            g.participant_id,
            g.name,
            g.role,
            kind,
            utc(now),
            g.delegation,
            self.booth,
            self.channel,
        )

    def view(self) -> dict[str, Any]:
        g = self.grant
        return {
            "participant_id": g.participant_id,
            "name": g.name,
            "role": str(g.role),
            "delegation": g.delegation,
            "booth": self.booth,
            "language": self.language,
            "connected": self.connected,
            "channel": self.channel,
            "floor_under": self.floor_under,
            "speaking": self.speaking,
            "quality": (self.quality or {}).get("grade"),
        }
