"""Invitations and joining (the repository's second half; see repo.py for the access rule).

An invitation is a row; its link carries a signed token naming it (tokens.issue_invitation),
deterministic for the row so the list can show the link again. Joining checks the token, then the
row (revoked, used up, expired), and uses up one use with a single conditional UPDATE, so two
people racing for the last use of an invitation cannot both get in.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import cast

from sqlalchemy import Table, insert, or_, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from mirp import tokens
from mirp.config import Settings
from mirp.errors import ClosedMeeting, Conflict, Forbidden, InvalidInput, NotFound, Unauthorized
from mirp.ids import new_id
from mirp.store import bulk, work
from mirp.store import tables as t
from mirp.store.bulk import MAX_BULK_ROWS, parse_delegates_csv
from mirp.store.db import Database
from mirp.store.repo import booths_of, load_meeting, meeting_for, meeting_summary
from mirp.store.schemas import (
    LATEST,
    InvitationIn,
    InvitationOut,
    JoinIn,
    JoinOut,
    JoinPeekOut,
)

__all__ = ["MAX_BULK_ROWS", "parse_delegates_csv"]  # the CSV parser lives in bulk.py


def invitation_data(inv: t.Invitation) -> bulk.InvitationData:
    """The row as plain values (what a worker signs and renders)."""
    return bulk.InvitationData(
        id=inv.id, meeting_id=inv.meeting_id, role=inv.role, booth=inv.booth, name=inv.name,
        delegation=inv.delegation, email=inv.email, max_uses=inv.max_uses, uses=inv.uses,
        expires_at=inv.expires_at, revoked_at=inv.revoked_at, created_at=inv.created_at,
        language=inv.language, country=inv.country, mail_status=inv.mail_status,
        mail_error=inv.mail_error)


def invitation_token(settings: Settings, inv: t.Invitation) -> str:
    return bulk.sign(settings.resolved_secret_key(), invitation_data(inv))


def invitation_out(settings: Settings, inv: t.Invitation) -> InvitationOut:
    """One invitation with its link (one signature: fine on the loop; many go to a worker)."""
    return bulk.view(settings.resolved_secret_key(), settings.resolved_base_url(),
                     invitation_data(inv))


# --- organizer side --------------------------------------------------------------------------

async def _check_booth(session: AsyncSession, meeting: t.Meeting, role: str,
                       booth: str | None, field: str = "booth",
                       languages: list[str] | None = None) -> None:
    if role == "interpreter":
        if languages is None:
            languages = [b.language for b in await booths_of(session, meeting.id)]
        if booth is None:
            raise InvalidInput(f"{field}: an interpreter's invitation names a booth",
                               {"field": field, "booths": languages})
        if booth not in languages:
            raise InvalidInput(f"{field}: the meeting has no {booth!r} booth",
                               {"field": field, "booths": languages})
    elif booth is not None:
        raise InvalidInput(f"{field}: only interpreters belong to a booth", {"field": field})


def default_expiry(settings: Settings, meeting: t.Meeting, now: datetime) -> datetime:
    """MIRP_TOKEN_TTL_HOURS from now, or a day after the meeting ends when that is later: an
    invitation sent months ahead must still work on the day."""
    expires = now + timedelta(hours=settings.token_ttl_hours)
    if meeting.ends_at is not None:  # clamped: an end in year 9999 would overflow
        expires = max(expires, min(meeting.ends_at, LATEST) + timedelta(days=1))
    return expires


def _new_invitation(settings: Settings, meeting: t.Meeting, data: InvitationIn) -> t.Invitation:
    now = t.utcnow()
    expires = data.expires_at or default_expiry(settings, meeting, now)
    if expires <= now:
        raise InvalidInput("expires_at: the expiry is in the past", {"field": "expires_at"})
    return t.Invitation(
        id=new_id("i"), meeting_id=meeting.id, role=data.role, booth=data.booth,
        name=data.name, delegation=data.delegation, email=data.email, language=data.language,
        country=data.country, max_uses=data.max_uses,
        uses=0, expires_at=expires.astimezone(UTC).replace(microsecond=0), created_at=now)


async def create_invitation(session: AsyncSession, settings: Settings, organizer: t.Organizer,
                            meeting_id: str, data: InvitationIn) -> t.Invitation:
    meeting = await meeting_for(session, organizer, meeting_id)
    return await add_invitation(session, settings, meeting, data)


def check_language(meeting: t.Meeting, language: str | None) -> None:
    """A participant's language is one of the meeting's (the Room routes and records by it)."""
    if language is not None and language not in meeting.languages:
        raise InvalidInput(f"language: {language!r} is not one of the meeting's languages",
                           {"field": "language", "languages": list(meeting.languages)})


async def add_invitation(session: AsyncSession, settings: Settings, meeting: t.Meeting,
                         data: InvitationIn) -> t.Invitation:
    await _check_booth(session, meeting, data.role, data.booth)
    check_language(meeting, data.language)
    inv = _new_invitation(settings, meeting, data)
    if inv.email is not None and settings.mail_on():
        mark_to_send(inv)
    session.add(inv)
    await session.flush()
    return inv


def mark_to_send(inv: t.Invitation) -> None:
    """Ask the outbox (store/mail.py) to e-mail it: durable with the caller's transaction."""
    inv.mail_status, inv.mail_error = "queued", None
    inv.mail_attempts, inv.mail_next_at = 0, t.utcnow()


async def send_invitation(session: AsyncSession, settings: Settings, organizer: t.Organizer,
                          meeting_id: str, invitation_id: str) -> t.Invitation:
    """(Re-)send its e-mail: queued now, whatever it was (a sent one is sent again)."""
    if not settings.mail_on():
        raise Conflict("this server sends no e-mail (MIRP_SMTP_HOST is not set)",
                       {"reason": "mail_off"})
    meeting = await meeting_for(session, organizer, meeting_id)
    inv = await session.get(t.Invitation, invitation_id)
    if inv is None or inv.meeting_id != meeting.id:
        raise NotFound("no such invitation", {"invitation_id": invitation_id})
    if inv.email is None:
        raise InvalidInput("email: this invitation has no e-mail address", {"field": "email"})
    if inv.revoked_at is not None:
        raise Conflict("this invitation was revoked", {"reason": "revoked"})
    mark_to_send(inv)
    await session.flush()
    return inv


_COLUMNS = (t.Invitation.id, t.Invitation.meeting_id, t.Invitation.role, t.Invitation.booth,
            t.Invitation.name, t.Invitation.delegation, t.Invitation.email,
            t.Invitation.max_uses, t.Invitation.uses, t.Invitation.expires_at,
            t.Invitation.revoked_at, t.Invitation.created_at, t.Invitation.language,
            t.Invitation.country, t.Invitation.mail_status, t.Invitation.mail_error)


async def invitation_page(session: AsyncSession, meeting_id: str, limit: int,
                          after: str | None) -> list[bulk.InvitationData]:
    """Up to `limit` invitations of the meeting in creation order, after the one with id
    `after` (a keyset cursor: stable while invitations are added, cheap at any depth). Plain
    columns, not ORM rows: thousands of rows are then cheap to load and to hand a worker."""
    stmt = select(*_COLUMNS).where(t.Invitation.meeting_id == meeting_id)
    if after is not None:
        mark = (await session.execute(select(t.Invitation.created_at).where(
            t.Invitation.id == after, t.Invitation.meeting_id == meeting_id))).scalar()
        if mark is None:
            raise InvalidInput("after: no such invitation in this meeting", {"field": "after"})
        stmt = stmt.where(tuple_(t.Invitation.created_at, t.Invitation.id) > (mark, after))
    rows = await session.execute(
        stmt.order_by(t.Invitation.created_at, t.Invitation.id).limit(limit))
    return [bulk.InvitationData(**row._mapping) for row in rows]


async def list_invitations(db: Database, settings: Settings, organizer: t.Organizer,
                           meeting_id: str, limit: int,
                           after: str | None) -> tuple[bytes, str | None]:
    """One page of the listing as its JSON body (rendered and signed by a worker), and the
    cursor of the next page (None on the last)."""
    async with db.session() as session:
        meeting = await meeting_for(session, organizer, meeting_id)
        items = await invitation_page(session, meeting.id, limit + 1, after)
    more = len(items) > limit
    items = items[:limit]
    body = await work.run(bulk.render_list, settings.resolved_secret_key(),
                          settings.resolved_base_url(), items)
    return body, items[-1].id if more and items else None


async def export_invitations(db: Database, settings: Settings, organizer: t.Organizer,
                             meeting_id: str, chunk: int = 500) -> AsyncIterator[bytes]:
    """The CSV of every invitation with its link, in chunks: each chunk read in its own short
    transaction (a slow download never holds the database) and rendered by a worker. The
    meeting is checked before the first byte, so a wrong id is a 404, not a broken file."""
    async with db.session() as session:
        meeting = await meeting_for(session, organizer, meeting_id)
    secret, base = settings.resolved_secret_key(), settings.resolved_base_url()

    async def chunks() -> AsyncIterator[bytes]:
        after: str | None = None
        first = True
        while True:
            async with db.session() as session:
                items = await invitation_page(session, meeting.id, chunk, after)
            if items or first:
                yield await work.run(bulk.render_csv, secret, base, items, first)
            first = False
            if len(items) < chunk:
                return
            after = items[-1].id

    return chunks()


async def revoke_invitation(session: AsyncSession, organizer: t.Organizer, meeting_id: str,
                            invitation_id: str) -> t.Invitation:
    """Idempotent. The link stops working, and so do the participant tokens it gave."""
    meeting = await meeting_for(session, organizer, meeting_id)
    inv = await session.get(t.Invitation, invitation_id)
    if inv is None or inv.meeting_id != meeting.id:
        raise NotFound("no such invitation", {"invitation_id": invitation_id})
    if inv.revoked_at is None:
        inv.revoked_at = t.utcnow()
    await session.flush()
    return inv


async def bulk_invitations(db: Database, settings: Settings, organizer: t.Organizer,
                           meeting_id: str, text: str, role: str) -> bytes:
    """All rows or none: any bad row raises before anything is written. Answers the response
    body (`{count, created}`), rendered by a worker.

    The CPU work (parsing, 5000 signatures, a 4 MB answer) runs in the worker pool with no
    transaction open; the rows are then written in one short transaction, so SQLite's write
    lock is held for the inserts only, and parallel uploads wait for each other briefly instead
    of failing with "database is locked"."""
    rows = await work.run(bulk.parse_delegates_csv, text)
    async with db.session() as session:
        meeting = await meeting_for(session, organizer, meeting_id)
        booths = [b.language for b in await booths_of(session, meeting.id)]
        now = t.utcnow()
        expires = default_expiry(settings, meeting, now).astimezone(UTC).replace(microsecond=0)
    items, body = await work.run(bulk.prepare_and_render, settings.resolved_secret_key(),
                                 settings.resolved_base_url(), meeting.id, role, rows, booths,
                                 expires, now, list(meeting.languages), settings.mail_on())
    async with db.session() as session:
        # the meeting locked (PostgreSQL) so a concurrent delete waits; its booths again, since
        # an organizer may have removed one while the workers signed
        meeting = await meeting_for(session, organizer, meeting_id, for_update=True)
        if role == "interpreter" and not {r.booth for r in rows} <= {
                b.language for b in await booths_of(session, meeting.id)}:
            raise Conflict("the meeting's booths changed during the upload; send it again")
        values = [_insert_values(inv, now) for inv in items]
        for i in range(0, len(values), _INSERT_CHUNK):
            # the Core table, not the ORM entity: its bulk path costs the loop several times less
            await session.execute(insert(_INVITATIONS), values[i:i + _INSERT_CHUNK])
    return body


_INSERT_CHUNK = 500  # rows per INSERT: the loop gets a turn between chunks
_INVITATIONS = cast(Table, t.Invitation.__table__)


def _insert_values(inv: bulk.InvitationData, now: datetime) -> dict[str, object]:
    return {"mail_status": inv.mail_status,  # "queued" (bulk.prepare_and_render): due now
            "mail_next_at": now if inv.mail_status else None, "mail_attempts": 0,
            "id": inv.id, "meeting_id": inv.meeting_id, "role": inv.role, "booth": inv.booth,
            "name": inv.name, "delegation": inv.delegation, "email": inv.email,
            "max_uses": inv.max_uses, "uses": inv.uses, "expires_at": inv.expires_at,
            "revoked_at": inv.revoked_at, "created_at": inv.created_at, "language": inv.language,
            "country": inv.country}


# --- joining ---------------------------------------------------------------------------------

async def _usable(session: AsyncSession, settings: Settings,
                  token: str) -> tuple[t.Invitation, t.Meeting]:
    """The invitation and its meeting, if anyone may still come in through it. A used-up
    invitation passes: the browser that used it may come back (`join` checks the uses)."""
    claims = tokens.verify_invitation(settings.resolved_secret_key(), token)
    meeting = await load_meeting(session, claims.meeting_id)
    inv = await session.get(t.Invitation, claims.invitation_id)
    if inv is None or inv.meeting_id != meeting.id:
        raise Unauthorized("this invitation no longer exists")
    if meeting.status == "closed":  # first: it is what the person needs to know
        raise ClosedMeeting("this meeting is closed", {"reason": "closed"})
    if inv.revoked_at is not None:
        raise Forbidden("this invitation was revoked", {"reason": "revoked"})
    if inv.expires_at <= t.utcnow():
        raise Unauthorized("this invitation has expired", {"reason": "expired"})
    if inv.booth is not None and inv.booth not in {
            b.language for b in await booths_of(session, meeting.id)}:
        raise Forbidden(f"the meeting no longer has a {inv.booth!r} booth",
                        {"reason": "booth_removed"})
    return inv, meeting


async def peek(session: AsyncSession, settings: Settings, token: str) -> JoinPeekOut:
    """Uses nothing and refuses only what stops everyone (closed, revoked, expired, booth
    removed): a used-up invitation answers `uses_left: 0`, since the browser that used it may
    still come back through it."""
    inv, meeting = await _usable(session, settings, token)
    return JoinPeekOut(
        meeting=await meeting_summary(session, meeting), role=inv.role, booth=inv.booth,
        named=inv.name is not None, name=inv.name, delegation=inv.delegation,
        language=inv.language,
        uses_left=None if inv.max_uses is None else max(0, inv.max_uses - inv.uses),
        rejoin=await _named_participant(session, inv) is not None)


async def _returning(session: AsyncSession, settings: Settings, inv: t.Invitation,
                     participant_token: str | None) -> t.Participant | None:
    """The participant this browser already is through this invitation (it presents the
    participant token it got from it), so coming back through an open link is not a new
    person. Raises Forbidden when that participant was removed. None: a first join (no token,
    or one that is bad, expired or from another link)."""
    if participant_token is None:
        return None
    try:
        claims = tokens.verify_participant(settings.resolved_secret_key(), participant_token)
    except Unauthorized:
        return None
    if claims.invitation_id != inv.id or claims.meeting_id != inv.meeting_id:
        return None
    participant = await session.get(t.Participant, claims.participant_id)
    if participant is None or participant.invitation_id != inv.id:
        return None
    if participant.removed_at is not None:
        raise Forbidden("you were removed from this meeting", {"reason": "removed"})
    return participant


async def _named_participant(session: AsyncSession, inv: t.Invitation) -> t.Participant | None:
    """The one person a named invitation is for, once they joined: anyone with its link comes
    back as them (same id, role, booth; the Room gives them their channel back), on any device,
    spending nothing. A removed one raises Forbidden. None: not named, or nobody joined yet."""
    if inv.name is None:
        return None
    row = await session.execute(select(t.Participant).where(
        t.Participant.invitation_id == inv.id).order_by(t.Participant.joined_at).limit(1))
    participant = row.scalars().first()
    if participant is not None and participant.removed_at is not None:
        raise Forbidden("you were removed from this meeting", {"reason": "removed"})
    return participant


async def _removed_from_named(session: AsyncSession, inv: t.Invitation) -> bool:
    """A named invitation is one person's: once they are removed it lets nobody in."""
    if inv.name is None:
        return False
    row = await session.execute(select(t.Participant.id).where(
        t.Participant.invitation_id == inv.id, t.Participant.removed_at.is_not(None)).limit(1))
    return row.first() is not None


async def join(session: AsyncSession, settings: Settings, data: JoinIn, *,
               each_new: bool = False) -> JoinOut:
    """`each_new`: a new participant at every join, even through a named invitation (a venue's
    WHEP players: one invitation serves every receiver, store/venue.py); else a named
    invitation is one person's, who comes back as the same participant."""
    inv, meeting = await _usable(session, settings, data.token)
    check_language(meeting, data.language)
    again = await _returning(session, settings, inv, data.participant_token)
    if again is None and not each_new:
        again = await _named_participant(session, inv)
    if again is not None:  # the same person again: no use is spent, the same participant
        if data.language is not None:
            again.language = data.language
        return await _joined(session, settings, meeting, again)
    if not each_new and await _removed_from_named(session, inv):
        raise Forbidden("you were removed from this meeting", {"reason": "removed"})
    if inv.max_uses is not None and inv.uses >= inv.max_uses:
        raise Forbidden("this invitation is used up", {"reason": "used_up"})
    name = inv.name or data.name
    delegation = inv.delegation if inv.name is not None else data.delegation
    if not name:
        raise InvalidInput("name: this invitation asks for your name", {"field": "name"})
    used = await session.execute(
        update(t.Invitation)
        .where(t.Invitation.id == inv.id, t.Invitation.revoked_at.is_(None),
               or_(t.Invitation.max_uses.is_(None), t.Invitation.uses < t.Invitation.max_uses))
        .values(uses=t.Invitation.uses + 1)
        .execution_options(synchronize_session=False))
    if used.rowcount != 1:  # type: ignore[attr-defined]
        raise Forbidden("this invitation is used up", {"reason": "used_up"})
    participant = t.Participant(
        id=new_id("p"), meeting_id=meeting.id, invitation_id=inv.id, name=name,
        delegation=delegation, role=inv.role, booth=inv.booth,
        language=data.language or inv.language, joined_at=t.utcnow())
    session.add(participant)
    await session.flush()
    return await _joined(session, settings, meeting, participant)


async def _joined(session: AsyncSession, settings: Settings, meeting: t.Meeting,
                  p: t.Participant) -> JoinOut:
    grant = tokens.ParticipantClaims(
        meeting_id=meeting.id, participant_id=p.id, name=p.name, role=p.role,
        delegation=p.delegation, booth=p.booth, invitation_id=p.invitation_id, expires_at=0)
    token = tokens.issue_participant(settings.resolved_secret_key(), grant,
                                     ttl=settings.token_ttl_hours * 3600)
    return JoinOut(participant_id=p.id, participant_token=token, role=p.role, booth=p.booth,
                   name=p.name, delegation=p.delegation, language=p.language,
                   meeting=await meeting_summary(session, meeting))
