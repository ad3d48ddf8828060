"""The Room's state and how it is shown: the welcome snapshot, the state messages, the overview.

The JSON shapes here are the ones web/js/live.js reads (documented in docs/rooms.md). The
`*_key` methods are what a state message shows minus the ticking clocks, so the Room sends a
message when something changed, not every time a countdown moves.
"""

from __future__ import annotations

from collections import Counter, deque
from typing import Any

from mirp.interpretation.booth import Booth
from mirp.interpretation.console import Console
from mirp.interpretation.routing import FLOOR, Route, relay_choice
from mirp.media.plan import Ingredient
from mirp.rooms.events import Event
from mirp.rooms.floor import Floor
from mirp.rooms.model import MeetingSpec, MeetingStatus, Role
from mirp.rooms.presence import Participant, RoomLimits

CHAT_HISTORY = 50


class RoomState:
    """Everything a Room holds. Only the Room's own methods change it (it is an actor's state)."""

    def __init__(self, spec: MeetingSpec, limits: RoomLimits | None = None) -> None:
        self.spec = spec
        self.limits = limits or RoomLimits()
        self.capacity = min(spec.capacity, self.limits.capacity or spec.capacity)
        self.status = spec.status
        self.participants: dict[str, Participant] = {}
        self.removed: set[str] = set(spec.removed_participants)
        self.booths: dict[str, Booth] = {b.language: Booth(b) for b in spec.booths}
        self.consoles: dict[str, Console] = {}
        self.floor = Floor()
        # the last booth chat messages, for an interpreter who (re)joins
        self.chat: dict[str, deque[dict[str, Any]]] = {
            b.language: deque(maxlen=CHAT_HISTORY) for b in spec.booths
        }
        self.floor_language: str | None = None  # effective: set by the chair, else auto
        self.routes: dict[str, Route] = {}
        self.floor_sources: tuple[Ingredient, ...] = ()
        self.under_levels = tuple(lv for lv in spec.under_levels_db if lv < 0)
        self._out: list[Event] = []  # events of the change in progress
        self._dirty: set[str] = set()  # participants whose presence changed
        self._sent_floor: Any = None
        self._sent_booths: dict[str, Any] = {}
        self._sent_channels: Any = None
        self._last_now = 0.0  # the time of the last change (snapshots are asked without one)

    @property
    def closed(self) -> bool:
        return self.status is MeetingStatus.CLOSED

    def _inputs(self) -> dict[str, str]:
        """booth -> the channel its on-air interpreter hears (only booths on air, connected)."""
        out: dict[str, str] = {}
        for b in self.booths.values():
            p = self.participants.get(b.on_air or "")
            if p is not None and p.connected:
                out[b.language] = p.channel
        return out

    # ---------------------------------------------------------------- pieces

    def _meeting_view(self) -> dict[str, Any]:
        s = self.spec
        return {
            "id": s.id,
            "title": s.title,
            "languages": list(s.languages),
            "booths": [
                {
                    "language": b.language,
                    "retour": b.retour,
                    "understands": sorted(b.understands),
                    "auto_floor": b.auto_floor,
                }
                for b in s.booths
            ],
            "under_levels_db": list(self.under_levels),
            "status": str(self.status),
            "capacity": self.capacity,
        }

    def _floor_key(self) -> Any:
        return (self.floor.state_key(), self.floor_language)

    def _booth_view(self, b: Booth, now: float) -> dict[str, Any]:
        inputs = self._inputs()
        heard = inputs.get(b.language)
        auto = relay_choice(
            b,
            self.floor_language,
            self.spec.languages,
            list(self.booths.values()),
            self.routes,
            inputs,
        )
        route = self.routes.get(b.output)
        consoles = {}
        for m in b.members:
            p = self.participants.get(m)
            con = self.consoles.get(m)
            if p is not None and con is not None:
                consoles[m] = con.view(p.channel, p.connected)
        return {
            "language": b.language,
            "retour": b.spec.retour,
            "outputs": list(b.outputs),
            "channel": b.output,
            "on_air": b.on_air,
            "cough": b.coughing,
            "live": bool(route is not None and route.booth == b.language and route.live),
            "input": heard,
            "relay": heard if heard not in (None, FLOOR) else None,
            "relay_auto": auto if auto != FLOOR else None,
            "understands_floor": b.understands(self.floor_language),
            "handover": b.handover_view(now),
            "members": list(b.members),
            "consoles": consoles,
        }

    def _booth_key(self, b: Booth, now: float) -> Any:
        v = self._booth_view(b, now)
        v["handover"] = b.handover
        return repr(v)

    def _channels_view(self) -> dict[str, Any]:
        return {ch: r.view() for ch, r in self.routes.items()}

    # ---------------------------------------------------------------- the contract's views

    def snapshot(self, participant_id: str) -> dict[str, Any]:
        """The full state the `welcome` message carries for this participant."""
        now = self._last_now
        me = self.participants.get(participant_id)
        con = self.consoles.get(participant_id)
        return {
            "participant_id": participant_id,
            "meeting": self._meeting_view(),
            "participants": [p.view() for p in self.participants.values()],
            "floor": self.floor.view(now, self.floor_language),
            "booths": [self._booth_view(b, now) for b in self.booths.values()],
            "channels": self._channels_view(),
            "me": me.view() if me else None,
            "subscription": {
                "channel": me.channel if me else FLOOR,
                "floor_under": me.floor_under if me else None,
                "auto": bool(con and con.auto),
            },
            "chat": list(self.chat[con.booth]) if con is not None else [],
        }

    def overview(self) -> dict[str, Any]:
        """The organizer's live page: who is connected, channels with listener counts (the
        channel as heard: an interpreter's relay counts for that channel), booths on air."""
        connected = [p for p in self.participants.values() if p.connected]
        listeners = Counter(p.channel for p in connected)
        return {
            "meeting_id": self.spec.id,
            "status": str(self.status),
            "connected": len(connected),
            "present": len(self.participants),
            "capacity": self.capacity,
            "by_role": dict(Counter(str(p.role) for p in connected)),
            "people": [
                {**p.view(), "quality_detail": p.quality} for p in self.participants.values()
            ],
            "channels": {
                ch: {**r.view(), "listeners": listeners.get(ch, 0)} for ch, r in self.routes.items()
            },
            "booths": [
                {
                    "language": b.language,
                    "on_air": b.on_air,
                    "on_air_name": (
                        self.participants[b.on_air].grant.name
                        if b.on_air in self.participants
                        else None
                    ),
                    "channel": b.output,
                    "cough": b.coughing,
                    "interpreters": len(b.members),
                }
                for b in self.booths.values()
            ],
            "floor": {
                "holders": list(self.floor.holders),
                "language": self.floor_language,
                "speakers": len(self.floor.speakers),
            },
        }

    def _presiding(self, p: Participant) -> bool:
        return p.role in (Role.CHAIR, Role.ORGANIZER)
