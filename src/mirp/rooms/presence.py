"""Who is in a Room: each participant's presence, and the roster of them.

Presence is what the other participants see of someone (name, delegation, role, booth,
connected, channel, speaking; the line quality grade goes only to them and the presiding) plus
what the Room needs to keep while their connection is lost (the grace period keeps their floor,
on-air state and channel).

The Roster is the one home, in a live meeting, of who was removed and which invitations were
revoked: it starts from what the store says (MeetingSpec.removed_participants) and adds what
happens while the room is open; the store keeps it durably (the removal is committed before
it is acknowledged).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mirp.errors import Forbidden, MeetingFull, NotFound
from mirp.interpretation.routing import FLOOR
from mirp.rooms.changes import Changes
from mirp.rooms.events import Audience, LineQuality, Subscribed
from mirp.rooms.mixing import Subscription
from mirp.rooms.model import (
    AttendanceRecord,
    JoinGrant,
    ListeningRecord,
    MeetingSpec,
    QualityRecord,
    Role,
    utc,
)

JUST_THE_FLOOR = Subscription(FLOOR)  # what a newcomer hears
MIN_SEATS_KEPT = 1000  # seats of those who left, kept for a rejoin (at least; 2x capacity)


@dataclass(slots=True)
class Participant:
    grant: JoinGrant
    joined_at: float
    connected: bool = True
    lost_at: float | None = None  # when the connection was lost (grace runs from here)
    subscription: Subscription = JUST_THE_FLOOR
    listening_since: float = 0.0  # when the current subscription started (for its record)
    speaking: bool = False
    quality: dict[str, Any] | None = None
    spoken: str | None = None  # set by `participant_language`; None: the grant's language
    quality_sampled_at: float | None = None  # when its last QualityRecord was taken
    video_off: bool = False  # `video_set(on=False)`: the plane sends them no video (audio only)
    partner_video: bool = False  # `video_set(partner=True)`: an interpreter sees their partner
    camera: bool = False  # their last offer sends video: the floor video may show them

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
        return self.spoken or self.grant.language

    @property
    def channel(self) -> str:
        return self.subscription.channel

    @property
    def floor_under(self) -> int | None:
        return self.subscription.floor_under

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
            "video": not self.video_off,
            "camera": self.camera,
        }

    @property
    def grade(self) -> str | None:
        """The line quality grade last reported: not in view() (see events.LineQuality)."""
        return (self.quality or {}).get("grade")

    def view_for(self, viewer: Participant | None) -> dict[str, Any]:
        """view() as `viewer` may see it: with the grade for themselves and the presiding."""
        shown = viewer is not None and Audience.presiding(self.id).includes(
            viewer.id, viewer.role, viewer.booth
        )
        return {**self.view(), "quality": self.grade} if shown else self.view()


class Roster:
    """The participants of one Room (present, or within their grace period), who may not come
    back, and what each listens to."""

    def __init__(
        self, spec: MeetingSpec, capacity: int, changes: Changes, quality_sample_s: float = 60.0
    ) -> None:
        self.meeting_id = spec.id
        self.capacity = capacity
        self.quality_sample_s = quality_sample_s
        self.participants: dict[str, Participant] = {}
        self.removed: set[str] = set(spec.removed_participants)
        self.revoked_invitations: set[str] = set()  # revoked while the room is open
        # what each one who left listened to and spoke, so that a rejoin (the Leave page's
        # button, another device) finds their seat as it was; the oldest go first past the cap
        self.seats: dict[str, tuple[Subscription, str | None]] = {}
        self._changes = changes

    # ---------------------------------------------------------------- who

    def get(self, participant_id: str) -> Participant | None:
        return self.participants.get(participant_id)

    def target(self, participant_id: str) -> Participant:
        """The participant a command names; NotFound when they are not here."""
        t = self.participants.get(participant_id)
        if t is None:
            raise NotFound(
                "no such participant in this meeting", {"participant_id": participant_id}
            )
        return t

    def connected_ids(self) -> set[str]:
        return {p.id for p in self.participants.values() if p.connected}

    def check_admission(self, grant: JoinGrant) -> None:
        """Refuse a removed participant or a revoked invitation (Forbidden)."""
        if grant.participant_id in self.removed:
            raise Forbidden("you were removed from this meeting", {"reason": "removed"})
        if grant.invitation_id is not None and grant.invitation_id in self.revoked_invitations:
            raise Forbidden("this invitation was revoked", {"reason": "revoked"})

    def vacate(self, p: Participant) -> None:
        """They leave for good: keep their seat (channel, spoken language) for a rejoin."""
        self.seats.pop(p.id, None)
        self.seats[p.id] = (p.subscription, p.spoken)
        while len(self.seats) > max(MIN_SEATS_KEPT, 2 * self.capacity):
            del self.seats[next(iter(self.seats))]

    def seat(self, p: Participant) -> None:
        """A participant who left and comes back sits where they were: the channel they
        listened to and the language they said they speak. Not an interpreter: their booth
        decides what they hear (auto-relay)."""
        kept = self.seats.pop(p.id, None)
        if kept is not None and p.booth is None:
            p.subscription, p.spoken = kept

    def check_room_for_one_more(self) -> None:
        if len(self.participants) >= self.capacity:
            raise MeetingFull("the meeting is full", {"capacity": self.capacity})

    def of_invitation(self, invitation_id: str) -> list[str]:
        return [
            pid for pid, p in self.participants.items() if p.grant.invitation_id == invitation_id
        ]

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

    # ---------------------------------------------------------------- what they hear

    def subscriptions(self) -> dict[str, Subscription]:
        """What every connected participant listens to."""
        return {p.id: p.subscription for p in self.participants.values() if p.connected}

    def subscribe(self, p: Participant, subscription: Subscription, now: float, auto: bool) -> None:
        """A choice of channel, confirmed to the participant (`auto`: auto-relay made it); the
        time spent on the previous one is recorded."""
        if subscription != p.subscription:
            self.end_listening(p, now)
            p.subscription = subscription
            self._changes.touch(p.id)
        self._changes.emit(Subscribed(p.id, subscription.channel, subscription.floor_under, auto))

    def end_listening(self, p: Participant, now: float) -> None:
        if now > p.listening_since:
            self._changes.record(
                ListeningRecord(
                    self.meeting_id,
                    p.id,
                    p.channel,
                    p.floor_under or 0,
                    utc(p.listening_since),
                    utc(now),
                )
            )
        p.listening_since = now

    def report_quality(
        self,
        p: Participant,
        grade: str,
        numbers: dict[str, float | None],
        now: float,
    ) -> None:
        old = (p.quality or {}).get("grade")
        p.quality = {"grade": grade, **numbers, "at": now}
        if old != grade:  # numbers move all the time: tell when the grade does
            self._changes.emit(LineQuality(p.id, grade))
        # sampled for the statistics: at each grade change, else once per quality_sample_s
        last = p.quality_sampled_at
        if old != grade or last is None or now - last >= self.quality_sample_s:
            p.quality_sampled_at = now
            self._changes.record(
                QualityRecord(
                    self.meeting_id,
                    p.id,
                    p.role,
                    grade,
                    utc(now),
                    rtt=numbers.get("rtt"),
                    loss=numbers.get("loss"),
                    jitter=numbers.get("jitter"),
                )
            )
