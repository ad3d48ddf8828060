"""A generator of plausible meeting history, for the trends benchmark (bench/trends.py) and
tests: N meetings over some years, each with what its room would have recorded.

Plausible means shaped like the real thing, not uniform noise: meetings of 8 to 60
participants (a chair, delegations from a pool of 193 names, a few observers, two
interpreters per booth for 1 to 5 booths), a morning or afternoon of two to four hours;
every participant joins and leaves (a few twice); 15 to 60 speaking turns of 20 s to 8 min
in the meeting's languages; each booth hands over every 30 minutes between its two
interpreters, into its channel and sometimes the retour; listeners on one or two channels.
Deterministic for a given seed.

Rows go in with multi-row INSERTs of a few thousand (SQLAlchemy Core), in one transaction per
batch of meetings, so 10,000 meetings (about a million rows) take tens of seconds.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert

from mirp.store import tables as t
from mirp.store.countries import ISO_3166_1
from mirp.store.db import Database

LANGUAGES = ["en", "fr", "es", "ar", "zh", "ru", "de", "pt", "it", "ja"]
DELEGATIONS = [f"Delegation {i:03d}" for i in range(193)]
# one country per delegation (the first 193 codes): the trends count the countries of the
# invitations used
COUNTRY_OF = dict(zip(DELEGATIONS, sorted(ISO_3166_1), strict=False))
TABLES = (t.Invitation, t.Participant, t.Attendance, t.SpeakingTurn, t.OnAirTurn, t.Listening,
          t.Lifecycle, t.QualitySample, t.QualityTotal)
GRADES = ("good",) * 7 + ("fair",) * 2 + ("poor",)


def organizers(count: int) -> list[dict[str, Any]]:
    created = datetime(2020, 1, 1, tzinfo=UTC)
    return [{"id": f"hist-o{i}", "email": f"organizer{i}@history.example",
             "name": f"Organizer {i}", "password_hash": "-", "is_admin": i == 0,
             "created_at": created} for i in range(count)]


def _quality(n: int, mid: str, people: list[tuple[str, str, str | None, str | None]],
             start: datetime, seconds: int, every_s: int) -> list[dict[str, Any]]:
    """A quality sample per participant every `every_s` (its own random stream, so the rest of
    the history is the same with or without samples)."""
    rng = random.Random(n)
    return [{"meeting_id": mid, "participant_id": pid, "role": role, "at":
             start + timedelta(seconds=s), "grade": rng.choice(GRADES),
             "rtt_ms": round(rng.uniform(15, 400), 1), "loss": round(rng.uniform(0, 0.05), 4),
             "jitter_ms": None}
            for pid, role, _d, _b in people for s in range(0, seconds, every_s)]


def _meeting(rng: random.Random, n: int, owner: str, start: datetime,
             quality_every_s: int | None = None) -> dict[str, list[Any]]:
    """One meeting's rows: {table name: [row dicts]}."""
    mid = f"hist-m{n}"
    langs = rng.sample(LANGUAGES, rng.randint(2, 6))
    hours = rng.choice((2, 3, 3, 4))
    end = start + timedelta(hours=hours)
    rows: dict[str, list[Any]] = {tab.__tablename__: [] for tab in TABLES}
    rows["meetings"] = [{
        "id": mid, "owner_id": owner, "title": f"Session {n}", "starts_at": start,
        "ends_at": end, "languages": langs, "under_levels_db": [-12, -18],
        "capacity": 500, "status": "closed", "registration_open": False,
        "created_at": start - timedelta(days=14), "updated_at": end}]
    people: list[tuple[str, str, str | None, str | None]] = [(f"{mid}c", "chair", None, None)]
    for d in rng.sample(DELEGATIONS, rng.randint(5, 40)):
        people.append((f"{mid}p{len(people)}", "delegate", d, None))
    people += [(f"{mid}p{len(people) + i}", "observer", None, None)
               for i in range(rng.randint(0, 4))]
    booths = langs[1:]
    for booth in booths:
        people += [(f"{mid}p{len(people) + i}", "interpreter", None, booth) for i in range(2)]
    seconds = hours * 3600
    for pid, role, delegation, seat in people:
        language = seat or rng.choice(langs)
        invitation = None
        if delegation is not None:  # a named invitation per delegate, used once, with a country
            invitation = f"{pid}i"
            rows["invitations"].append({
                "id": invitation, "meeting_id": mid, "role": role, "booth": seat, "name": pid,
                "delegation": delegation, "language": language,
                "country": COUNTRY_OF[delegation], "max_uses": 1, "uses": 1,
                "expires_at": end + timedelta(days=14), "created_at": start - timedelta(days=7)})
        rows["participants"].append({
            "id": pid, "meeting_id": mid, "name": pid, "role": role, "delegation": delegation,
            "booth": seat, "language": language, "joined_at": start,
            "invitation_id": invitation})
        joins = 2 if rng.random() < 0.1 else 1
        span = seconds // joins
        for j in range(joins):
            came = start + timedelta(seconds=j * span + rng.randint(0, 600))
            left = start + timedelta(seconds=(j + 1) * span - rng.randint(0, 300))
            for kind, at in (("join", came), ("leave", left)):
                rows["attendance"].append({
                    "meeting_id": mid, "participant_id": pid, "name": pid, "role": role,
                    "kind": kind, "at": at, "delegation": delegation, "booth": seat,
                    "channel": None})
        if role != "interpreter":
            channel = "floor" if rng.random() < 0.4 else rng.choice(langs)
            rows["listening"].append({
                "meeting_id": mid, "participant_id": pid, "channel": channel,
                "under_level_db": -18, "started_at": start + timedelta(seconds=30),
                "ended_at": end - timedelta(seconds=rng.randint(0, 900))})
    speakers = [p for p in people if p[1] in ("chair", "delegate")]
    at = start + timedelta(seconds=60)
    for _ in range(rng.randint(15, 60)):
        pid, role, _d, _b = rng.choice(speakers)
        length = rng.randint(20, 480)
        if at + timedelta(seconds=length) > end:
            break
        rows["speaking_turns"].append({
            "meeting_id": mid, "participant_id": pid, "started_at": at,
            "ended_at": at + timedelta(seconds=length),
            "floor_language": rng.choice(langs)})
        at += timedelta(seconds=length + rng.randint(5, 90))
    for booth in booths:
        pair = [p[0] for p in people if p[3] == booth]
        for k in range(hours * 2):
            on = start + timedelta(minutes=30 * k)
            channel = booth if rng.random() < 0.85 else langs[0]
            rows["on_air_turns"].append({
                "meeting_id": mid, "participant_id": pair[k % 2], "booth": booth,
                "channel": channel, "started_at": on,
                "ended_at": on + timedelta(minutes=30) - timedelta(seconds=rng.randint(0, 60))})
    if quality_every_s:  # the samples, and their totals as Admission.record keeps them
        q = rows["quality_samples"] = _quality(n, mid, people, start, seconds, quality_every_s)
        rows["quality_totals"] = [{
            "meeting_id": mid, "samples": len(q),
            **{g: sum(s["grade"] == g for s in q) for g in ("good", "fair", "poor")},
            "rtt_ms_sum": sum(s["rtt_ms"] for s in q), "rtt_samples": len(q)}]
    rows["lifecycle"] = [{"meeting_id": mid, "kind": "opened", "at": start, "by": None,
                          "detail": None},
                         {"meeting_id": mid, "kind": "closed", "at": end, "by": None,
                          "detail": None}]
    return rows


def meetings(count: int, owners: int = 20, seed: int = 17,
             first: datetime = datetime(2021, 1, 4, tzinfo=UTC),
             years: float = 5.0,
             quality_every_s: int | None = None) -> Iterator[dict[str, list[Any]]]:
    """`count` meetings spread over `years` from `first`, owners chosen at random (with a
    quality sample per participant every `quality_every_s`: None, none)."""
    rng = random.Random(seed)
    span_days = int(365 * years)
    for n in range(count):
        day = first + timedelta(days=rng.randrange(span_days))
        start = day.replace(hour=rng.choice((9, 10, 14, 15)))
        yield _meeting(rng, n, f"hist-o{rng.randrange(owners)}", start, quality_every_s)


async def write(db: Database, count: int, owners: int = 20, seed: int = 17,
                batch: int = 250, quality_every_s: int | None = None) -> dict[str, int]:
    """Write the organizers and `count` meetings of history; the number of rows per table."""
    totals: dict[str, int] = {}
    async with db.engine.begin() as conn:
        await conn.execute(insert(t.Organizer), organizers(owners))
    pending: dict[str, list[Any]] = {}

    async def flush() -> None:
        async with db.engine.begin() as conn:
            for table in (t.Meeting, *TABLES):
                name = table.__tablename__
                if pending.get(name):
                    await conn.execute(insert(table), pending[name])
                    totals[name] = totals.get(name, 0) + len(pending[name])
        pending.clear()

    for n, rows in enumerate(meetings(count, owners, seed, quality_every_s=quality_every_s), 1):
        for name, items in rows.items():
            pending.setdefault(name, []).extend(items)
        if n % batch == 0:
            await flush()
    await flush()
    return totals
