"""A meeting's report, from the append-only statistics (Admission.record wrote them).

Who attended and for how long, who spoke and for how long, each booth's time on air per
channel, and how much each channel was listened to. Computed in Python from the meeting's rows,
by a worker (store/work.py): a long meeting has tens of thousands of listening and attendance
rows, and folding them on the control loop would stall it. The rows are read as plain values
(`SimpleNamespace`, picklable, attribute access like the ORM's), in the request's transaction.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from mirp.store import tables as t
from mirp.store import work
from mirp.store.db import Database
from mirp.store.repo import meeting_for, meeting_summary
from mirp.store.schemas import MeetingSummary

# The report's shape (the route's response model: it is what /openapi.json and docs/api.md show)

class Presence(BaseModel):
    """One participant's presence: joins paired with the next leave (still in: until now)."""

    participant_id: str
    name: str
    role: str
    delegation: str | None
    booth: str | None
    first_join: datetime | None
    last_leave: datetime | None
    joins: int
    present_s: float
    removed: bool


class SpeakingTime(BaseModel):
    participant_id: str
    name: str | None
    turns: int
    seconds: float


class OnAirTime(BaseModel):
    """One interpreter's time on air in one booth, into one channel."""

    booth: str
    channel: str
    participant_id: str
    name: str | None
    turns: int
    seconds: float


class ChannelUse(BaseModel):
    channel: str
    listeners: int  # distinct participants
    seconds: float  # listening time summed over them


class LifecycleEntry(BaseModel):
    kind: str  # opened, closed, removed
    at: datetime
    by: str | None
    participant_id: str | None  # who was removed


class MeetingReport(BaseModel):
    meeting: MeetingSummary
    participants_joined: int
    attendance: list[Presence]
    speaking: list[SpeakingTime]
    interpretation: list[OnAirTime]
    listening: list[ChannelUse]
    lifecycle: list[LifecycleEntry]


def _seconds(start: datetime, end: datetime) -> float:
    return max(0.0, (end - start).total_seconds())


async def _rows(session: AsyncSession, table: Any, meeting_id: str, order: Any) -> list[Any]:
    columns = table.__table__.c
    stmt = select(*columns).where(columns.meeting_id == meeting_id).order_by(order, table.id)
    return [SimpleNamespace(**row._mapping) for row in await session.execute(stmt)]


async def meeting_report(db: Database, organizer: t.Organizer,
                         meeting_id: str) -> dict[str, Any]:
    """Read in one short transaction, folded by a worker after it ended (on SQLite a
    transaction holds the write lock)."""
    async with db.session() as session:
        meeting = await meeting_for(session, organizer, meeting_id)
        summary = (await meeting_summary(session, meeting)).model_dump(mode="json")
        tables = [await _rows(session, t.Participant, meeting.id, t.Participant.joined_at),
                  await _rows(session, t.Attendance, meeting.id, t.Attendance.at),
                  await _rows(session, t.SpeakingTurn, meeting.id, t.SpeakingTurn.started_at),
                  await _rows(session, t.OnAirTurn, meeting.id, t.OnAirTurn.started_at),
                  await _rows(session, t.Listening, meeting.id, t.Listening.started_at),
                  await _rows(session, t.Lifecycle, meeting.id, t.Lifecycle.at)]
    return await work.run(compute_report, summary, t.utcnow(), *tables)


def compute_report(summary: dict[str, Any], now: datetime, participants: list[Any],
                   attendance: list[Any], speaking: list[Any], on_air: list[Any],
                   listening: list[Any], lifecycle: list[Any]) -> dict[str, Any]:
    """The report from the meeting's rows (pure: runs in a worker)."""
    people = {p.id: p for p in participants}

    # presence: each join pairs with the next leave of the same participant (a join without a
    # leave is still present: counted until now)
    present: dict[str, dict[str, Any]] = {}
    opened: dict[str, datetime] = {}
    for a in attendance:
        entry = present.setdefault(a.participant_id, {
            "participant_id": a.participant_id, "name": a.name, "role": a.role,
            "delegation": a.delegation, "booth": a.booth, "first_join": None,
            "last_leave": None, "joins": 0, "present_s": 0.0})
        if a.kind == "join":
            entry["joins"] += 1
            entry["first_join"] = entry["first_join"] or a.at
            opened.setdefault(a.participant_id, a.at)
        elif a.kind == "leave":
            entry["last_leave"] = a.at
            start = opened.pop(a.participant_id, None)
            if start is not None:
                entry["present_s"] += _seconds(start, a.at)
    for pid, start in opened.items():
        present[pid]["present_s"] += _seconds(start, now)
    for pid, entry in present.items():
        p = people.get(pid)
        entry["removed"] = bool(p and p.removed_at)
        entry["present_s"] = round(entry["present_s"], 1)

    def name(pid: str) -> str | None:
        p = people.get(pid)
        return p.name if p else present.get(pid, {}).get("name")

    speakers: dict[str, dict[str, Any]] = {}
    for s in speaking:
        e = speakers.setdefault(s.participant_id, {"participant_id": s.participant_id,
                                                   "name": name(s.participant_id),
                                                   "turns": 0, "seconds": 0.0})
        e["turns"] += 1
        e["seconds"] += _seconds(s.started_at, s.ended_at)
    booths: dict[tuple[str, str, str], dict[str, Any]] = {}
    for o in on_air:
        e = booths.setdefault((o.booth, o.channel, o.participant_id), {
            "booth": o.booth, "channel": o.channel, "participant_id": o.participant_id,
            "name": name(o.participant_id), "turns": 0, "seconds": 0.0})
        e["turns"] += 1
        e["seconds"] += _seconds(o.started_at, o.ended_at)
    channels: dict[str, dict[str, Any]] = {}
    listeners: dict[str, set[str]] = defaultdict(set)
    for li in listening:
        e = channels.setdefault(li.channel, {"channel": li.channel, "listeners": 0,
                                             "seconds": 0.0})
        e["seconds"] += _seconds(li.started_at, li.ended_at)
        listeners[li.channel].add(li.participant_id)
    for ch, e in channels.items():
        e["listeners"] = len(listeners[ch])

    def rounded(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{**i, "seconds": round(i["seconds"], 1)} for i in items]

    return {
        "meeting": summary,
        "participants_joined": len(people),
        "attendance": list(present.values()),
        "speaking": rounded(sorted(speakers.values(), key=lambda e: -e["seconds"])),
        "interpretation": rounded(sorted(booths.values(),
                                         key=lambda e: (e["booth"], e["channel"],
                                                        -e["seconds"]))),
        "listening": rounded(sorted(channels.values(), key=lambda e: e["channel"])),
        "lifecycle": [{"kind": c.kind, "at": c.at, "by": c.by, "participant_id": c.detail}
                      for c in lifecycle],
    }
