"""What a recording's index is made of: the meeting's speaking turns and on-air turns in a time
range, with who spoke (name, delegation, language). The Room's records (rooms/model.py
SpeakingTurnRecord, OnAirTurnRecord) are the one source; the index is computed when asked."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from mirp.store import tables as t


@dataclass(frozen=True, slots=True)
class Turn:
    kind: str  # "speaker" | "on_air"
    participant_id: str
    name: str
    delegation: str | None
    language: str | None  # spoken: the floor language of a speaker, the channel of a booth
    booth: str | None
    started_at: datetime
    ended_at: datetime


async def turns(session: AsyncSession, meeting_id: str, start: datetime,
                end: datetime) -> list[Turn]:
    """Speaking and on-air turns overlapping [start, end], by start time."""
    people = {p.id: p for p in (await session.execute(
        select(t.Participant).where(t.Participant.meeting_id == meeting_id))).scalars()}
    out: list[Turn] = []
    speaking = await session.execute(select(t.SpeakingTurn).where(
        t.SpeakingTurn.meeting_id == meeting_id, t.SpeakingTurn.ended_at >= start,
        t.SpeakingTurn.started_at <= end))
    for s in speaking.scalars():
        p = people.get(s.participant_id)
        out.append(Turn("speaker", s.participant_id, p.name if p else "", p.delegation if p
                        else None, s.floor_language or (p.language if p else None), None,
                        s.started_at, s.ended_at))
    on_air = await session.execute(select(t.OnAirTurn).where(
        t.OnAirTurn.meeting_id == meeting_id, t.OnAirTurn.ended_at >= start,
        t.OnAirTurn.started_at <= end))
    for a in on_air.scalars():
        p = people.get(a.participant_id)
        out.append(Turn("on_air", a.participant_id, p.name if p else "", None, a.channel,
                        a.booth, a.started_at, a.ended_at))
    out.sort(key=lambda turn: (turn.started_at, turn.kind))
    return out


async def retention_days(session: AsyncSession) -> dict[str, int]:
    """Meeting id -> days its recordings are kept after they end (meetings with a retention)."""
    rows = await session.execute(select(t.Meeting.id, t.Meeting.retention_days).where(
        t.Meeting.retention_days.is_not(None)))
    return {mid: int(days) for mid, days in rows.all() if days}
