"""The Room's interpretation part: booths, consoles, booth chat, and the routes they make.

The rules of one booth (who is on air, handovers, cough) are in interpretation/booth.py and the
routing rules (auto-floor, relay chains, cycles) in interpretation/routing.py, both pure and
free of Meeting or Role. This part applies them to the Room's participants: it turns booth
events into records and notices, keeps each interpreter's console (what they hear, auto-relay)
and settles auto-relay and relay loops after every change. Roles are checked before a command
gets here (rooms/actions.py).
"""

from __future__ import annotations

from collections import deque
from typing import Any

from mirp.errors import Conflict
from mirp.interpretation.booth import Booth
from mirp.interpretation.console import Console
from mirp.interpretation.events import (
    BoothEvent,
    HandoverDeclined,
    HandoverExpired,
    OnAirEnded,
)
from mirp.interpretation.routing import FLOOR, Route, compute_routes, find_cycle, relay_choice
from mirp.rooms.changes import Changes
from mirp.rooms.events import Audience, Chat, Notice
from mirp.rooms.mixing import Subscription
from mirp.rooms.model import MeetingSpec, OnAirTurnRecord, utc
from mirp.rooms.presence import Participant, Roster

CHAT_HISTORY = 50  # booth chat messages kept for an interpreter who (re)joins


class Interpretation:
    def __init__(self, spec: MeetingSpec, roster: Roster, changes: Changes) -> None:
        self.meeting_id = spec.id
        self.languages = spec.languages
        self.booths: dict[str, Booth] = {b.language: Booth(b) for b in spec.booths}
        self.consoles: dict[str, Console] = {}
        self.chat: dict[str, deque[dict[str, Any]]] = {
            b.language: deque(maxlen=CHAT_HISTORY) for b in spec.booths
        }
        self.routes: dict[str, Route] = {}  # what each channel carries now
        self._roster = roster
        self._changes = changes

    # ---------------------------------------------------------------- members

    def add(self, p: Participant) -> None:
        if p.booth is not None:
            self.booths[p.booth].add(p.id)
            self.consoles[p.id] = Console(p.id, p.booth)

    def remove(self, p: Participant, now: float) -> None:
        """Gone for good: their on-air turn ends, their console goes."""
        if p.booth in self.booths:
            self.absorb(self.booths[p.booth].remove(p.id, now))
        self.consoles.pop(p.id, None)

    def lost(self, p: Participant) -> None:
        """A lost console must not stay muted."""
        if p.booth is not None:
            self.booths[p.booth].set_cough(p.id, False)

    def booth_of(self, p: Participant) -> Booth:
        return self.booths[p.booth or ""]

    def is_auto(self, participant_id: str) -> bool:
        con = self.consoles.get(participant_id)
        return bool(con and con.auto)

    # ---------------------------------------------------------------- routes and relays

    def inputs(self) -> dict[str, str]:
        """booth -> the channel its on-air interpreter hears (only booths on air, connected)."""
        out: dict[str, str] = {}
        for b in self.booths.values():
            p = self._roster.get(b.on_air or "")
            if p is not None and p.connected:
                out[b.language] = p.channel
        return out

    def relay_for(self, b: Booth, floor_language: str | None) -> str:
        """What auto-relay would have this booth hear now."""
        booths = list(self.booths.values())
        return relay_choice(b, floor_language, self.languages, booths, self.routes, self.inputs())

    def refresh_routes(self, floor_language: str | None) -> None:
        connected = self._roster.connected_ids()
        booths = list(self.booths.values())
        self.routes = compute_routes(self.languages, booths, floor_language, connected)

    def new_floor_language(self) -> None:
        """A new language is a new situation: every console follows auto-relay again."""
        for con in self.consoles.values():
            con.auto = True

    def auto_relay(self, floor_language: str | None, now: float) -> None:
        for b in self.booths.values():
            auto = [self.consoles[m] for m in b.members if self.consoles[m].auto]
            if not auto:
                continue
            want = self.relay_for(b, floor_language)
            for con in auto:
                p = self._roster.participants[con.participant_id]
                if p.channel != want:
                    self._hear(p, want, now)

    def break_cycles(self, floor_language: str | None, now: float) -> None:
        """A relay loop made by on-air changes: the booth in it that understands the floor
        language (else the first) goes back to the floor."""
        while (cycle := find_cycle(self.inputs(), self.routes)) is not None:
            pick = next((x for x in cycle if self.booths[x].understands(floor_language)), cycle[0])
            p = self._roster.participants[self.booths[pick].on_air or ""]
            self.consoles[p.id].auto = True
            self._hear(p, FLOOR, now)

    def _hear(self, p: Participant, channel: str, now: float) -> None:
        """Auto-relay's choice for an interpreter (the floor-under level kept off the floor)."""
        under = p.floor_under if channel != FLOOR else None
        self._roster.subscribe(p, Subscription(channel, under), now, auto=True)

    # ---------------------------------------------------------------- an interpreter's choice

    def choose(self, p: Participant, sub: Subscription) -> bool:
        """An interpreter picks what they hear by hand (the same choice again keeps auto-relay):
        refused (Conflict) when it would close a relay loop. Whether auto-relay is still on."""
        con = self.consoles[p.id]
        if sub != p.subscription:
            b = self.booths[con.booth]
            if b.on_air == p.id and sub.channel != FLOOR:
                cycle = find_cycle({**self.inputs(), b.language: sub.channel}, self.routes)
                if cycle:
                    raise Conflict(
                        "this relay would make a loop: nobody in it would hear the floor",
                        {"cycle": cycle},
                    )
            con.auto = False
        return con.auto

    def follow_auto_relay(self, p: Participant, floor_language: str | None, now: float) -> None:
        con = self.consoles[p.id]
        want = self.relay_for(self.booths[con.booth], floor_language)
        con.auto = True
        self._hear(p, want, now)

    # ---------------------------------------------------------------- booth commands

    def chat_message(self, p: Participant, text: str, now: float) -> None:
        b = self.booth_of(p)
        chat = Chat(b.language, p.id, text, now)
        self.chat[b.language].append(chat.message())
        self._changes.emit(chat)

    def request_handover(
        self, p: Participant, to: str | None, now: float, timeout_s: float
    ) -> None:
        b = self.booth_of(p)
        present = {m for m in b.members if self._roster.participants[m].connected}
        b.request_handover(p.id, to, now, timeout_s, present)

    # ---------------------------------------------------------------- time and closing

    def expire(self, now: float) -> None:
        for b in self.booths.values():
            self.absorb(b.expire(now))

    def next_deadline(self) -> float | None:
        return min(
            (t for b in self.booths.values() if (t := b.deadline()) is not None), default=None
        )

    def close(self, now: float) -> None:
        """The meeting closes: on-air turns end (recorded), handovers are dropped."""
        for b in self.booths.values():
            if b.on_air is not None:
                self.absorb(b.set_on_air(b.on_air, False, now))
            b.handover = None

    def absorb(self, events: list[BoothEvent]) -> None:
        """A booth's events -> the Room's records and notices."""
        for e in events:
            if isinstance(e, OnAirEnded):
                self._changes.record(
                    OnAirTurnRecord(
                        self.meeting_id,
                        e.participant_id,
                        e.booth,
                        e.channel,
                        utc(e.started_at),
                        utc(e.ended_at),
                    )
                )
            elif isinstance(e, HandoverExpired):
                self._changes.emit(
                    Notice(
                        "handover_expired",
                        Audience.booth(e.booth),
                        sender=e.requester,
                        participant_id=e.target,
                        booth=e.booth,
                    )
                )
            elif isinstance(e, HandoverDeclined):
                self._changes.emit(
                    Notice(
                        "handover_declined",
                        Audience.booth(e.booth),
                        sender=e.by,
                        participant_id=e.requester if e.by == e.target else e.target,
                        booth=e.booth,
                    )
                )
