"""Facts the booth logic reports to the Room, which turns them into records and notices.

Pure values: the interpretation package knows nothing of the wire or of statistics storage.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class OnAirEnded:
    """An interpreter's turn on air ended (off air, handover, output switch, left, closed)."""

    booth: str
    participant_id: str
    channel: str  # the language spoken into during the turn
    started_at: float
    ended_at: float


@dataclass(frozen=True, slots=True)
class HandoverExpired:
    """A handover request was not answered in time."""

    booth: str
    requester: str
    target: str


@dataclass(frozen=True, slots=True)
class HandoverDeclined:
    booth: str
    requester: str
    target: str
    by: str


@dataclass(frozen=True, slots=True)
class HandoverDone:
    """The microphone moved from `previous` to `current` on accept."""

    booth: str
    previous: str
    current: str


BoothEvent = OnAirEnded | HandoverExpired | HandoverDeclined | HandoverDone
