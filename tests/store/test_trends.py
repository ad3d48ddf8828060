"""The trends (store/trends.py) on a small hand-made history, on a real SQLite file and a real
PostgreSQL: every number equals the one worked out by hand, per month and per quarter, and an
organizer never sees another's meetings."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from mirp.config import Settings
from mirp.errors import InvalidInput
from mirp.rooms.model import QualityRecord, Role
from mirp.store import tables as t
from mirp.store.admission import Admission
from mirp.store.db import Database
from mirp.store.trends import trends, trends_csv


def at(day: str, seconds: int = 0) -> datetime:
    return datetime.fromisoformat(day).replace(tzinfo=UTC) + timedelta(seconds=seconds)


async def history(db: Database) -> dict[str, t.Organizer]:
    """Organizer a: four meetings (January x2, February unheld, April without a start date);
    organizer b: one in January; admin: none of their own."""
    orgs = {k: t.Organizer(id=f"o{k}", email=f"{k}@x.example", name=k, password_hash="-",
                           is_admin=(k == "admin"), created_at=at("2025-12-01"))
            for k in ("a", "b", "admin")}
    rows: list[Any] = list(orgs.values())

    def meeting(mid: str, owner: str, starts: datetime | None, created: str) -> None:
        rows.append(t.Meeting(id=mid, owner_id=f"o{owner}", title=mid, starts_at=starts,
                              languages=["en", "fr"], under_levels_db=[0],
                              created_at=at(created), updated_at=at(created)))

    def person(pid: str, mid: str, role: str, delegation: str | None) -> None:
        rows.append(t.Participant(id=pid, meeting_id=mid, name=pid, role=role,
                                  delegation=delegation, joined_at=at("2026-01-01")))

    def spoke(mid: str, pid: str, start: datetime, seconds: int, lang: str | None) -> None:
        rows.append(t.SpeakingTurn(meeting_id=mid, participant_id=pid, started_at=start,
                                   ended_at=start + timedelta(seconds=seconds),
                                   floor_language=lang))

    def on_air(mid: str, pid: str, channel: str, start: datetime, seconds: int) -> None:
        rows.append(t.OnAirTurn(meeting_id=mid, participant_id=pid, booth="fr",
                                channel=channel, started_at=start,
                                ended_at=start + timedelta(seconds=seconds)))

    def invitation(mid: str, country: str | None, uses: int) -> None:
        rows.append(t.Invitation(id=f"{mid}-{country}-{uses}", meeting_id=mid, role="delegate",
                                 country=country, uses=uses, expires_at=at("2027-01-01")))

    samples: list[QualityRecord] = []

    def sample(mid: str, pid: str, grade: str, rtt_ms: float | None) -> None:
        samples.append(QualityRecord(mid, pid, Role.DELEGATE, grade, at("2026-01-10T10:00"),
                                     None if rtt_ms is None else rtt_ms / 1000, 0.0))

    m1 = at("2026-01-10T10:00")
    meeting("m1", "a", m1, "2025-12-20")
    for pid, role, deleg in (("c1", "chair", None), ("d1", "delegate", "FRA"),
                             ("d2", "delegate", "DEU"), ("i1", "interpreter", None)):
        person(pid, "m1", role, deleg)
    spoke("m1", "c1", m1, 60, "en")
    spoke("m1", "d1", m1 + timedelta(minutes=2), 120, "fr")
    spoke("m1", "d2", m1 + timedelta(minutes=5), 180, "de")
    on_air("m1", "i1", "fr", m1, 300)
    on_air("m1", "i1", "en", m1 + timedelta(minutes=10), 60)
    # countries: of the invitations used (the unused Italian one does not count)
    invitation("m1", "FR", 1)
    invitation("m1", "DE", 2)
    invitation("m1", "IT", 0)
    invitation("m1", None, 3)
    # quality: 4 samples in m1 (2 good, 1 fair, 1 poor; RTT 40, 120, 80 ms, one unmeasured)
    sample("m1", "d1", "good", 40.0)
    sample("m1", "d1", "fair", 120.0)
    sample("m1", "d2", "poor", None)
    sample("m1", "i1", "good", 80.0)
    meeting("m2", "a", at("2026-01-20T09:00"), "2025-12-20")
    person("d3", "m2", "delegate", "FRA")
    meeting("m3", "a", at("2026-02-05T09:00"), "2025-12-20")
    meeting("m4", "a", None, "2026-04-02T08:00")
    person("c4", "m4", "chair", None)
    person("d4", "m4", "delegate", "ITA")
    spoke("m4", "c4", at("2026-04-03"), 600, None)
    spoke("m4", "d4", at("2026-04-03T01:00"), 1200, "it")
    m5 = at("2026-01-15T23:30")
    meeting("m5", "b", m5, "2025-12-20")
    person("d5", "m5", "delegate", "ESP")
    spoke("m5", "d5", m5, 30, "es")
    on_air("m5", "d5", "en", m5, 3600)
    invitation("m5", "ES", 1)
    sample("m5", "d5", "good", 200.0)
    async with db.session() as session:
        session.add_all(rows[:3])
        await session.flush()
        session.add_all([r for r in rows[3:] if isinstance(r, t.Meeting)])
        await session.flush()
        session.add_all([r for r in rows[3:] if not isinstance(r, t.Meeting)])
    # as the rooms do: in two batches, so the per-meeting totals are added to, not just made
    admission = Admission(db, Settings())
    await admission.record(samples[:2])
    await admission.record(samples[2:])
    return orgs


def row(period: str, meetings: int, held: int = 0, people: int = 0, interpreters: int = 0,
        delegations: int = 0, languages: tuple[str, ...] = (), interp_h: float = 0.0,
        turns: int = 0, floor_h: float = 0.0, share: float | None = None, countries: int = 0,
        quality: tuple[int, float, float, float, float | None] | None = None
        ) -> dict[str, Any]:
    samples, good, fair, poor, rtt = quality or (0, None, None, None, None)
    return {"period": period, "meetings": meetings, "meetings_held": held,
            "participants": people, "interpreters": interpreters, "delegations": delegations,
            "languages": list(languages), "interpretation_hours": interp_h,
            "speaking_turns": turns, "floor_hours": floor_h, "delegation_floor_share": share,
            "countries": countries, "quality_samples": samples, "quality_good_share": good,
            "quality_fair_share": fair, "quality_poor_share": poor, "rtt_ms_mean": rtt}


A_JAN = row("2026-01", 2, 2, 5, 1, 2, ("de", "en", "fr"), 0.1, 3, 0.1, 0.8333,
            countries=2, quality=(4, 0.5, 0.25, 0.25, 80.0))
A_FEB = row("2026-02", 1)
A_APR = row("2026-04", 1, 1, 2, 0, 1, ("it",), 0.0, 2, 0.5, 0.6667)


async def test_an_organizer_sees_their_own_months_exactly(db: Database) -> None:
    orgs = await history(db)
    result = await trends(db, orgs["a"], period="month")
    assert result.scope == "own"
    assert [r.model_dump() for r in result.rows] == [A_JAN, A_FEB, A_APR]
    assert result.not_recorded == []


async def test_quarters_add_the_months_up(db: Database) -> None:
    orgs = await history(db)
    result = await trends(db, orgs["a"], period="quarter")
    assert [r.model_dump() for r in result.rows] == [
        {**A_JAN, "period": "2026-Q1", "meetings": 3},
        {**A_APR, "period": "2026-Q2"}]


async def test_an_administrator_sees_everyone_and_may_filter(db: Database) -> None:
    orgs = await history(db)
    result = await trends(db, orgs["admin"], period="month")
    assert result.scope == "all"
    assert [r.model_dump() for r in result.rows] == [
        row("2026-01", 3, 3, 6, 1, 3, ("de", "en", "es", "fr"), 1.1, 4, 0.108, 0.8462,
            countries=3, quality=(5, 0.6, 0.2, 0.2, 110.0)),
        A_FEB, A_APR]
    only_b = await trends(db, orgs["admin"], organizer_id="ob")
    assert [r.model_dump() for r in only_b.rows] == [
        row("2026-01", 1, 1, 1, 0, 1, ("en", "es"), 1.0, 1, 0.008, 1.0,
            countries=1, quality=(1, 1.0, 0.0, 0.0, 200.0))]


async def test_an_organizer_cannot_see_another_organizers_meetings(db: Database) -> None:
    orgs = await history(db)
    assert (await trends(db, orgs["a"], organizer_id="ob")).rows == []
    b = await trends(db, orgs["b"])
    assert [r.period for r in b.rows] == ["2026-01"] and b.rows[0].meetings == 1


async def test_the_period_filter_takes_whole_days(db: Database) -> None:
    orgs = await history(db)
    result = await trends(db, orgs["a"], start=date(2026, 1, 15), end=date(2026, 2, 5))
    assert [r.model_dump() for r in result.rows] == [
        row("2026-01", 1, 1, 1, 0, 1), A_FEB]
    with pytest.raises(InvalidInput):
        await trends(db, orgs["a"], start=date(2026, 2, 1), end=date(2026, 1, 1))


async def test_the_csv_says_what_the_json_says(db: Database) -> None:
    orgs = await history(db)
    result = await trends(db, orgs["admin"], period="month")
    lines = trends_csv(result).split("\r\n")
    assert lines[0].split(",") == list(A_JAN)
    first = dict(zip(lines[0].split(","), lines[1].split(","), strict=True))
    assert first == {k: (" ".join(v) if isinstance(v, list) else str(v))
                     for k, v in result.rows[0].model_dump().items()}
    assert lines[2].endswith(",0,0.0,,0,0,,,,") and lines[-1] == ""


async def test_generated_history_agrees_with_a_python_count(db: Database) -> None:
    """The generator's plausible history (tests/support/history.py), counted again in plain
    Python from the same rows: the SQL of both databases gives the same numbers."""
    from collections import defaultdict

    from tests.support import history

    await history.write(db, 40, owners=3)
    expected: dict[str, dict[str, Any]] = defaultdict(lambda: {
        "meetings": 0, "meetings_held": 0, "participants": 0, "interpreters": 0,
        "delegations": set(), "languages": set(), "interp": 0.0, "turns": 0, "floor": 0.0,
        "by_delegations": 0.0, "countries": set()})
    for rows in history.meetings(40, owners=3):
        (m,) = rows["meetings"]
        e = expected[m["starts_at"].strftime("%Y-%m")]
        e["meetings"] += 1
        e["meetings_held"] += bool(rows["participants"])
        e["participants"] += len(rows["participants"])
        e["interpreters"] += sum(p["role"] == "interpreter" for p in rows["participants"])
        e["delegations"] |= {p["delegation"] for p in rows["participants"] if p["delegation"]}
        e["countries"] |= {i["country"] for i in rows["invitations"] if i["uses"] and i["country"]}
        chairs = {p["id"] for p in rows["participants"] if p["role"] == "chair"}
        for s in rows["speaking_turns"]:
            seconds = (s["ended_at"] - s["started_at"]).total_seconds()
            e["turns"] += 1
            e["floor"] += seconds
            e["by_delegations"] += 0 if s["participant_id"] in chairs else seconds
            e["languages"].add(s["floor_language"])
        for o in rows["on_air_turns"]:
            e["interp"] += (o["ended_at"] - o["started_at"]).total_seconds()
            e["languages"].add(o["channel"])
    admin = t.Organizer(id="hist-o0", email="-", name="-", password_hash="-", is_admin=True)
    got = {r.period: r for r in (await trends(db, admin)).rows}
    assert sorted(got) == sorted(expected)
    for period, e in expected.items():
        r = got[period]
        assert (r.meetings, r.meetings_held, r.participants, r.interpreters, r.delegations,
                r.languages, r.speaking_turns, r.countries) == (
            e["meetings"], e["meetings_held"], e["participants"], e["interpreters"],
            len(e["delegations"]), sorted(e["languages"]), e["turns"],
            len(e["countries"])), period
        assert r.interpretation_hours == pytest.approx(e["interp"] / 3600, abs=0.0011)
        assert r.floor_hours == pytest.approx(e["floor"] / 3600, abs=0.0011)
        assert r.delegation_floor_share == pytest.approx(e["by_delegations"] / e["floor"],
                                                         abs=0.00011)
