"""How long a Room waits, and how many it lets in: the numbers the registry takes from config."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RoomLimits:
    """grace_s: how long a lost connection keeps its place (floor, on air, channel).
    handover_timeout_s: how long a handover request waits for an answer.
    capacity: None uses MeetingSpec.capacity."""

    grace_s: float = 30.0
    handover_timeout_s: float = 20.0
    capacity: int | None = None
