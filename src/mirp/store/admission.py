"""What the live side needs from the database (docs/architecture.md, "Store → rooms").

The rooms never import the store; the RoomRegistry is handed this object as its store
(rooms/registry.py's RoomStore). Each call
is one short transaction, so the Room tasks never hold a database connection between commands.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from mirp import tokens
from mirp.config import Settings
from mirp.errors import ClosedMeeting, Forbidden
from mirp.rooms.model import (
    AttendanceRecord,
    BoothSpec,
    FailedJoinRecord,
    JoinGrant,
    LifecycleRecord,
    ListeningRecord,
    MeetingSpec,
    MeetingStatus,
    OnAirTurnRecord,
    QualityRecord,
    Record,
    RemovalRecord,
    Role,
    SpeakingTurnRecord,
)
from mirp.store import tables as t
from mirp.store.db import Database
from mirp.store.repo import booths_of, load_meeting

LIFECYCLE_STATUS = {"opened": MeetingStatus.OPEN.value, "closed": MeetingStatus.CLOSED.value}


class Admission:
    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings

    async def authorize(self, token: str, meeting_id: str | None = None) -> JoinGrant:
        """The grant a participant token carries, checked against the database now.

        meeting_id None: the meeting named in the token. Raises Unauthorized (bad signature,
        expired, malformed), Forbidden (other meeting, invitation revoked, participant removed
        or unknown), ClosedMeeting (4410), NotFound (meeting deleted).
        """
        claims = tokens.verify_participant(self.settings.resolved_secret_key(), token)
        if meeting_id is not None and claims.meeting_id != meeting_id:
            raise Forbidden("this token is for another meeting", {"reason": "wrong_meeting"})
        async with self.db.session() as session:
            meeting = await load_meeting(session, claims.meeting_id)
            if meeting.status == MeetingStatus.CLOSED.value:  # by its chair or by REST
                raise ClosedMeeting("the meeting is closed", {"reason": "closed"})
            participant = await session.get(t.Participant, claims.participant_id)
            if participant is None or participant.meeting_id != claims.meeting_id:
                raise Forbidden("unknown participant", {"reason": "unknown_participant"})
            if participant.removed_at is not None:
                raise Forbidden("you were removed from this meeting", {"reason": "removed"})
            if participant.booth is not None and participant.booth not in {
                    b.language for b in await booths_of(session, participant.meeting_id)}:
                raise Forbidden(f"the meeting no longer has a {participant.booth!r} booth",
                                {"reason": "booth_removed"})
            if participant.invitation_id is not None:
                inv = await session.get(t.Invitation, participant.invitation_id)
                if inv is None or inv.revoked_at is not None:
                    raise Forbidden("this invitation was revoked", {"reason": "revoked"})
            return JoinGrant(
                meeting_id=participant.meeting_id, participant_id=participant.id,
                name=participant.name, role=Role(participant.role),
                delegation=participant.delegation, booth=participant.booth,
                invitation_id=participant.invitation_id, language=participant.language)

    async def load_spec(self, meeting_id: str) -> MeetingSpec:
        async with self.db.session() as session:
            meeting = await load_meeting(session, meeting_id)
            booths = await booths_of(session, meeting.id)
            removed = await session.execute(select(t.Participant.id).where(
                t.Participant.meeting_id == meeting.id, t.Participant.removed_at.is_not(None)))
            return MeetingSpec(
                id=meeting.id, title=meeting.title, languages=tuple(meeting.languages),
                booths=tuple(BoothSpec(language=b.language, retour=b.retour,
                                       understands=frozenset(b.understands),
                                       auto_floor=b.auto_floor) for b in booths),
                status=MeetingStatus(meeting.status),
                under_levels_db=tuple(meeting.under_levels_db), capacity=meeting.capacity,
                captions=tuple(meeting.captions or ()),
                removed_participants=frozenset(removed.scalars()),
                webcast=meeting.webcast or "off", recording=bool(meeting.recording))

    async def record(self, records: Sequence[Record]) -> None:
        """Append the records in one transaction. Records of a meeting deleted meanwhile are
        dropped (there is nothing left to attach them to); an unknown record type is an error."""
        if not records:
            return
        async with self.db.session() as session:
            ids = {r.meeting_id for r in records}
            rows = await session.execute(select(t.Meeting).where(t.Meeting.id.in_(ids)))
            meetings = {m.id: m for m in rows.scalars()}
            quality: dict[str, list[QualityRecord]] = {}
            for r in records:
                meeting = meetings.get(r.meeting_id)
                if meeting is None:
                    continue
                for row in _rows(r):
                    session.add(row)
                if isinstance(r, QualityRecord):
                    quality.setdefault(r.meeting_id, []).append(r)
                if isinstance(r, LifecycleRecord) and r.kind in LIFECYCLE_STATUS:
                    meeting.status = LIFECYCLE_STATUS[r.kind]
                    meeting.updated_at = r.at
                elif isinstance(r, RemovalRecord):
                    participant = await session.get(t.Participant, r.participant_id)
                    if participant is not None and participant.meeting_id == r.meeting_id:
                        participant.removed_at = r.at
                        participant.removed_by = r.by
            for meeting_id, samples in quality.items():
                await _add_to_totals(session, meeting_id, samples)


async def _add_to_totals(session: AsyncSession, meeting_id: str,
                         samples: list[QualityRecord]) -> None:
    """The meeting's quality totals, in the samples' transaction (one Recorder writes a
    meeting's records, so the read-then-write does not race)."""
    total = await session.get(t.QualityTotal, meeting_id)
    if total is None:
        total = t.QualityTotal(meeting_id=meeting_id, samples=0, good=0, fair=0, poor=0,
                               rtt_ms_sum=0.0, rtt_samples=0)
        session.add(total)
    rtts = [round(s.rtt * 1000, 1) for s in samples if s.rtt is not None]
    total.samples += len(samples)
    total.good += sum(s.grade == "good" for s in samples)
    total.fair += sum(s.grade == "fair" for s in samples)
    total.poor += sum(s.grade == "poor" for s in samples)
    total.rtt_ms_sum += sum(rtts)
    total.rtt_samples += len(rtts)


def _rows(r: Record) -> list[Any]:
    if isinstance(r, AttendanceRecord):
        return [t.Attendance(meeting_id=r.meeting_id, participant_id=r.participant_id,
                             name=r.name, role=str(r.role), kind=r.kind, at=r.at,
                             delegation=r.delegation, booth=r.booth, channel=r.channel)]
    if isinstance(r, SpeakingTurnRecord):
        return [t.SpeakingTurn(meeting_id=r.meeting_id, participant_id=r.participant_id,
                               started_at=r.started_at, ended_at=r.ended_at,
                               floor_language=r.floor_language)]
    if isinstance(r, OnAirTurnRecord):
        return [t.OnAirTurn(meeting_id=r.meeting_id, participant_id=r.participant_id,
                            booth=r.booth, channel=r.channel, started_at=r.started_at,
                            ended_at=r.ended_at)]
    if isinstance(r, ListeningRecord):
        return [t.Listening(meeting_id=r.meeting_id, participant_id=r.participant_id,
                            channel=r.channel, under_level_db=r.under_level_db,
                            started_at=r.started_at, ended_at=r.ended_at)]
    if isinstance(r, LifecycleRecord):
        return [t.Lifecycle(meeting_id=r.meeting_id, kind=r.kind, at=r.at, by=r.by)]
    if isinstance(r, RemovalRecord):
        return [t.Lifecycle(meeting_id=r.meeting_id, kind="removed", at=r.at, by=r.by,
                            detail=r.participant_id)]
    if isinstance(r, QualityRecord):  # kept in milliseconds: what the report shows
        return [t.QualitySample(meeting_id=r.meeting_id, participant_id=r.participant_id,
                                role=str(r.role), grade=r.grade, at=r.at,
                                rtt_ms=None if r.rtt is None else round(r.rtt * 1000, 1),
                                loss=r.loss,
                                jitter_ms=None if r.jitter is None else round(r.jitter * 1000, 1))]
    if isinstance(r, FailedJoinRecord):
        return [t.FailedJoin(meeting_id=r.meeting_id, reason=r.reason[:32], at=r.at,
                             participant_id=r.participant_id,
                             role=None if r.role is None else str(r.role))]
    raise TypeError(f"not a record: {type(r).__name__}")
