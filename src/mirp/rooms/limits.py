"""How long a Room waits, and how many it lets in: the numbers the registry takes from config."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RoomLimits:
    """grace_s: how long a lost connection keeps its place (floor, on air, channel).
    handover_timeout_s: how long a handover request waits for an answer.
    capacity: None uses MeetingSpec.capacity.
    quality_sample_s: at most one quality record per participant this often (and one at each
    grade change): clients report every few seconds, the statistics need minutes."""

    grace_s: float = 30.0
    handover_timeout_s: float = 20.0
    capacity: int | None = None
    quality_sample_s: float = 60.0
