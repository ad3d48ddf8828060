"""Refused joins become FailedJoinRecords with their reason, through the registry's recorder,
and a flood of them cannot fill the table (rooms/refusals.py)."""

from __future__ import annotations

from typing import Any

import pytest

from mirp.config import Limits, Settings
from mirp.errors import ClosedMeeting, Forbidden, MeetingFull, NotFound, Unauthorized
from mirp.rooms.model import FailedJoinRecord, Role
from mirp.rooms.refusals import FailedJoins, reason_of
from mirp.rooms.registry import RoomRegistry
from tests.rooms.test_runtime import GRANTS, FakeSession, Plane, Store
from tests.support.wait import until


def test_the_reason_is_the_errors_reason_else_its_code() -> None:
    assert reason_of(Forbidden("x", {"reason": "revoked"})) == "revoked"
    assert reason_of(ClosedMeeting("x", {"reason": "closed"})) == "closed"
    assert reason_of(MeetingFull("x", {"capacity": 3})) == "meeting_full"
    assert reason_of(Unauthorized("bad token")) == "unauthorized"


def test_at_most_the_cap_per_meeting_per_minute_the_rest_counted() -> None:
    joins = FailedJoins(per_minute=2)
    bad = Unauthorized("bad token")
    t0 = 6000.0  # the start of a minute
    got = [joins.refused("m1", bad, t0 + k) for k in range(5)]
    assert [r is not None for r in got] == [True, True, False, False, False]
    assert joins.dropped == 3
    assert joins.refused("m2", bad, t0 + 5) is not None  # another meeting: its own cap
    assert joins.refused("m1", bad, t0 + 60) is not None  # the next minute: counted afresh
    # no meeting to attribute it to, or a meeting that does not exist: counted only
    assert joins.refused(None, bad, t0 + 61) is None
    assert joins.refused("m9", NotFound("no meeting"), t0 + 61) is None
    assert joins.unattributed == 2
    record = got[0]
    assert record == FailedJoinRecord("m1", "unauthorized", record.at)
    assert record.at.timestamp() == t0


@pytest.fixture
async def registry() -> Any:
    store = Store()
    registry = RoomRegistry(
        settings=Settings(limits=Limits(reconnect_grace_s=0.3, max_participants_per_meeting=1)),
        media=Plane(), store=store, idle_close_s=60)
    yield registry, store
    await registry.close()


def failed(store: Store) -> list[FailedJoinRecord]:
    return [r for batch in store.batches for r in batch if isinstance(r, FailedJoinRecord)]


async def test_refused_joins_are_recorded_with_their_reason(registry: Any) -> None:
    registry, store = registry
    with pytest.raises(Unauthorized):
        await registry.authorize("forged", "m1")  # a bad token at meeting m1's address
    with pytest.raises(Forbidden):
        await registry.authorize("d1", "m2")  # the store refuses: another meeting
    await registry.join(await registry.authorize("chair", "m1"), FakeSession("chair"))
    with pytest.raises(MeetingFull):  # capacity 1: the room refuses
        await registry.join(GRANTS["d1"], FakeSession("d1"))
    got = await until(lambda: len(failed(store)) == 3 and failed(store),
                      lambda: f"failed joins recorded: {failed(store)}")
    assert [(r.meeting_id, r.reason, r.participant_id, r.role) for r in got] == [
        ("m1", "unauthorized", None, None),
        ("m2", "forbidden", None, None),
        ("m1", "meeting_full", "p_d1", Role.DELEGATE)]


def test_the_new_records_cross_the_journal_intact() -> None:
    """The recorder journals every record before the database: both new types round-trip,
    a refusal without a participant too."""
    from datetime import UTC, datetime

    from mirp.rooms.durable import decode_record, encode_record
    from mirp.rooms.model import QualityRecord

    at = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
    for record in (QualityRecord("m1", "p", Role.DELEGATE, "fair", at, 0.12, 0.02, 0.004),
                   QualityRecord("m1", "p", Role.CHAIR, "unknown", at),
                   FailedJoinRecord("m1", "revoked", at, "p", Role.OBSERVER),
                   FailedJoinRecord("m1", "unauthorized", at)):
        assert decode_record(encode_record(record)) == record
