"""A meeting's report, from the append-only statistics (Admission.record wrote them).

Who attended and for how long, who spoke and for how long, each booth's time on air per
channel, and how much each channel was listened to. Computed in Python from the meeting's rows,
by a worker (store/work.py): a long meeting has tens of thousands of listening and attendance
rows, and folding them on the control loop would stall it. The rows are read as plain values
(`SimpleNamespace`, picklable, attribute access like the ORM's), in the request's transaction.
"""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from mirp.store import tables as t
from mirp.store import work
from mirp.store.db import Database
from mirp.store.quality import (
    DelegationCountry,
    FailedJoinCount,
    QualityBucket,
    QualityByRole,
    fold_connections,
)
from mirp.store.repo import meeting_for, meeting_summary
from mirp.store.schemas import MeetingSummary
from mirp.store.trends import csv_text

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


class TimelinePoint(BaseModel):
    """Who was present at one instant (joins paired with leaves, as `attendance`)."""

    at: datetime
    present: int
    by_role: dict[str, int]
    by_delegation: dict[str, int]  # participants without a delegation are not counted here


class FloorByDelegation(BaseModel):
    delegation: str | None  # None: speakers without one (the chair, usually)
    turns: int
    seconds: float


class FloorByLanguage(BaseModel):
    language: str | None  # the floor language of the turn; None: not known
    turns: int
    seconds: float


class BoothUse(BaseModel):
    """One booth's time on air, whoever was in it; a handover: the next on-air turn in the
    booth is another interpreter's."""

    booth: str
    turns: int
    seconds: float
    handovers: int
    interpreters: int


class MeetingReport(BaseModel):
    meeting: MeetingSummary
    participants_joined: int
    attendance: list[Presence]
    speaking: list[SpeakingTime]
    interpretation: list[OnAirTime]
    listening: list[ChannelUse]
    lifecycle: list[LifecycleEntry]
    timeline: list[TimelinePoint]
    timeline_step_s: int
    floor_by_delegation: list[FloorByDelegation]
    floor_by_language: list[FloorByLanguage]
    booths: list[BoothUse]
    quality: list[QualityByRole]
    quality_histogram: list[QualityBucket]
    failed_joins: list[FailedJoinCount]
    delegations: list[DelegationCountry]
    not_recorded: list[str]  # what MIRP does not keep, so the report cannot show


# everything the report shows is recorded now (quality samples, refused joins: migration 0004)
NOT_RECORDED: list[str] = []
TIMELINE_POINTS = 120  # at most about this many points: a whole minute step, at least 60 s


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
        extra = [await _rows(session, t.QualitySample, meeting.id, t.QualitySample.at),
                 await _rows(session, t.FailedJoin, meeting.id, t.FailedJoin.at)]
        countries: dict[str, str | None] = {
            i: c for i, c in await session.execute(select(t.Invitation.id, t.Invitation.country)
                                                   .where(t.Invitation.meeting_id == meeting.id))}
    report = await work.run(compute_report, summary, t.utcnow(), *tables)
    report.update(await work.run(fold_connections, extra[0], extra[1], tables[0], countries))
    return report


def compute_report(summary: dict[str, Any], now: datetime, participants: list[Any],
                   attendance: list[Any], speaking: list[Any], on_air: list[Any],
                   listening: list[Any], lifecycle: list[Any]) -> dict[str, Any]:
    """The report from the meeting's rows (pure: runs in a worker)."""
    people = {p.id: p for p in participants}

    # presence: each join pairs with the next leave of the same participant (a join without a
    # leave is still present: counted until now)
    present: dict[str, dict[str, Any]] = {}
    opened: dict[str, datetime] = {}
    intervals: list[tuple[str, datetime, datetime | None]] = []  # None: still present
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
                intervals.append((a.participant_id, start, a.at))
    for pid, start in opened.items():
        present[pid]["present_s"] += _seconds(start, now)
        intervals.append((pid, start, None))
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

    closed = [c.at for c in lifecycle if c.kind == "closed"]
    step, timeline = _timeline(present, intervals, closed[-1] if closed else now)
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
        "timeline": timeline,
        "timeline_step_s": step,
        **_floor_and_booths(speaking, on_air, present, people),
        "not_recorded": list(NOT_RECORDED),
    }


def _timeline(present: dict[str, dict[str, Any]],
              intervals: list[tuple[str, datetime, datetime | None]],
              end: datetime) -> tuple[int, list[dict[str, Any]]]:
    """Presence sampled every `step` seconds from the first join to the meeting's close (or
    now): at most about TIMELINE_POINTS points, whatever the meeting's length."""
    if not intervals:
        return 60, []
    first = min(start for _, start, _ in intervals)
    span = max(0.0, (end - first).total_seconds())
    step = max(60, math.ceil(span / TIMELINE_POINTS / 60) * 60)
    points = []
    for k in range(int(span // step) + 1):
        at = first + timedelta(seconds=k * step)
        here = {pid for pid, start, stop in intervals
                if start <= at and (stop is None or at < stop)}
        by_role: dict[str, int] = defaultdict(int)
        by_delegation: dict[str, int] = defaultdict(int)
        for pid in here:
            by_role[present[pid]["role"]] += 1
            if present[pid]["delegation"]:
                by_delegation[present[pid]["delegation"]] += 1
        points.append({"at": at, "present": len(here), "by_role": dict(sorted(by_role.items())),
                       "by_delegation": dict(sorted(by_delegation.items()))})
    return step, points


def _floor_and_booths(speaking: list[Any], on_air: list[Any],
                      present: dict[str, dict[str, Any]],
                      people: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Floor time per delegation and per floor language; each booth's on-air time and
    handovers (turns come sorted by start)."""
    def delegation(pid: str) -> str | None:
        p = people.get(pid)
        got = p.delegation if p else present.get(pid, {}).get("delegation")
        return got if isinstance(got, str) else None

    by_delegation: dict[str | None, dict[str, Any]] = {}
    by_language: dict[str | None, dict[str, Any]] = {}
    for turn in speaking:
        seconds = _seconds(turn.started_at, turn.ended_at)
        d = delegation(turn.participant_id)
        for table, key, name in ((by_delegation, d, "delegation"),
                                 (by_language, turn.floor_language, "language")):
            e = table.setdefault(key, {name: key, "turns": 0, "seconds": 0.0})
            e["turns"] += 1
            e["seconds"] += seconds
    booths: dict[str, dict[str, Any]] = {}
    last: dict[str, str] = {}
    who: dict[str, set[str]] = defaultdict(set)
    for turn in on_air:
        e = booths.setdefault(turn.booth, {"booth": turn.booth, "turns": 0, "seconds": 0.0,
                                           "handovers": 0, "interpreters": 0})
        e["turns"] += 1
        e["seconds"] += _seconds(turn.started_at, turn.ended_at)
        if turn.booth in last and last[turn.booth] != turn.participant_id:
            e["handovers"] += 1
        last[turn.booth] = turn.participant_id
        who[turn.booth].add(turn.participant_id)
    for booth, e in booths.items():
        e["interpreters"] = len(who[booth])

    def ordered(table: dict[Any, dict[str, Any]]) -> list[dict[str, Any]]:
        items = sorted(table.values(), key=lambda e: (-e["seconds"], str(e)))
        return [{**e, "seconds": round(e["seconds"], 1)} for e in items]

    return {"floor_by_delegation": ordered(by_delegation),
            "floor_by_language": ordered(by_language),
            "booths": [{**e, "seconds": round(e["seconds"], 1)}
                       for _, e in sorted(booths.items())]}


def report_csv(report: dict[str, Any], table: str) -> str:
    """One of the report's lists as CSV (a header row; nested counts such as a timeline
    point's `by_role` become one column per key, `by_role.chair`), the same values as the
    JSON's."""
    items = MeetingReport.model_validate(report).model_dump(mode="json")[table]
    columns: list[str] = []
    for item in items:
        for key, value in item.items():
            names = ([f"{key}.{k}" for k in value] if isinstance(value, dict) else [key])
            columns += [n for n in names if n not in columns]
    lines = []
    for item in items:
        flat = {f"{k}.{kk}" if isinstance(v, dict) else k: vv
                for k, v in item.items()
                for kk, vv in (v.items() if isinstance(v, dict) else [(None, v)])}
        lines.append([flat.get(c, 0 if "." in c else None) for c in columns])
    return csv_text(columns, lines)
