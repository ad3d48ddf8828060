"""Trends of e-participation over months or quarters, computed by the database.

Each meeting belongs to the period of its date (`starts_at`, else `created_at`), in UTC. A
handful of GROUP BY queries, one per record table, read the append-only records
(participants, speaking turns, on-air turns) of the meetings in scope; the indexes of
migration 0003 carry every column they read, so neither database visits the tables
themselves. The bucket and duration expressions are the only dialect-specific parts: SQLite
keeps timestamps as ISO text (strftime, julianday), PostgreSQL as timestamptz (to_char of the
UTC time, extract epoch).

Scope: an organizer sees their own meetings; an administrator (`Organizer.is_admin`) sees all,
and may narrow to one organizer. A non-administrator asking for someone else's meetings gets
empty periods, exactly as for an organizer with no meetings (ids cannot be probed).

Countries come from the invitations that were used (a delegation's optional ISO 3166-1 code);
quality from the per-meeting totals of the Room's quality samples (`quality_totals`, kept by
Admission.record: one row per meeting, where the samples are thousands): the share of samples
per grade and their mean RTT (a mean, not a median: it adds up from totals).
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal

from pydantic import BaseModel
from sqlalchemy import Float, Integer, String, case, cast, distinct, func, literal, select
from sqlalchemy.sql.elements import ColumnElement

from mirp.errors import InvalidInput
from mirp.store import tables as t
from mirp.store.db import Database

Period = Literal["month", "quarter"]
NOT_RECORDED: list[str] = []
MAX_SPAN_DAYS = 366 * 20  # a generous bound: twenty years of periods in one answer


class TrendRow(BaseModel):
    """One period's numbers (hours rounded to 0.001, shares to 0.0001)."""

    period: str  # 2026-03 (month) or 2026-Q1 (quarter)
    meetings: int  # meetings dated in the period
    meetings_held: int  # of them, meetings somebody joined
    participants: int  # participant identities (one per successful join), every role
    interpreters: int  # of them, interpreters
    delegations: int  # distinct delegation names
    languages: list[str]  # floor languages spoken and interpretation channels, sorted
    interpretation_hours: float  # on-air time of the booths
    speaking_turns: int
    floor_hours: float
    delegation_floor_share: float | None  # floor time not held by a chair (None: nobody spoke)
    countries: int  # distinct countries of the invitations used (ISO 3166-1 alpha-2)
    quality_samples: int  # connection quality samples (at most one per participant a minute)
    quality_good_share: float | None  # of those samples, graded good (None: no sample)
    quality_fair_share: float | None
    quality_poor_share: float | None
    rtt_ms_mean: float | None  # mean round-trip time of the samples that measured it


class Trends(BaseModel):
    period: Period
    start: date | None
    end: date | None
    organizer_id: str | None  # the filter asked for (None: every meeting in scope)
    scope: Literal["own", "all"]
    not_recorded: list[str]
    rows: list[TrendRow]


CSV_COLUMNS = ["period", "meetings", "meetings_held", "participants", "interpreters",
               "delegations", "languages", "interpretation_hours", "speaking_turns",
               "floor_hours", "delegation_floor_share", "countries", "quality_samples",
               "quality_good_share", "quality_fair_share", "quality_poor_share", "rtt_ms_mean"]


def _bucket(dialect: str, when: Any, period: Period) -> ColumnElement[str]:
    if dialect == "postgresql":
        utc = func.timezone("UTC", when)
        return func.to_char(utc, "YYYY-MM" if period == "month" else 'YYYY-"Q"Q')
    if period == "month":
        return func.strftime("%Y-%m", when)
    quarter = (cast(func.strftime("%m", when), Integer) + 2) // 3
    return func.strftime("%Y", when) + literal("-Q") + cast(quarter, String)


def _seconds(dialect: str, start: Any, end: Any) -> ColumnElement[float]:
    if dialect == "postgresql":
        return cast(func.extract("epoch", end - start), Float)
    return (func.julianday(end) - func.julianday(start)) * 86400.0


def _day(d: date) -> datetime:
    return datetime.combine(d, time(0), tzinfo=UTC)


def check_range(start: date | None, end: date | None) -> None:
    if start and end and start > end:
        raise InvalidInput("from: after to", {"field": "from"})
    if start and end and (end - start).days > MAX_SPAN_DAYS:
        raise InvalidInput("from..to: at most twenty years", {"field": "to"})


async def trends(db: Database, organizer: t.Organizer, *, period: Period = "month",
                 start: date | None = None, end: date | None = None,
                 organizer_id: str | None = None) -> Trends:
    """The periods between `start` and `end` (both days included) that have meetings."""
    check_range(start, end)
    dialect = db.dialect
    m = t.Meeting
    when = func.coalesce(m.starts_at, m.created_at)
    bucket = _bucket(dialect, when, period).label("bucket")
    scope: list[ColumnElement[bool]] = []
    if not organizer.is_admin:
        scope.append(m.owner_id == organizer.id)
    if organizer_id is not None:
        scope.append(m.owner_id == organizer_id)
    if start is not None:
        scope.append(when >= _day(start))
    if end is not None:
        scope.append(when < _day(end + timedelta(days=1)))

    p, s, o = t.Participant, t.SpeakingTurn, t.OnAirTurn

    def narrowed(meeting_id: Any) -> list[ColumnElement[bool]]:
        """The folding below reads only the meetings in scope (none to add: all of them)."""
        return [meeting_id.in_(select(m.id).where(*scope))] if scope else []

    q_meetings = select(bucket, func.count()).where(*scope).group_by(bucket)
    q_people = (select(bucket, func.count(distinct(m.id)), func.count(p.id),
                       func.sum(case((p.role == "interpreter", 1), else_=0)),
                       func.count(distinct(p.delegation)))
                .join(p, p.meeting_id == m.id).where(*scope).group_by(bucket))
    # turns first folded per meeting and language (an index-only scan in index order), so
    # each meeting's bucket is computed once per language, not once per turn; the chairs'
    # ids are one set the database builds once, not a lookup per turn
    chairs = select(p.id).where(p.role == "chair")
    said = _seconds(dialect, s.started_at, s.ended_at)
    per_language = (select(s.meeting_id, s.floor_language, func.count().label("turns"),
                           func.sum(said).label("sec"),
                           func.sum(case((s.participant_id.in_(chairs), 0.0), else_=said))
                           .label("by_delegations"))
                    .where(*narrowed(s.meeting_id))
                    .group_by(s.meeting_id, s.floor_language).subquery())
    q_speaking = (select(bucket, per_language.c.floor_language, func.sum(per_language.c.turns),
                         func.sum(per_language.c.sec), func.sum(per_language.c.by_delegations))
                  .join(per_language, per_language.c.meeting_id == m.id)
                  .where(*scope).group_by(bucket, per_language.c.floor_language))
    per_channel = (select(o.meeting_id, o.channel,
                          func.sum(_seconds(dialect, o.started_at, o.ended_at)).label("sec"))
                   .where(*narrowed(o.meeting_id))
                   .group_by(o.meeting_id, o.channel).subquery())
    q_on_air = (select(bucket, per_channel.c.channel, func.sum(per_channel.c.sec))
                .join(per_channel, per_channel.c.meeting_id == m.id)
                .where(*scope).group_by(bucket, per_channel.c.channel))

    inv, qs = t.Invitation, t.QualityTotal
    q_countries = (select(bucket, func.count(distinct(inv.country)))
                   .join(inv, inv.meeting_id == m.id)
                   .where(*scope, inv.country.is_not(None), inv.uses > 0).group_by(bucket))

    # one row per meeting (kept by Admission.record), not one per sample
    q_quality = (select(bucket, func.sum(qs.samples), func.sum(qs.good), func.sum(qs.fair),
                        func.sum(qs.poor), func.sum(qs.rtt_ms_sum), func.sum(qs.rtt_samples))
                 .join(qs, qs.meeting_id == m.id).where(*scope).group_by(bucket))

    rows: dict[str, dict[str, Any]] = {}

    def row(key: str) -> dict[str, Any]:
        return rows.setdefault(key, {
            "period": key, "meetings": 0, "meetings_held": 0, "participants": 0,
            "interpreters": 0, "delegations": 0, "languages": set(),
            "interpretation_hours": 0.0, "speaking_turns": 0, "floor_hours": 0.0,
            "delegation_floor_share": 0.0, "countries": 0, "quality_samples": 0,
            "quality_good_share": None, "quality_fair_share": None, "quality_poor_share": None,
            "rtt_ms_mean": None})

    async with db.session() as session:
        for key, n in await session.execute(q_meetings):
            row(key)["meetings"] = n
        for key, held, people, interpreters, delegations in await session.execute(q_people):
            row(key).update(meetings_held=held, participants=people,
                            interpreters=int(interpreters or 0), delegations=delegations)
        for key, language, turns, seconds, by_delegations in await session.execute(q_speaking):
            r = row(key)
            r["speaking_turns"] += int(turns)
            r["floor_hours"] += float(seconds or 0.0)
            r["delegation_floor_share"] += float(by_delegations or 0.0)
            if language is not None:
                r["languages"].add(language)
        for key, channel, seconds in await session.execute(q_on_air):
            row(key)["interpretation_hours"] += float(seconds or 0.0)
            row(key)["languages"].add(channel)
        for key, n in await session.execute(q_countries):
            row(key)["countries"] = n
        for key, n, good, fair, poor, rtt_sum, rtt_n in await session.execute(q_quality):
            n = int(n or 0)
            if n == 0:
                continue
            row(key).update(quality_samples=n, rtt_ms_mean=round(float(rtt_sum) / int(rtt_n), 1)
                            if rtt_n else None,
                            **{f"quality_{g}_share": round(int(k or 0) / n, 4) for g, k in
                               (("good", good), ("fair", fair), ("poor", poor))})
    for r in rows.values():  # seconds summed above; hours and the share from them
        floor = r["floor_hours"]
        r["delegation_floor_share"] = (round(r["delegation_floor_share"] / floor, 4)
                                       if floor > 0 else None)
        r["floor_hours"] = round(floor / 3600, 3)
        r["interpretation_hours"] = round(r["interpretation_hours"] / 3600, 3)
    out = [TrendRow(**{**r, "languages": sorted(r["languages"])})
           for _, r in sorted(rows.items())]
    return Trends(period=period, start=start, end=end, organizer_id=organizer_id,
                  scope="all" if organizer.is_admin else "own",
                  not_recorded=list(NOT_RECORDED), rows=out)


def csv_text(columns: list[str], rows: list[list[Any]]) -> str:
    """CSV with a header row (CRLF lines, as the invitations export); text cells a spreadsheet
    would run as a formula are prefixed with `'` (names come from strangers)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    for cells in rows:
        writer.writerow(["" if c is None else
                         ("'" + c if isinstance(c, str) and c[:1] in ("=", "+", "-", "@")
                          else c) for c in cells])
    return out.getvalue()


def trends_csv(result: Trends) -> str:
    """The same numbers as the JSON rows, one line per period (languages space-separated)."""
    lines = []
    for row in result.rows:
        values = row.model_dump()
        values["languages"] = " ".join(row.languages)
        lines.append([values[c] for c in CSV_COLUMNS])
    return csv_text(CSV_COLUMNS, lines)
