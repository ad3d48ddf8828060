"""The Room: the live state of one Meeting as a pure state machine (aioquic style).

It is given the time (`now`, epoch seconds) and never touches a socket, a task or a clock; the
runtime (rooms/runtime.py) owns the asyncio side. Every method returns the events it caused
(rooms/events.py) or raises a mirp.errors error with the state unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mirp.media.plan import FeedKey, MixPlan
from mirp.rooms.commands import Command
from mirp.rooms.events import Audience, Event
from mirp.rooms.model import JoinGrant, MeetingSpec


@dataclass(frozen=True, slots=True)
class RoomLimits:
    """grace_s: how long a lost connection keeps its place (floor, on air, channel).
    handover_timeout_s: how long a handover request waits for an answer.
    capacity: None uses MeetingSpec.capacity."""

    grace_s: float = 30.0
    handover_timeout_s: float = 20.0
    capacity: int | None = None


class Room:
    def __init__(self, spec: MeetingSpec, limits: RoomLimits | None = None) -> None:
        self.spec = spec
        self.limits = limits or RoomLimits()

    def join(self, grant: JoinGrant, now: float) -> list[Event]:
        """A Session of this participant starts (first join or reconnect). Raises Forbidden
        (removed, closed meeting, not yet open for non-staff, wrong meeting), Conflict (full)."""
        raise NotImplementedError

    def disconnect(self, participant_id: str, now: float) -> list[Event]:
        """The connection was lost: role, channel, booth and floor are kept for grace_s."""
        raise NotImplementedError

    def leave(self, participant_id: str, now: float) -> list[Event]:
        """Gone for good (idempotent)."""
        raise NotImplementedError

    def handle(self, participant_id: str, command: Command, now: float) -> list[Event]:
        """The one place roles are checked. Raises Forbidden / Conflict / InvalidInput /
        NotFound on refusal, with the state unchanged."""
        raise NotImplementedError

    def tick(self, now: float) -> list[Event]:
        """Timers: speaking time, handover expiry, grace expiry."""
        raise NotImplementedError

    def next_deadline(self) -> float | None:
        raise NotImplementedError

    def snapshot(self, participant_id: str) -> dict[str, Any]:
        """The full state the `welcome` message carries for this participant."""
        raise NotImplementedError

    def mix_plan(self) -> MixPlan:
        raise NotImplementedError

    def feed_for(self, participant_id: str) -> FeedKey | None:
        """What this participant hears now (None: not connected / nothing)."""
        raise NotImplementedError

    def recipients(self, audience: Audience) -> list[str]:
        """The connected participants an event with this audience goes to."""
        raise NotImplementedError

    def overview(self) -> dict[str, Any]:
        raise NotImplementedError

    @property
    def closed(self) -> bool:
        raise NotImplementedError
