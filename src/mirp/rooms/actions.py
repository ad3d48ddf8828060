"""What each command does, and who may do it: the one place roles are checked.

Every handler checks everything first (role, target, state) and only then changes the state,
so a refused command leaves the Room as it was. Who may do what:

- everyone: subscribe, quality, leave;
- delegate, chair (the roles that hold the floor): floor_request, floor_withdraw;
- chair, organizer (presiding): floor_give, floor_take, speakers_reorder, floor_time_limit,
  participant_mute, floor_language, meeting_open, meeting_close, participant_remove,
  participant_language (anyone's who may hold the floor; delegates and chairs set their own);
- interpreter (in their own booth): on_air, console_output, cough, handover_request,
  handover_accept, handover_decline, booth_chat, slow_down.

The floor may be given to a delegate or a chair (the chair gives it to itself to speak);
organizers and observers never send audio, interpreters speak through their booth.
"""

from __future__ import annotations

from mirp.errors import Conflict, Forbidden, InvalidInput, NotFound
from mirp.interpretation.booth import Booth
from mirp.interpretation.console import check_source
from mirp.interpretation.events import (
    BoothEvent,
    HandoverDeclined,
    HandoverExpired,
    OnAirEnded,
)
from mirp.interpretation.routing import FLOOR, find_cycle, relay_choice
from mirp.rooms import commands as c
from mirp.rooms.events import (
    Audience,
    Chat,
    MeetingChanged,
    MeetingClosed,
    Notice,
    ParticipantLeft,
    RecordEvent,
    Removed,
    Subscribed,
)
from mirp.rooms.model import (
    LifecycleRecord,
    ListeningRecord,
    MeetingStatus,
    OnAirTurnRecord,
    Record,
    RemovalRecord,
    Role,
    SpeakingTurnRecord,
)
from mirp.rooms.presence import Participant, utc
from mirp.rooms.views import RoomState

PRESIDING = frozenset({Role.CHAIR, Role.ORGANIZER})
FLOOR_ROLES = frozenset({Role.CHAIR, Role.DELEGATE})


def _require(p: Participant, roles: frozenset[Role], what: str) -> None:
    if p.role not in roles:
        raise Forbidden(
            f"a {p.role} may not {what}",
            {"role": str(p.role), "allowed": sorted(str(r) for r in roles)},
        )


class RoomActions(RoomState):
    # ---------------------------------------------------------------- bookkeeping

    def _record(self, record: Record) -> None:
        self._out.append(RecordEvent(record))

    def _end_turn(self, pid: str, now: float) -> None:
        h = self.floor.take(pid)
        self._record(
            SpeakingTurnRecord(self.spec.id, pid, utc(h.since), utc(now), self.floor_language)
        )

    def _end_listening(self, p: Participant, now: float) -> None:
        if now > p.listening_since:
            self._record(
                ListeningRecord(
                    self.spec.id,
                    p.id,
                    p.channel,
                    p.floor_under or 0,
                    utc(p.listening_since),
                    utc(now),
                )
            )
        p.listening_since = now

    def _set_channel(
        self, p: Participant, channel: str, floor_under: int | None, now: float, auto: bool
    ) -> None:
        if (channel, floor_under) != (p.channel, p.floor_under):
            self._end_listening(p, now)
            p.channel, p.floor_under = channel, floor_under
            self._dirty.add(p.id)
        self._out.append(Subscribed(p.id, channel, floor_under, auto))

    def _booth_events(self, events: list[BoothEvent]) -> None:
        for e in events:
            if isinstance(e, OnAirEnded):
                self._record(
                    OnAirTurnRecord(
                        self.spec.id,
                        e.participant_id,
                        e.booth,
                        e.channel,
                        utc(e.started_at),
                        utc(e.ended_at),
                    )
                )
            elif isinstance(e, HandoverExpired):
                self._out.append(
                    Notice(
                        "handover_expired",
                        Audience.booth(e.booth),
                        sender=e.requester,
                        participant_id=e.target,
                        booth=e.booth,
                    )
                )
            elif isinstance(e, HandoverDeclined):
                self._out.append(
                    Notice(
                        "handover_declined",
                        Audience.booth(e.booth),
                        sender=e.by,
                        participant_id=e.requester if e.by == e.target else e.target,
                        booth=e.booth,
                    )
                )

    def _drop(self, pid: str, now: float, reason: str) -> None:
        """Gone for good: end their floor turn, request, on-air turn and listening span."""
        p = self.participants[pid]
        if pid in self.floor.holders:
            self._end_turn(pid, now)
        self.floor.withdraw_request(pid)
        if p.booth in self.booths:
            self._booth_events(self.booths[p.booth].remove(pid, now))
        self.consoles.pop(pid, None)
        self._end_listening(p, now)
        self._record(p.attendance("leave", now))
        del self.participants[pid]
        self._dirty.discard(pid)
        self._out.append(ParticipantLeft(pid, reason))

    def _close(self, now: float, by: str | None) -> None:
        for pid in list(self.floor.holders):
            self._end_turn(pid, now)
        self.floor.speakers.clear()
        for b in self.booths.values():
            if b.on_air is not None:
                self._booth_events(b.set_on_air(b.on_air, False, now))
            b.handover = None
        for p in self.participants.values():
            self._end_listening(p, now)
            self._record(p.attendance("leave", now))
        self.status = MeetingStatus.CLOSED
        self._record(LifecycleRecord(self.spec.id, "closed", utc(now), by))
        self._out.append(MeetingClosed(by))

    def _target(self, pid: str) -> Participant:
        t = self.participants.get(pid)
        if t is None:
            raise NotFound("no such participant in this meeting", {"participant_id": pid})
        return t

    def _booth_of(self, p: Participant, what: str) -> Booth:
        _require(p, frozenset({Role.INTERPRETER}), what)
        return self.booths[p.booth or ""]

    # ---------------------------------------------------------------- everyone

    def _subscribe(self, p: Participant, cmd: c.Subscribe, now: float) -> None:
        if cmd.channel == c.AUTO_RELAY:
            self._follow_auto_relay(p, now)
            return
        check_source(cmd.channel, self.spec.languages)
        under = cmd.floor_under
        if under is not None and under not in self.under_levels:
            raise InvalidInput(
                "floor-under level not offered in this meeting",
                {"floor_under": under, "levels": list(self.under_levels)},
            )
        if cmd.channel == FLOOR:
            under = None
        con = self.consoles.get(p.id)
        if con is not None and (cmd.channel, under) != (p.channel, p.floor_under):
            b = self.booths[con.booth]
            if b.on_air == p.id and cmd.channel != FLOOR:
                cycle = find_cycle({**self._inputs(), b.language: cmd.channel}, self.routes)
                if cycle:
                    raise Conflict(
                        "this relay would make a loop: nobody in it would hear the floor",
                        {"cycle": cycle},
                    )
            con.auto = False  # picked by hand (the same choice again keeps auto-relay)
        self._set_channel(p, cmd.channel, under, now, auto=bool(con and con.auto))

    def _follow_auto_relay(self, p: Participant, now: float) -> None:
        con = self.consoles.get(p.id)
        if con is None:
            raise InvalidInput("auto-relay is for interpreters", {"channel": c.AUTO_RELAY})
        b = self.booths[con.booth]
        booths = list(self.booths.values())
        want = relay_choice(
            b, self.floor_language, self.spec.languages, booths, self.routes, self._inputs()
        )
        con.auto = True
        self._set_channel(p, want, p.floor_under if want != FLOOR else None, now, auto=True)

    def _quality(self, p: Participant, cmd: c.Quality, now: float) -> None:
        old = (p.quality or {}).get("grade")
        p.quality = {
            "grade": cmd.grade,
            "rtt": cmd.rtt,
            "jitter": cmd.jitter,
            "loss": cmd.loss,
            "received": cmd.received,
            "at": now,
        }
        if old != cmd.grade:  # numbers move all the time: tell others when the grade does
            self._dirty.add(p.id)

    def _leave(self, p: Participant, cmd: c.Leave, now: float) -> None:
        self._drop(p.id, now, "left")

    # ---------------------------------------------------------------- floor

    def _floor_request(self, p: Participant, cmd: c.FloorRequest, now: float) -> None:
        _require(p, FLOOR_ROLES, "request the floor")
        self.floor.request(p.id, cmd.kind, now)

    def _floor_withdraw(self, p: Participant, cmd: c.FloorWithdraw, now: float) -> None:
        _require(p, FLOOR_ROLES, "withdraw from the floor")
        if p.id in self.floor.holders:
            self._end_turn(p.id, now)
        elif not self.floor.withdraw_request(p.id):
            raise Conflict("you neither hold nor requested the floor")

    def _floor_give(self, p: Participant, cmd: c.FloorGive, now: float) -> None:
        _require(p, PRESIDING, "give the floor")
        t = self._target(cmd.participant_id)
        if t.role not in FLOOR_ROLES:
            raise InvalidInput(
                f"a {t.role} cannot hold the floor", {"participant_id": t.id, "role": str(t.role)}
            )
        if not t.connected:
            raise Conflict("this participant is not connected", {"participant_id": t.id})
        self.floor.give(t.id, now, timed=t.role is Role.DELEGATE)

    def _floor_take(self, p: Participant, cmd: c.FloorTake, now: float) -> None:
        _require(p, PRESIDING, "take the floor back")
        self._end_turn(cmd.participant_id, now)

    def _speakers_reorder(self, p: Participant, cmd: c.SpeakersReorder, now: float) -> None:
        _require(p, PRESIDING, "reorder the speakers list")
        self.floor.reorder(cmd.order)

    def _floor_time_limit(self, p: Participant, cmd: c.FloorTimeLimit, now: float) -> None:
        _require(p, PRESIDING, "set the speaking time")
        self.floor.set_time_limit(cmd.seconds, now)

    def _participant_mute(self, p: Participant, cmd: c.ParticipantMute, now: float) -> None:
        _require(p, PRESIDING, "mute a participant")
        self.floor.mute(cmd.participant_id, cmd.muted)

    def _floor_language(self, p: Participant, cmd: c.FloorLanguage, now: float) -> None:
        _require(p, PRESIDING, "set the floor language")
        if cmd.language is not None and cmd.language not in self.spec.languages:
            raise InvalidInput(
                "not a language of this meeting",
                {"language": cmd.language, "languages": list(self.spec.languages)},
            )
        self.floor.language_set = cmd.language

    def _participant_language(
        self, p: Participant, cmd: c.ParticipantLanguage, now: float
    ) -> None:
        if cmd.participant_id is None or cmd.participant_id == p.id:
            _require(p, FLOOR_ROLES, "set the language you speak on the floor")
            t = p
        else:
            _require(p, PRESIDING, "set another participant's language")
            t = self._target(cmd.participant_id)
            if t.role not in FLOOR_ROLES:
                raise InvalidInput(
                    f"a {t.role} does not speak on the floor",
                    {"participant_id": t.id, "role": str(t.role)},
                )
        if cmd.language is not None and cmd.language not in self.spec.languages:
            raise InvalidInput(
                "not a language of this meeting",
                {"language": cmd.language, "languages": list(self.spec.languages)},
            )
        t.spoken = cmd.language
        self._dirty.add(t.id)  # the floor language follows in _finish if t holds the floor

    # ---------------------------------------------------------------- meeting

    def _meeting_open(self, p: Participant, cmd: c.MeetingOpen, now: float) -> None:
        _require(p, PRESIDING, "open the meeting")
        if self.status is not MeetingStatus.SCHEDULED:
            raise Conflict("the meeting is already open", {"status": str(self.status)})
        self.status = MeetingStatus.OPEN
        self._record(LifecycleRecord(self.spec.id, "opened", utc(now), p.id))
        self._out.append(MeetingChanged(str(self.status)))

    def _meeting_close(self, p: Participant, cmd: c.MeetingClose, now: float) -> None:
        _require(p, PRESIDING, "close the meeting")
        self._close(now, p.id)

    def _participant_remove(self, p: Participant, cmd: c.ParticipantRemove, now: float) -> None:
        _require(p, PRESIDING, "remove a participant")
        t = self._target(cmd.participant_id)
        if t.id == p.id:
            raise InvalidInput("you cannot remove yourself: leave instead")
        if t.role in PRESIDING:
            raise Forbidden("a chair or organizer cannot be removed", {"participant_id": t.id})
        self.removed.add(t.id)
        self._out.append(Removed(t.id, p.id))
        self._record(RemovalRecord(self.spec.id, t.id, p.id, utc(now)))
        self._drop(t.id, now, "removed")

    # ---------------------------------------------------------------- booths

    def _on_air(self, p: Participant, cmd: c.OnAir, now: float) -> None:
        self._booth_events(self._booth_of(p, "go on air").set_on_air(p.id, cmd.on, now))

    def _console_output(self, p: Participant, cmd: c.ConsoleOutput, now: float) -> None:
        b = self._booth_of(p, "choose a booth output")
        self._booth_events(b.set_output(p.id, cmd.channel, now))

    def _cough(self, p: Participant, cmd: c.Cough, now: float) -> None:
        self._booth_of(p, "cough").set_cough(p.id, cmd.on)

    def _handover_request(self, p: Participant, cmd: c.HandoverRequest, now: float) -> None:
        b = self._booth_of(p, "ask for a handover")
        present = {m for m in b.members if self.participants[m].connected}
        b.request_handover(p.id, cmd.to, now, self.limits.handover_timeout_s, present)

    def _handover_accept(self, p: Participant, cmd: c.HandoverAccept, now: float) -> None:
        self._booth_events(self._booth_of(p, "accept a handover").accept_handover(p.id, now))

    def _handover_decline(self, p: Participant, cmd: c.HandoverDecline, now: float) -> None:
        self._booth_events(self._booth_of(p, "decline a handover").decline_handover(p.id))

    def _booth_chat(self, p: Participant, cmd: c.BoothChat, now: float) -> None:
        b = self._booth_of(p, "use the booth chat")
        chat = Chat(b.language, p.id, cmd.text, now)
        self.chat[b.language].append(chat.message())
        self._out.append(chat)

    def _slow_down(self, p: Participant, cmd: c.SlowDown, now: float) -> None:
        b = self._booth_of(p, "ask the speaker to slow down")
        self._out.append(
            Notice(
                "slow_down",
                Audience.presiding(*self.floor.holders),
                sender=p.id,
                booth=b.language,
            )
        )
