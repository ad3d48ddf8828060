"""Admission (authorize / load_spec / record) and joining, on SQLite and PostgreSQL."""

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from mirp import tokens
from mirp.config import Settings
from mirp.errors import Forbidden, NotFound, Unauthorized
from mirp.rooms.model import (
    AttendanceRecord,
    LifecycleRecord,
    ListeningRecord,
    MeetingStatus,
    OnAirTurnRecord,
    RemovalRecord,
    Role,
    SpeakingTurnRecord,
)
from mirp.store import invites, repo
from mirp.store import tables as t
from mirp.store.admission import Admission
from mirp.store.db import Database
from mirp.store.schemas import InvitationIn, JoinIn
from tests.support.factory import make_meeting_db


async def test_authorize_and_spec(db: Database, settings: Settings) -> None:
    fx = await make_meeting_db(db, settings)
    adm = Admission(db, settings)
    chair = await adm.authorize(fx.tokens["chair"], fx.meeting_id)
    assert chair.role is Role.CHAIR and chair.name == "Chloé Chair"
    assert chair.participant_id == fx.people["chair"].participant_id
    zh = await adm.authorize(fx.tokens["interpreter_zh1"], None)
    assert zh.role is Role.INTERPRETER and zh.booth == "zh" and zh.meeting_id == fx.meeting_id
    spec = await adm.load_spec(fx.meeting_id)
    assert spec.title == "Plenary session" and spec.status is MeetingStatus.OPEN
    assert [b.language for b in spec.booths] == ["fr", "zh", "ar"]
    assert spec.booth("fr").understands == frozenset({"en"})  # type: ignore[union-attr]
    assert spec.under_levels_db == (-12, -18, -24) and spec.capacity == 500
    assert spec.removed_participants == frozenset()
    with pytest.raises(NotFound):
        await adm.load_spec("m_nope")


async def test_bad_tokens_are_refused(db: Database, settings: Settings) -> None:
    fx = await make_meeting_db(db, settings, delegates=1, interpreters={}, observer=False)
    adm = Admission(db, settings)
    token = fx.tokens["delegate1"]
    head, body, sig = token.split(".")
    tampered = f"{head}.{body}.{sig[:-2]}{'AA' if sig[-2:] != 'AA' else 'BB'}"
    with pytest.raises(Unauthorized):
        await adm.authorize(tampered, fx.meeting_id)
    with pytest.raises(Unauthorized):
        await adm.authorize("not-a-token", fx.meeting_id)
    forged = tokens.issue_participant("another secret, long enough for HS256 keys",
                                      await adm.authorize(token), ttl=60)
    with pytest.raises(Unauthorized):
        await adm.authorize(forged, fx.meeting_id)
    expired = tokens.issue_participant(settings.resolved_secret_key(),
                                       await adm.authorize(token), ttl=-5)
    with pytest.raises(Unauthorized, match="expired"):
        await adm.authorize(expired, fx.meeting_id)
    # an invitation token is not a participant token
    inv_token = tokens.issue_invitation(settings.resolved_secret_key(), meeting_id=fx.meeting_id,
                                        invitation_id="i_x", role="chair", booth=None,
                                        expires_at=datetime.now(UTC).timestamp() + 60)
    with pytest.raises(Unauthorized):
        await adm.authorize(inv_token, fx.meeting_id)
    with pytest.raises(Forbidden):
        await adm.authorize(token, "m_other")


async def test_revoked_and_removed(db: Database, settings: Settings) -> None:
    fx = await make_meeting_db(db, settings, delegates=2, interpreters={}, observer=False)
    adm = Admission(db, settings)
    d1, d2 = fx.people["delegate1"], fx.people["delegate2"]
    async with db.session() as s:
        org = await s.get(t.Organizer, fx.meeting["owner_id"])
        assert org is not None
        await invites.revoke_invitation(s, org, fx.meeting_id, d1.invitation_id or "")
    with pytest.raises(Forbidden, match="revoked"):
        await adm.authorize(d1.token, fx.meeting_id)
    now = datetime.now(UTC)
    await adm.record([RemovalRecord(fx.meeting_id, d2.participant_id, by="chair", at=now)])
    with pytest.raises(Forbidden, match="removed"):
        await adm.authorize(d2.token, fx.meeting_id)
    spec = await adm.load_spec(fx.meeting_id)
    assert spec.removed_participants == frozenset({d2.participant_id})
    # the chair is untouched
    assert (await adm.authorize(fx.tokens["chair"], fx.meeting_id)).role is Role.CHAIR


async def test_record_appends_and_sets_status(db: Database, settings: Settings) -> None:
    fx = await make_meeting_db(db, settings, status="scheduled", delegates=1,
                               interpreters={"fr": 1}, observer=False)
    adm = Admission(db, settings)
    mid = fx.meeting_id
    d, i = fx.people["delegate1"], fx.people["interpreter_fr1"]
    t0 = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
    await adm.record([
        LifecycleRecord(mid, "opened", t0, by=fx.people["chair"].participant_id),
        AttendanceRecord(mid, d.participant_id, d.name, Role.DELEGATE, "join", t0,
                         delegation=d.delegation, channel="fr"),
        SpeakingTurnRecord(mid, d.participant_id, t0, t0 + timedelta(minutes=3), "en"),
        OnAirTurnRecord(mid, i.participant_id, "fr", "fr", t0, t0 + timedelta(minutes=3)),
        ListeningRecord(mid, d.participant_id, "fr", -18, t0, t0 + timedelta(minutes=5)),
        AttendanceRecord("m_deleted_meanwhile", "p", "x", Role.OBSERVER, "join", t0),
    ])
    assert (await adm.load_spec(mid)).status is MeetingStatus.OPEN
    async with db.session() as s:
        for table, n in ((t.Attendance, 1), (t.SpeakingTurn, 1), (t.OnAirTurn, 1),
                         (t.Listening, 1), (t.Lifecycle, 1)):
            count = (await s.execute(select(func.count()).select_from(table))).scalar_one()
            assert count == n, table.__tablename__
        turn = (await s.execute(select(t.SpeakingTurn))).scalar_one()
        assert turn.started_at == t0 and turn.started_at.tzinfo is not None
        listening = (await s.execute(select(t.Listening))).scalar_one()
        assert listening.under_level_db == -18
    await adm.record([LifecycleRecord(mid, "closed", t0 + timedelta(hours=3))])
    assert (await adm.load_spec(mid)).status is MeetingStatus.CLOSED


async def test_last_use_goes_to_one_joiner(db: Database, settings: Settings) -> None:
    """Racing joins on a single-use invitation: exactly one wins, the others are refused."""
    fx = await make_meeting_db(db, settings, delegates=0, interpreters={}, observer=False,
                               chair=False)
    async with db.session() as s:
        meeting = await repo.load_meeting(s, fx.meeting_id)
        inv = await invites.add_invitation(s, settings, meeting, InvitationIn(
            role="delegate", max_uses=1))
        token = invites.invitation_token(settings, inv)

    async def attempt(n: int) -> str:
        try:
            async with db.session() as s:
                return (await invites.join(s, settings, JoinIn(token=token, name=f"P{n}"))
                        ).participant_id
        except Forbidden:
            return "refused"

    results = await asyncio.gather(*(attempt(n) for n in range(5)))
    winners = [r for r in results if r != "refused"]
    assert len(winners) == 1 and results.count("refused") == 4, results
    async with db.session() as s:
        inv_row = await s.get(t.Invitation, inv.id)
        assert inv_row is not None and inv_row.uses == 1
        n = (await s.execute(select(func.count()).select_from(t.Participant))).scalar_one()
        assert n == 1


async def test_delete_meeting_takes_everything(db: Database, settings: Settings) -> None:
    fx = await make_meeting_db(db, settings, delegates=1, interpreters={"fr": 1})
    adm = Admission(db, settings)
    now = datetime.now(UTC)
    await adm.record([LifecycleRecord(fx.meeting_id, "opened", now)])
    async with db.session() as s:
        org = await s.get(t.Organizer, fx.meeting["owner_id"])
        assert org is not None
        await repo.delete_meeting(s, org, fx.meeting_id)
    async with db.session() as s:
        for table in (t.Meeting, t.Booth, t.Invitation, t.Participant, t.Lifecycle):
            n = (await s.execute(select(func.count()).select_from(table))).scalar_one()
            assert n == 0, table.__tablename__
    with pytest.raises(NotFound):
        await adm.authorize(fx.tokens["delegate1"], fx.meeting_id)
