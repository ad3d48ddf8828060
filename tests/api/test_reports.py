"""The meeting report's additions (timeline by role and delegation, floor time per delegation
and language, booths with handovers, what is not recorded) from statistics recorded through
Admission.record on the real app, and its CSV tables equal to its JSON lists."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI

from mirp.rooms.model import (
    AttendanceRecord,
    FailedJoinRecord,
    LifecycleRecord,
    ListeningRecord,
    OnAirTurnRecord,
    QualityRecord,
    Role,
    SpeakingTurnRecord,
)
from mirp.store import tables as t
from tests.api.conftest import Org, error
from tests.support.factory import join_token, make_meeting

pytestmark = pytest.mark.asyncio(loop_scope="package")

T0 = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
M = timedelta(minutes=1)


async def _recorded(app: FastAPI, org: Org) -> tuple[str, dict[str, Any]]:
    fx = await make_meeting(app, delegates=2, interpreters={"fr": 2}, observer=False)
    org.headers["Authorization"] = f"Bearer {fx.organizer_token}"
    mid = fx.meeting_id
    chair, d1, d2 = fx.people["chair"], fx.people["delegate1"], fx.people["delegate2"]
    fr1, fr2 = fx.people["interpreter_fr1"], fx.people["interpreter_fr2"]
    await join_token(app, fx, "observer")

    def quality(pid: str, role: Role, *samples: tuple[str, float | None, float | None]
                ) -> list[QualityRecord]:
        return [QualityRecord(mid, pid, role, grade, T0 + k * M, rtt=rtt, loss=loss)
                for k, (grade, rtt, loss) in enumerate(samples)]

    def came(p: Any, role: Role, at: int, left: int) -> list[AttendanceRecord]:
        return [AttendanceRecord(mid, p.participant_id, p.name, role, "join", T0 + at * M,
                                 delegation=p.delegation),
                AttendanceRecord(mid, p.participant_id, p.name, role, "leave", T0 + left * M,
                                 delegation=p.delegation)]

    await app.state.admission.record([
        LifecycleRecord(mid, "opened", T0, by=chair.participant_id),
        *came(chair, Role.CHAIR, 0, 60), *came(d1, Role.DELEGATE, 0, 30),
        *came(d2, Role.DELEGATE, 10, 60), *came(fr1, Role.INTERPRETER, 0, 60),
        SpeakingTurnRecord(mid, chair.participant_id, T0, T0 + M, "en"),
        SpeakingTurnRecord(mid, d1.participant_id, T0 + 2 * M, T0 + 5 * M, "fr"),
        SpeakingTurnRecord(mid, d2.participant_id, T0 + 12 * M, T0 + 14 * M, "en"),
        OnAirTurnRecord(mid, fr1.participant_id, "fr", "fr", T0, T0 + 20 * M),
        OnAirTurnRecord(mid, fr2.participant_id, "fr", "fr", T0 + 20 * M, T0 + 40 * M),
        OnAirTurnRecord(mid, fr1.participant_id, "fr", "en", T0 + 40 * M, T0 + 50 * M),
        ListeningRecord(mid, d1.participant_id, "fr", -18, T0, T0 + 10 * M),
        LifecycleRecord(mid, "closed", T0 + 60 * M),
        *quality(d1.participant_id, Role.DELEGATE, ("good", 0.04, 0.0), ("fair", 0.12, 0.02)),
        *quality(d2.participant_id, Role.DELEGATE, ("poor", 0.5, 0.2), ("good", None, None)),
        *quality(fr1.participant_id, Role.INTERPRETER, ("good", 0.03, 0.0)),
        FailedJoinRecord(mid, "revoked", T0, d2.participant_id, Role.DELEGATE),
        FailedJoinRecord(mid, "meeting_full", T0 + M),
        FailedJoinRecord(mid, "revoked", T0 + 2 * M),
        FailedJoinRecord(mid, "revoked", T0 + 3 * M),
    ])
    async with app.state.db.session() as session:  # delegate1's delegation says its country
        inv = await session.get(t.Invitation, d1.invitation_id)
        inv.country = "FR"
    r = await org.get(f"/api/meetings/{mid}/report")
    assert r.status_code == 200, r.text
    return mid, {"report": r.json(), "fx": fx}


async def test_the_report_adds_timeline_floor_and_booths(app: FastAPI, org: Org,
                                                         other: Org) -> None:
    mid, got = await _recorded(app, org)
    rep, fx = got["report"], got["fx"]
    d1, d2 = fx.people["delegate1"], fx.people["delegate2"]
    assert rep["timeline_step_s"] == 60 and len(rep["timeline"]) == 61
    by_minute = {datetime.fromisoformat(p["at"]): p for p in rep["timeline"]}
    assert by_minute[T0]["present"] == 3  # chair, delegate1, the interpreter
    at_20 = by_minute[T0 + 20 * M]
    assert at_20["present"] == 4 and at_20["by_role"] == {
        "chair": 1, "delegate": 2, "interpreter": 1}
    assert at_20["by_delegation"] == {d1.delegation: 1, d2.delegation: 1}
    assert by_minute[T0 + 30 * M]["by_delegation"] == {d2.delegation: 1}  # d1 left at 30
    assert by_minute[T0 + 60 * M]["present"] == 0
    assert rep["floor_by_delegation"] == [
        {"delegation": d1.delegation, "turns": 1, "seconds": 180.0},
        {"delegation": d2.delegation, "turns": 1, "seconds": 120.0},
        {"delegation": None, "turns": 1, "seconds": 60.0}]
    assert rep["floor_by_language"] == [{"language": "en", "turns": 2, "seconds": 180.0},
                                        {"language": "fr", "turns": 1, "seconds": 180.0}]
    assert rep["booths"] == [{"booth": "fr", "turns": 3, "seconds": 3000.0, "handovers": 2,
                              "interpreters": 2}]
    assert rep["not_recorded"] == []
    # unchanged: the earlier fields are as before
    assert rep["listening"] == [{"channel": "fr", "listeners": 1, "seconds": 600.0}]
    error(await other.get(f"/api/meetings/{mid}/report.csv"), 404, "not_found")


async def test_the_report_shows_quality_failed_joins_and_countries(app: FastAPI,
                                                                  org: Org) -> None:
    """Nearest-rank percentiles and histogram buckets worked out by hand from the samples."""
    _, got = await _recorded(app, org)
    rep, fx = got["report"], got["fx"]
    d1, d2 = fx.people["delegate1"], fx.people["delegate2"]
    assert rep["quality"] == [
        {"role": "delegate", "participants": 2, "samples": 4, "good": 2, "fair": 1, "poor": 1,
         "unknown": 0, "rtt_ms_p50": 120.0, "rtt_ms_p90": 500.0, "rtt_ms_p99": 500.0,
         "loss_p50": 0.02, "loss_p90": 0.2, "loss_p99": 0.2},
        {"role": "interpreter", "participants": 1, "samples": 1, "good": 1, "fair": 0,
         "poor": 0, "unknown": 0, "rtt_ms_p50": 30.0, "rtt_ms_p90": 30.0, "rtt_ms_p99": 30.0,
         "loss_p50": 0.0, "loss_p90": 0.0, "loss_p99": 0.0}]
    bars: dict[tuple[str, str], list[int]] = {}
    for b in rep["quality_histogram"]:
        bars.setdefault((b["role"], b["metric"]), []).append(b["samples"])
    assert bars == {("delegate", "rtt_ms"): [1, 0, 1, 0, 1], ("delegate", "loss"): [1, 1, 0, 1],
                    ("interpreter", "rtt_ms"): [1, 0, 0, 0, 0],
                    ("interpreter", "loss"): [1, 0, 0, 0]}
    assert [b["upper"] for b in rep["quality_histogram"][:5]] == [50.0, 100.0, 200.0, 400.0,
                                                                  None]
    assert rep["failed_joins"] == [{"reason": "revoked", "count": 3},
                                   {"reason": "meeting_full", "count": 1}]
    assert rep["delegations"] == [
        {"delegation": d1.delegation, "country": "FR", "participants": 1},
        {"delegation": d2.delegation, "country": None, "participants": 1}]


def _cells(value: Any) -> str:
    return "" if value is None else str(value)


async def test_each_csv_table_equals_the_json_list(app: FastAPI, org: Org) -> None:
    mid, got = await _recorded(app, org)
    rep = got["report"]
    for table in ("attendance", "timeline", "speaking", "floor_by_delegation",
                  "floor_by_language", "interpretation", "booths", "listening", "lifecycle",
                  "quality", "quality_histogram", "failed_joins", "delegations"):
        r = await org.get(f"/api/meetings/{mid}/report.csv", params={"table": table})
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(r.text)))
        assert len(rows) == len(rep[table]) > 0, table
        for row, item in zip(rows, rep[table], strict=True):
            for key, value in item.items():
                if isinstance(value, dict):
                    nested = {c.split(".", 1)[1]: v for c, v in row.items()
                              if c.startswith(key + ".") and v != "0"}
                    assert nested == {k: str(v) for k, v in value.items()}, (table, key)
                elif isinstance(value, float):
                    assert float(row[key]) == value, (table, key)
                else:
                    assert row[key] == _cells(value), (table, key)
    assert (await org.get(f"/api/meetings/{mid}/report.csv",
                          params={"table": "secrets"})).status_code == 422
