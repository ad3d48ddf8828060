"""The Room: the live state of one Meeting as a pure state machine (aioquic style).

It is given the time (`now`, epoch seconds) and never touches a socket, a task or a clock; the
runtime (rooms/runtime.py) owns the asyncio side. Every public method returns the events it
caused (rooms/events.py) or raises a mirp.errors error with the state unchanged: handlers
(rooms/actions.py) check everything before they change anything.

After every change `_finish` settles what follows from it (the floor language, auto-relay,
relay cycles, routes) and emits one state message per thing that changed (floor, booth,
channels, participant) by comparing with what was last sent, so no handler can forget to tell
the clients.
"""

from __future__ import annotations

from collections.abc import Mapping

from mirp.errors import ClosedMeeting, Forbidden, MeetingFull, NotFound
from mirp.interpretation.console import Console
from mirp.interpretation.routing import FLOOR, compute_routes, find_cycle, relay_choice
from mirp.media.plan import FeedKey, MixPlan
from mirp.rooms import commands as c
from mirp.rooms import mixing
from mirp.rooms.actions import RoomActions
from mirp.rooms.events import (
    Audience,
    BoothChanged,
    ChannelsChanged,
    Event,
    FloorChanged,
    MeetingChanged,
    Notice,
    ParticipantJoined,
    ParticipantUpdated,
    Subscribed,
)
from mirp.rooms.model import (
    STAFF_ROLES,
    JoinGrant,
    LifecycleRecord,
    MeetingSpec,
    MeetingStatus,
    Role,
)
from mirp.rooms.presence import Participant, RoomLimits, utc

__all__ = ["Room", "RoomLimits"]

SPEAKING_DBFS = -45.0  # a live microphone louder than this counts as speaking


class Room(RoomActions):
    def __init__(self, spec: MeetingSpec, limits: RoomLimits | None = None) -> None:
        super().__init__(spec, limits)
        self.revoked_invitations: set[str] = set()  # revoked while the room is open
        self._finish(0.0)  # routes and the baseline of what clients are told

    # ================================================================ sessions

    def join(self, grant: JoinGrant, now: float) -> list[Event]:
        """A Session of this participant starts: a first join, or a reconnect (within the grace
        period, or replacing a live session) that keeps the participant's place. Raises
        Forbidden (wrong meeting, removed, not open yet for non-staff, no such booth),
        ClosedMeeting or MeetingFull (worth retrying later)."""
        pid = grant.participant_id
        if grant.meeting_id != self.spec.id:
            raise Forbidden("this token is for another meeting")
        if self.closed:
            raise ClosedMeeting("the meeting is closed", {"reason": "closed"})
        if pid in self.removed:
            raise Forbidden("you were removed from this meeting", {"reason": "removed"})
        if grant.invitation_id is not None and grant.invitation_id in self.revoked_invitations:
            raise Forbidden("this invitation was revoked", {"reason": "revoked"})
        p = self.participants.get(pid)
        if p is not None:
            p.connected, p.lost_at = True, None
            self._dirty.add(pid)
            con = self.consoles.get(pid)
            self._out.append(Subscribed(pid, p.channel, p.floor_under, bool(con and con.auto)))
            return self._finish(now)
        if self.status is MeetingStatus.SCHEDULED and grant.role not in STAFF_ROLES:
            raise Forbidden("the meeting is not open yet", {"reason": "not_open"})
        if len(self.participants) >= self.capacity:
            raise MeetingFull("the meeting is full", {"capacity": self.capacity})
        if grant.role is Role.INTERPRETER and grant.booth not in self.booths:
            raise Forbidden("no such booth in this meeting", {"booth": grant.booth})
        p = Participant(grant, joined_at=now, listening_since=now)
        self.participants[pid] = p
        if p.booth is not None:
            self.booths[p.booth].add(pid)
            self.consoles[pid] = Console(pid, p.booth)
        self._record(p.attendance("join", now))
        self._out.append(ParticipantJoined(p.view()))
        self._out.append(Subscribed(pid, p.channel, p.floor_under, p.booth is not None))
        return self._finish(now)

    def disconnect(self, participant_id: str, now: float) -> list[Event]:
        """The connection was lost: role, channel, booth, on-air state and floor are kept for
        grace_s (tick() drops the participant after that). Idempotent."""
        p = self.participants.get(participant_id)
        if p is None or not p.connected or self.closed:
            return []
        p.connected, p.lost_at, p.speaking = False, now, False
        if p.booth is not None:
            self.booths[p.booth].set_cough(p.id, False)  # a lost console must not stay muted
        self._dirty.add(p.id)
        return self._finish(now)

    def leave(self, participant_id: str, now: float) -> list[Event]:
        """Gone for good. Idempotent."""
        if participant_id not in self.participants:
            return []
        if self.closed:  # everything was recorded at close: just forget them
            del self.participants[participant_id]
            return []
        self._drop(participant_id, now, "left")
        return self._finish(now)

    # ================================================================ commands and time

    def handle(self, participant_id: str, command: c.Command, now: float) -> list[Event]:
        """The one place roles are checked (rooms/actions.py). Raises Forbidden / Conflict /
        InvalidInput / NotFound on refusal, with the state unchanged."""
        if self.closed:
            raise Forbidden("the meeting is closed", {"reason": "closed"})
        p = self.participants.get(participant_id)
        if p is None:
            raise NotFound("not in this meeting", {"participant_id": participant_id})
        if c.COMMAND_TYPES.get(command.type) is not type(command):
            raise NotFound(f"no such command: {command.type!r}")
        getattr(self, "_" + command.type)(p, command, now)
        return self._finish(now)

    def tick(self, now: float) -> list[Event]:
        """Timers: grace expiry, speaking time, handover expiry."""
        if self.closed:
            return []
        for p in list(self.participants.values()):
            if not p.connected and p.lost_at is not None and now >= p.lost_at + self.limits.grace_s:
                self._drop(p.id, now, "timeout")
        late = self.floor.time_up(now)
        if late is not None:
            self._out.append(Notice("time_up", Audience.presiding(late), participant_id=late))
        for b in self.booths.values():
            self._booth_events(b.expire(now))
        return self._finish(now)

    def next_deadline(self) -> float | None:
        if self.closed:
            return None
        times = [
            p.lost_at + self.limits.grace_s
            for p in self.participants.values()
            if not p.connected and p.lost_at is not None
        ]
        times += [t for t in (b.deadline() for b in self.booths.values()) if t is not None]
        if (t := self.floor.next_deadline()) is not None:
            times.append(t)
        return min(times, default=None)

    def levels(self, levels: Mapping[str, float], now: float) -> list[Event]:
        """Microphone levels in dBFS (engine.on_levels): who is speaking. Only a microphone the
        plan uses can count as speaking."""
        live = {sid for sid, _ in self.floor_sources} | {
            r.interpreter for r in self.routes.values() if r.live and r.interpreter
        }
        for pid, db in levels.items():
            p = self.participants.get(pid)
            if p is None:
                continue
            speaking = pid in live and db > SPEAKING_DBFS
            if speaking != p.speaking:
                p.speaking = speaking
                self._dirty.add(pid)
        return self._finish(now)

    # ================================================================ media and audiences

    def mix_plan(self) -> MixPlan:
        if self.closed:
            return MixPlan.of()
        return mixing.build_plan(self._listenings(), self.routes, self.floor_sources)

    def feed_for(self, participant_id: str) -> FeedKey | None:
        """What this participant hears now (None: not connected, or the meeting is closed)."""
        p = self.participants.get(participant_id)
        if p is None or not p.connected or self.closed:
            return None
        return mixing.key_for(p.listening(), self.routes, self.floor_sources)

    def feeds(self) -> dict[str, FeedKey]:
        """feed_for() of every connected participant at once."""
        if self.closed:
            return {}
        return {
            lst.participant_id: mixing.key_for(lst, self.routes, self.floor_sources)
            for lst in self._listenings()
        }

    def _listenings(self) -> list[mixing.Listening]:
        return [p.listening() for p in self.participants.values() if p.connected]

    def recipients(self, audience: Audience) -> list[str]:
        """The connected participants an event with this audience goes to."""
        out = [
            p.id
            for p in self.participants.values()
            if p.connected and audience.includes(p.id, p.role, p.booth)
        ]
        # a removed participant still gets the message that tells them so
        out += [pid for pid in audience.ids if pid in self.removed and pid not in self.participants]
        return out

    # ================================================================ settling

    def _effective_language(self) -> str | None:
        if self.floor.language_set is not None:
            return self.floor.language_set
        for pid in reversed(self.floor.holders):
            p = self.participants.get(pid)
            if p is not None and p.language in self.spec.languages:
                return p.language
        return None

    def _refresh(self) -> None:
        connected = {p.id for p in self.participants.values() if p.connected}
        booths = list(self.booths.values())
        self.routes = compute_routes(self.spec.languages, booths, self.floor_language, connected)
        self.floor_sources = tuple(
            (h.participant_id, 1.0)
            for h in self.floor.holders.values()
            if not h.muted and h.participant_id in connected
        )

    def _auto_relay(self, now: float) -> None:
        booths = list(self.booths.values())
        for b in booths:
            auto = [self.consoles[m] for m in b.members if self.consoles[m].auto]
            if not auto:
                continue
            want = relay_choice(
                b, self.floor_language, self.spec.languages, booths, self.routes, self._inputs()
            )
            for con in auto:
                p = self.participants[con.participant_id]
                if p.channel != want:
                    self._set_channel(p, want, p.floor_under if want != FLOOR else None, now, True)

    def _break_cycles(self, now: float) -> None:
        """A relay loop made by on-air changes: the booth in it that understands the floor
        language (else the first) goes back to the floor."""
        while (cycle := find_cycle(self._inputs(), self.routes)) is not None:
            pick = next(
                (x for x in cycle if self.booths[x].understands(self.floor_language)), cycle[0]
            )
            p = self.participants[self.booths[pick].on_air or ""]
            self.consoles[p.id].auto = True
            self._set_channel(p, FLOOR, None, now, auto=True)

    def _finish(self, now: float) -> list[Event]:
        self._last_now = now
        lang = self._effective_language()
        if lang != self.floor_language:
            self.floor_language = lang
            for con in self.consoles.values():  # a new floor language: auto-relay for all
                con.auto = True
        self._refresh()
        if self.closed:
            out, self._out = self._out, []
            self._dirty.clear()
            return out
        self._auto_relay(now)
        self._break_cycles(now)
        out, self._out = self._out, []
        if (key := self._floor_key()) != self._sent_floor:
            self._sent_floor = key
            out.append(FloorChanged(self.floor.view(now, self.floor_language)))
        for lang_, b in self.booths.items():
            if (bkey := self._booth_key(b, now)) != self._sent_booths.get(lang_):
                self._sent_booths[lang_] = bkey
                out.append(BoothChanged(self._booth_view(b, now)))
        if (ch := self._channels_view()) != self._sent_channels:
            self._sent_channels = ch
            out.append(ChannelsChanged(ch))
        for pid in sorted(self._dirty):
            if pid in self.participants:
                out.append(ParticipantUpdated(self.participants[pid].view()))
        self._dirty.clear()
        return out

    # ================================================================ decisions made outside

    def follow_status(
        self, status: MeetingStatus, now: float, by: str | None = None
    ) -> list[Event]:
        """The organizer changed the meeting's status by REST (already committed): the room
        follows as if its chair had done it. `closed` is `meeting_close` (the same events, the
        same records, then 4410 for everyone); `open` is `meeting_open`; `scheduled` refuses
        newcomers who are not staff again. Idempotent; a closed room stays closed."""
        if self.closed or status is self.status:
            return []
        if status is MeetingStatus.CLOSED:
            self._close(now, by)
        else:
            self.status = status
            if status is MeetingStatus.OPEN:
                self._record(LifecycleRecord(self.spec.id, "opened", utc(now), by))
            self._out.append(MeetingChanged(str(status)))
        return self._finish(now)

    def revoke_invitation(self, invitation_id: str) -> list[str]:
        """An invitation was revoked (already committed): nobody joins through it any more,
        even with a grant admitted just before. Its participants here, whom the caller makes
        leave (`leave`) after closing their Sessions."""
        self.revoked_invitations.add(invitation_id)
        return [pid for pid, p in self.participants.items()
                if p.grant.invitation_id == invitation_id]
