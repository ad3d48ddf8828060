"""The report's quality, refused joins and delegations' countries on a real SQLite file and a
real PostgreSQL: records written by Admission.record, numbers worked out by hand, and each CSV
table equal to its JSON list."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

from mirp.config import Settings
from mirp.rooms.model import FailedJoinRecord, QualityRecord, Role
from mirp.store import tables as t
from mirp.store.admission import Admission
from mirp.store.db import Database
from mirp.store.reports import meeting_report, report_csv

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


async def test_quality_failed_joins_and_countries(db: Database, settings: Settings) -> None:
    owner = t.Organizer(id="o1", email="o@x.example", name="O", password_hash="-")
    async with db.session() as session:
        session.add(owner)
        await session.flush()
        session.add(t.Meeting(id="m1", owner_id="o1", title="M", languages=["en", "fr"],
                              under_levels_db=[0]))
        session.add(t.Meeting(id="m2", owner_id="o1", title="other", languages=["en"],
                              under_levels_db=[0]))
        await session.flush()
        for iid, deleg, country in (("i1", "Kenya", "KE"), ("i2", "Peru", None),
                                    ("i3", "Kenya", None)):
            session.add(t.Invitation(id=iid, meeting_id="m1", role="delegate", delegation=deleg,
                                     country=country, uses=1, expires_at=T0 + timedelta(days=9)))
        await session.flush()
        for pid, iid, deleg, role in (("p1", "i1", "Kenya", "delegate"),
                                      ("p2", "i3", "Kenya", "delegate"),
                                      ("p3", "i2", "Peru", "delegate"),
                                      ("c1", None, None, "chair")):
            session.add(t.Participant(id=pid, meeting_id="m1", invitation_id=iid, name=pid,
                                      delegation=deleg, role=role))
    samples = [("p1", "good", 0.02, 0.0), ("p1", "good", 0.06, 0.005),
               ("p2", "fair", 0.18, 0.02), ("p3", "poor", 0.9, 0.15),
               ("p3", "unknown", None, None)]
    await Admission(db, settings).record([
        *(QualityRecord("m1", pid, Role.DELEGATE, grade, T0 + timedelta(minutes=k), rtt, loss)
          for k, (pid, grade, rtt, loss) in enumerate(samples)),
        QualityRecord("m1", "c1", Role.CHAIR, "good", T0, 0.01, 0.0),
        QualityRecord("m2", "x", Role.CHAIR, "poor", T0, 2.0, 0.5),  # another meeting's
        FailedJoinRecord("m1", "removed", T0, "p3", Role.DELEGATE),
        FailedJoinRecord("m1", "unauthorized", T0),
        FailedJoinRecord("m1", "unauthorized", T0 + timedelta(seconds=1)),
        FailedJoinRecord("m1", "closed", T0),
        FailedJoinRecord("gone", "unauthorized", T0),  # no such meeting: dropped
    ])
    rep = await meeting_report(db, owner, "m1")
    # delegates: RTT 20, 60, 180, 900 ms; loss 0, 0.005, 0.02, 0.15 (nearest rank)
    assert rep["quality"] == [
        {"role": "chair", "participants": 1, "samples": 1, "good": 1, "fair": 0, "poor": 0,
         "unknown": 0, "rtt_ms_p50": 10.0, "rtt_ms_p90": 10.0, "rtt_ms_p99": 10.0,
         "loss_p50": 0.0, "loss_p90": 0.0, "loss_p99": 0.0},
        {"role": "delegate", "participants": 3, "samples": 5, "good": 2, "fair": 1, "poor": 1,
         "unknown": 1, "rtt_ms_p50": 60.0, "rtt_ms_p90": 900.0, "rtt_ms_p99": 900.0,
         "loss_p50": 0.005, "loss_p90": 0.15, "loss_p99": 0.15}]
    delegate_bars = [(b["metric"], b["upper"], b["samples"]) for b in rep["quality_histogram"]
                     if b["role"] == "delegate"]
    assert delegate_bars == [
        ("rtt_ms", 50.0, 1), ("rtt_ms", 100.0, 1), ("rtt_ms", 200.0, 1), ("rtt_ms", 400.0, 0),
        ("rtt_ms", None, 1),
        ("loss", 0.01, 2), ("loss", 0.03, 1), ("loss", 0.1, 0), ("loss", None, 1)]
    assert rep["failed_joins"] == [{"reason": "unauthorized", "count": 2},
                                   {"reason": "closed", "count": 1},
                                   {"reason": "removed", "count": 1}]
    assert rep["delegations"] == [
        {"delegation": "Kenya", "country": "KE", "participants": 2},
        {"delegation": "Peru", "country": None, "participants": 1}]
    assert rep["not_recorded"] == []
    for table in ("quality", "quality_histogram", "failed_joins", "delegations"):
        rows = list(csv.DictReader(io.StringIO(report_csv(rep, table))))
        assert len(rows) == len(rep[table]) > 0
        for row, item in zip(rows, rep[table], strict=True):
            for key, value in item.items():
                if isinstance(value, float):
                    assert float(row[key]) == value, (table, key)
                else:
                    assert row[key] == ("" if value is None else str(value)), (table, key)
