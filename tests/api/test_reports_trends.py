"""GET /api/trends over HTTP on the real app (SQLite file): an organizer's own meetings only,
the CSV (by Accept and by .csv) says what the JSON says, bad ranges are 422s."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from mirp.store import tables as t
from tests.api.conftest import Org, error
from tests.support.factory import standard_meeting_body

pytestmark = pytest.mark.asyncio(loop_scope="package")


async def _meeting(org: Org, starts: str) -> str:
    r = await org.post("/api/meetings", standard_meeting_body(
        starts_at=starts, ends_at=None, title=f"Plenary {starts}"))
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def _history(app: FastAPI, mid: str, delegation: str, seconds: int) -> None:
    """What a room would have recorded: one delegate who spoke, one interpreter on air."""
    start = datetime(2026, 3, 2, 9, tzinfo=UTC)
    async with app.state.db.session() as session:
        session.add_all([
            t.Participant(id=f"{mid}d", meeting_id=mid, name="D", role="delegate",
                          delegation=delegation),
            t.Participant(id=f"{mid}i", meeting_id=mid, name="I", role="interpreter",
                          booth="fr")])
        await session.flush()
        session.add_all([
            t.SpeakingTurn(meeting_id=mid, participant_id=f"{mid}d", started_at=start,
                           ended_at=start + timedelta(seconds=seconds), floor_language="en"),
            t.OnAirTurn(meeting_id=mid, participant_id=f"{mid}i", booth="fr", channel="fr",
                        started_at=start, ended_at=start + timedelta(seconds=seconds))])


async def test_trends_show_only_ones_own_meetings(app: FastAPI, org: Org, other: Org) -> None:
    mine = await _meeting(org, "2026-03-02T09:00:00Z")
    await _meeting(org, "2026-05-10T09:00:00Z")
    theirs = await _meeting(other, "2026-03-03T09:00:00Z")
    await _history(app, mine, "FRA", 1800)
    await _history(app, theirs, "DEU", 7200)
    r = await org.get("/api/trends", params={"period": "quarter"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["scope"] == "own" and body["not_recorded"] == []
    assert [(row["period"], row["meetings"], row["meetings_held"], row["participants"],
             row["interpreters"], row["delegations"], row["languages"],
             row["interpretation_hours"], row["speaking_turns"], row["floor_hours"],
             row["delegation_floor_share"]) for row in body["rows"]] == [
        ("2026-Q1", 1, 1, 2, 1, 1, ["en", "fr"], 0.5, 1, 0.5, 1.0),
        ("2026-Q2", 1, 0, 0, 0, 0, [], 0.0, 0, 0.0, None)]
    # the other organizer's id as a filter: nothing, not an error
    other_id = (await other.get("/api/auth/me")).json()["id"]
    none = await org.get("/api/trends", params={"organizer": other_id})
    assert none.status_code == 200 and none.json()["rows"] == []
    ranged = await org.get("/api/trends", params={"from": "2026-04-01", "to": "2026-05-31"})
    assert [row["period"] for row in ranged.json()["rows"]] == ["2026-05"]


def _parsed(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def _as_cells(row: dict[str, Any]) -> dict[str, str]:
    return {k: (" ".join(v) if isinstance(v, list) else "" if v is None else str(v))
            for k, v in row.items()}


async def test_the_csv_equals_the_json(app: FastAPI, org: Org) -> None:
    mid = await _meeting(org, "2026-03-02T09:00:00Z")
    await _meeting(org, "2026-07-01T09:00:00Z")
    await _history(app, mid, "=SUM(A1)", 900)
    rows = (await org.get("/api/trends")).json()["rows"]
    by_accept = await org.client.get("/api/trends",
                                     headers={**org.headers, "Accept": "text/csv"})
    by_path = await org.get("/api/trends.csv")
    for r in (by_accept, by_path):
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
        assert _parsed(r.text) == [_as_cells(row) for row in rows]
    assert len(rows) == 2


async def test_bad_requests_are_clear(client: httpx.AsyncClient, org: Org) -> None:
    error(await org.get("/api/trends", params={"from": "2026-05-01", "to": "2026-01-01"}),
          422, "invalid_input")
    assert (await org.get("/api/trends", params={"period": "week"})).status_code == 422
    assert (await org.get("/api/trends", params={"from": "yesterday"})).status_code == 422
    assert (await client.get("/api/trends")).status_code == 401
