"""The Room: the live state of one Meeting as a pure state machine (aioquic style).

It is given the time (`now`, epoch seconds) and never touches a socket, a task or a clock; the
runtime (rooms/runtime.py) owns the asyncio side. Every public method returns the events it
caused (rooms/events.py) or raises a mirp.errors error with the state unchanged.

The Room is made of parts, each with one concern, which it owns and wires together:
- `roster` (rooms/presence.py): who is here, who was removed, what each one listens to;
- `floor` (rooms/floor.py): the speakers list, the holders, the speaking-time countdown;
- `interpretation` (rooms/booths.py): booths, consoles, booth chat and the routes they make;
- `told` (rooms/views.py): what the clients were last told, to send only what changed;
- `changes` (rooms/changes.py): the events of the change in progress, shared by the parts.
Commands go through rooms/actions.py (`dispatch`: who may, then which part). After every change
`_finish` settles what follows from it (the floor language, auto-relay, relay loops, routes)
and emits one state message per thing that changed, so no handler can forget to tell clients.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from mirp.errors import ClosedMeeting, Conflict, Forbidden, NotFound
from mirp.interpretation.booth import Booth
from mirp.interpretation.console import Console
from mirp.interpretation.routing import FLOOR, Route
from mirp.media.plan import FeedKey, Ingredient, MixPlan
from mirp.rooms import captioning, mixing, video_plan, views
from mirp.rooms import commands as c
from mirp.rooms.actions import dispatch
from mirp.rooms.booths import Interpretation
from mirp.rooms.changes import Changes
from mirp.rooms.events import (
    Audience,
    Caption,
    Event,
    MeetingChanged,
    MeetingClosed,
    Notice,
    ParticipantJoined,
    ParticipantLeft,
    ParticipantUpdated,
    RecordingChanged,
)
from mirp.rooms.floor import Floor
from mirp.rooms.limits import RoomLimits
from mirp.rooms.model import (
    STAFF_ROLES,
    JoinGrant,
    LifecycleRecord,
    MeetingSpec,
    MeetingStatus,
    Role,
    SpeakingTurnRecord,
    utc,
)
from mirp.rooms.presence import Participant, Roster

__all__ = ["Room", "RoomLimits"]

SPEAKING_DBFS = -45.0  # a live microphone louder than this counts as speaking


class Room:
    def __init__(self, spec: MeetingSpec, limits: RoomLimits | None = None) -> None:
        self.spec = spec
        self.limits = limits or RoomLimits()
        self.status = spec.status
        self.under_levels = tuple(lv for lv in spec.under_levels_db if lv < 0)
        self.changes = Changes()
        capacity = min(spec.capacity, self.limits.capacity or spec.capacity)
        self.roster = Roster(spec, capacity, self.changes, self.limits.quality_sample_s)
        self.floor = Floor()
        self.interpretation = Interpretation(spec, self.roster, self.changes)
        self.told = views.Told()
        self.floor_language: str | None = None  # effective: set by the chair, else auto
        self.floor_sources: tuple[Ingredient, ...] = ()  # the floor's microphones, audible now
        self.last_now = 0.0  # the time of the last change (snapshots are asked without one)
        self.recording = False  # a recorder writes this meeting now (follow_recording)
        self._finish(0.0)  # routes and the baseline of what clients are told

    # ------------------------------------ the parts' state as others read it (registry: restore)
    @property
    def closed(self) -> bool:
        return self.status is MeetingStatus.CLOSED

    @property
    def participants(self) -> dict[str, Participant]:
        return self.roster.participants

    @property
    def removed(self) -> set[str]:
        return self.roster.removed

    @removed.setter
    def removed(self, value: set[str]) -> None:  # `room.removed |= ...` (registry restore)
        self.roster.removed = value

    @property
    def capacity(self) -> int:
        return self.roster.capacity

    @capacity.setter
    def capacity(self, value: int) -> None:
        self.roster.capacity = value

    @property
    def booths(self) -> dict[str, Booth]:
        return self.interpretation.booths

    @property
    def consoles(self) -> dict[str, Console]:
        return self.interpretation.consoles

    @property
    def routes(self) -> dict[str, Route]:
        return self.interpretation.routes

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
        self.roster.check_admission(grant)
        p = self.roster.get(pid)
        if p is not None:
            p.connected, p.lost_at = True, None
            self.changes.touch(pid)
            self.roster.subscribe(p, p.subscription, now, self.interpretation.is_auto(pid))
            return self._finish(now)
        if self.status is MeetingStatus.SCHEDULED and grant.role not in STAFF_ROLES:
            raise Forbidden("the meeting is not open yet", {"reason": "not_open"})
        self.roster.check_room_for_one_more()
        if grant.role is Role.INTERPRETER and grant.booth not in self.booths:
            raise Forbidden("no such booth in this meeting", {"booth": grant.booth})
        p = Participant(grant, joined_at=now, listening_since=now)
        self.roster.seat(p)  # back after leaving: the channel they had
        self.participants[pid] = p
        self.interpretation.add(p)
        self.changes.record(p.attendance("join", now))
        self.changes.emit(ParticipantJoined(p.view()))
        self.roster.subscribe(p, p.subscription, now, p.booth is not None)
        return self._finish(now)

    def disconnect(self, participant_id: str, now: float) -> list[Event]:
        """The connection was lost: role, channel, booth, on-air state and floor are kept for
        grace_s (tick() drops the participant after that). Idempotent."""
        p = self.roster.get(participant_id)
        if p is None or not p.connected or self.closed:
            return []
        p.connected, p.lost_at, p.speaking = False, now, False
        self.interpretation.lost(p)
        self.changes.touch(p.id)
        return self._finish(now)

    def leave(self, participant_id: str, now: float) -> list[Event]:
        """Gone for good. Idempotent."""
        if participant_id not in self.participants:
            return []
        if self.closed:  # everything was recorded at close: just forget them
            del self.participants[participant_id]
            return []
        self.drop(participant_id, now, "left")
        return self._finish(now)

    # ================================================================ commands and time

    def handle(self, participant_id: str, command: c.Command, now: float) -> list[Event]:
        """Raises Forbidden / Conflict / InvalidInput / NotFound on refusal, with the state
        unchanged (roles are checked in rooms/actions.py)."""
        if self.closed:
            raise Forbidden("the meeting is closed", {"reason": "closed"})
        p = self.roster.get(participant_id)
        if p is None:
            raise NotFound("not in this meeting", {"participant_id": participant_id})
        dispatch(self, p, command, now)
        return self._finish(now)

    def tick(self, now: float) -> list[Event]:
        """Timers: grace expiry, speaking time, handover expiry."""
        if self.closed:
            return []
        for p in list(self.participants.values()):
            if not p.connected and p.lost_at is not None and now >= p.lost_at + self.limits.grace_s:
                self.drop(p.id, now, "timeout")
        late = self.floor.time_up(now)
        if late is not None:
            self.changes.emit(Notice("time_up", Audience.presiding(late), participant_id=late))
        self.interpretation.expire(now)
        return self._finish(now)

    def next_deadline(self) -> float | None:
        if self.closed:
            return None
        times = [
            p.lost_at + self.limits.grace_s
            for p in self.participants.values()
            if not p.connected and p.lost_at is not None
        ]
        for t in (self.interpretation.next_deadline(), self.floor.next_deadline()):
            if t is not None:
                times.append(t)
        return min(times, default=None)

    def levels(self, levels: Mapping[str, float], now: float) -> list[Event]:
        """Microphone levels in dBFS (engine.on_levels): who is speaking. Only a microphone the
        plan uses can count as speaking."""
        live = {sid for sid, _ in self.floor_sources} | {
            r.interpreter for r in self.routes.values() if r.live and r.interpreter
        }
        for pid, db in levels.items():
            p = self.roster.get(pid)
            if p is None:
                continue
            speaking = pid in live and db > SPEAKING_DBFS
            if speaking != p.speaking:
                p.speaking = speaking
                self.changes.touch(pid)
        return self._finish(now)

    # ================================================================ media and audiences

    def mix_plan(self) -> MixPlan:
        if self.closed:
            return MixPlan.of()
        broadcast = tuple(self.broadcast_keys()) if self.spec.broadcast else ()
        plan = mixing.build_plan(
            self.roster.subscriptions(), self.routes, self.floor_sources, self._rooms(), broadcast
        )
        feeds = dict(plan.feeds)
        for key in captioning.caption_keys(self.spec.captions):
            if key not in feeds:  # captioned even with no listener: the captioner listens
                feeds[key] = mixing.recipe(key, self.routes, self.floor_sources)
        return MixPlan.of(feeds, plan.aliases, video=video_plan.video_map(self))

    def caption(self, channel: str, text: str, start: float, end: float,
                language: str) -> list[Event]:
        """A final caption of a captioned channel's feed (the captioner's): to its listeners,
        and the floor's to the listeners of captioned channels now carrying the floor."""
        if self.closed or channel not in captioning.caption_keys(self.spec.captions).values():
            return []
        own, fallback = captioning.readers(channel, self.spec.captions,
                                           self.roster.subscriptions(), self.routes)
        out: list[Event] = []
        if own:
            out.append(Caption(Audience(ids=own), channel, text, start, end, language))
        if fallback:
            out.append(Caption(Audience(ids=fallback), channel, text, start, end, language,
                               floor=True))
        return out

    def broadcast_keys(self) -> dict[str, FeedKey]:
        """Channel -> its broadcast key (the floor first): what the webcast and the recording
        take, in the plan while the meeting is webcast or recorded (rooms/mixing.py)."""
        channels = (FLOOR, *(c for c in self.spec.languages if c != FLOOR))
        return {ch: mixing.broadcast_key(ch) for ch in channels}

    def floor_speakers(self) -> tuple[str, ...]:
        """The names of the floor holders audible now (a transcript line's speakers)."""
        names = []
        for sid, _ in self.floor_sources:
            p = self.roster.get(sid)
            names.append(p.grant.name if p is not None else sid)
        return tuple(names)

    def floor_video(self) -> str | None:
        """Whose camera every viewer sees (rooms/video_plan.py)."""
        return video_plan.floor_video(self)

    def camera(self, participant_id: str, on: bool, now: float) -> list[Event]:
        """Their new peer sends a camera, or not (rooms/video_plan.py)."""
        video_plan.set_camera(self, participant_id, on)
        return self._finish(now)

    def feed_for(self, participant_id: str) -> FeedKey | None:
        """What this participant hears now (None: not connected, or the meeting is closed)."""
        p = self.roster.get(participant_id)
        if p is None or not p.connected or self.closed:
            return None
        return mixing.key_for(p.id, p.subscription, self.routes, self.floor_sources, self._rooms())

    def feeds(self) -> dict[str, FeedKey]:
        """feed_for() of every connected participant at once."""
        if self.closed:
            return {}
        rooms = self._rooms()
        return {
            pid: mixing.key_for(pid, sub, self.routes, self.floor_sources, rooms)
            for pid, sub in self.roster.subscriptions().items()
        }

    def recipients(self, audience: Audience) -> list[str]:
        """The connected participants an event with this audience goes to."""
        return self.roster.recipients(audience)

    def snapshot(self, participant_id: str) -> dict[str, Any]:
        """The full state the `welcome` message carries for this participant."""
        return views.snapshot(self, participant_id)

    def overview(self) -> dict[str, Any]:
        """The organizer's live page (rooms/views.py)."""
        return views.overview(self)

    # ================================================================ changes the parts share

    def end_turn(self, participant_id: str, now: float) -> None:
        """A floor turn ends (NotFound when they do not hold the floor), recorded."""
        h = self.floor.take(participant_id)
        self.changes.record(
            SpeakingTurnRecord(
                self.spec.id, participant_id, utc(h.since), utc(now), self.floor_language
            )
        )

    def drop(self, pid: str, now: float, reason: str) -> None:
        """Gone for good: end their floor turn, request, on-air turn and listening span."""
        p = self.participants[pid]
        if pid in self.floor.holders:
            self.end_turn(pid, now)
        self.floor.withdraw_request(pid)
        self.interpretation.remove(p, now)
        self.roster.end_listening(p, now)
        self.changes.record(p.attendance("leave", now))
        self.roster.vacate(p)
        del self.participants[pid]
        self.changes.dirty.discard(pid)
        self.changes.emit(ParticipantLeft(pid, reason))

    def open_meeting(self, now: float, by: str | None) -> None:
        if self.status is not MeetingStatus.SCHEDULED:
            raise Conflict("the meeting is already open", {"status": str(self.status)})
        self._set_status(MeetingStatus.OPEN, now, by)

    def close_meeting(self, now: float, by: str | None) -> None:
        for pid in list(self.floor.holders):
            self.end_turn(pid, now)
        self.floor.speakers.clear()
        self.interpretation.close(now)
        for p in self.participants.values():
            self.roster.end_listening(p, now)
            self.changes.record(p.attendance("leave", now))
        self.status = MeetingStatus.CLOSED
        self.changes.record(LifecycleRecord(self.spec.id, "closed", utc(now), by))
        self.changes.emit(MeetingClosed(by))

    def _set_status(self, status: MeetingStatus, now: float, by: str | None) -> None:
        self.status = status
        if status is MeetingStatus.OPEN:
            self.changes.record(LifecycleRecord(self.spec.id, "opened", utc(now), by))
        self.changes.emit(MeetingChanged(str(status)))

    # ================================================================ settling

    def _effective_language(self) -> str | None:
        if self.floor.language_set is not None:
            return self.floor.language_set
        heard = list(self.floor.holders) if self.floor.holders_heard else []
        if self.floor.room_heard:  # a remote holder speaks over the room's own language
            heard[:0] = self._rooms()
        for pid in reversed(heard):
            p = self.roster.get(pid)
            if p is not None and p.language in self.spec.languages:
                return p.language
        return None

    def _finish(self, now: float) -> list[Event]:
        self.last_now = now
        lang = self._effective_language()
        if lang != self.floor_language:
            self.floor_language = lang
            self.interpretation.new_floor_language()
        self._refresh()
        if self.closed:
            return self.changes.take()[0]
        self.interpretation.auto_relay(self.floor_language, now)
        self.interpretation.break_cycles(self.floor_language, now)
        out, dirty = self.changes.take()
        out += self.told.news(self, now)
        out += [
            ParticipantUpdated(self.participants[pid].view())
            for pid in sorted(dirty)
            if pid in self.participants
        ]
        return out

    def _rooms(self) -> list[str]:
        """The meeting room's participants (hybrid meetings: their audio is the room feed)."""
        return [p.id for p in self.participants.values() if p.role is Role.ROOM]

    def _refresh(self) -> None:
        """Routes and the floor's audible microphones follow the state. What interpreters hear
        does not change them, so auto-relay after this needs no second pass."""
        self.interpretation.refresh_routes(self.floor_language)
        connected = self.roster.connected_ids()
        self.floor_sources = mixing.floor_ingredients(
            ((h.participant_id, h.muted) for h in self.floor.holders.values()),
            self._rooms(),
            connected,
            self.floor.holders_heard,
            self.floor.room_heard,
        )

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
            self.close_meeting(now, by)
        else:
            self._set_status(status, now, by)
        return self._finish(now)

    def follow_options(self, webcast: str, recording: bool) -> None:
        """The organizer changed the webcast or recording option (committed): the broadcast
        keys enter or leave the mix plan now, and the webcast's side follows the spec."""
        self.spec = replace(self.spec, webcast=webcast, recording=recording)

    def follow_recording(self, on: bool) -> list[Event]:
        """Whether a recorder is writing this meeting now, as the webcast worker says (not the
        option: a full disk stops it); everyone's REC badge follows."""
        if on == self.recording:
            return []
        self.recording = on
        return [RecordingChanged(on)]

    def revoke_invitation(self, invitation_id: str) -> list[str]:
        """An invitation was revoked (already committed): nobody joins through it any more,
        even with a grant admitted just before. Its participants here, whom the caller makes
        leave (`leave`) after closing their Sessions."""
        self.roster.revoked_invitations.add(invitation_id)
        return self.roster.of_invitation(invitation_id)
