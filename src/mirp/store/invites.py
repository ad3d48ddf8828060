"""Invitations and joining (the repository's second half; see repo.py for the access rule).

An invitation is a row; its link carries a signed token naming it (tokens.issue_invitation),
deterministic for the row so the list can show the link again. Joining checks the token, then the
row (revoked, used up, expired), and uses up one use with a single conditional UPDATE, so two
people racing for the last use of an invitation cannot both get in.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from mirp import tokens
from mirp.config import Settings
from mirp.errors import ClosedMeeting, Forbidden, InvalidInput, NotFound, Unauthorized
from mirp.ids import new_id
from mirp.store import tables as t
from mirp.store.repo import booths_of, load_meeting, meeting_for, meeting_summary
from mirp.store.schemas import (
    EMAIL,
    LATEST,
    InvitationIn,
    InvitationOut,
    JoinIn,
    JoinOut,
    JoinPeekOut,
)

MAX_BULK_ROWS = 5000


def invitation_token(settings: Settings, inv: t.Invitation) -> str:
    return tokens.issue_invitation(
        settings.resolved_secret_key(), meeting_id=inv.meeting_id, invitation_id=inv.id,
        role=inv.role, booth=inv.booth, expires_at=inv.expires_at.timestamp())


def join_url(settings: Settings, token: str) -> str:
    return f"{settings.resolved_base_url()}/join.html#t={token}"


def invitation_out(settings: Settings, inv: t.Invitation) -> InvitationOut:
    token = invitation_token(settings, inv)
    return InvitationOut(
        id=inv.id, meeting_id=inv.meeting_id, role=inv.role, booth=inv.booth, name=inv.name,
        delegation=inv.delegation, email=inv.email, named=inv.name is not None,
        max_uses=inv.max_uses, uses=inv.uses, expires_at=inv.expires_at,
        revoked=inv.revoked_at is not None, revoked_at=inv.revoked_at,
        created_at=inv.created_at, token=token, join_url=join_url(settings, token))


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
        name=data.name, delegation=data.delegation, email=data.email, max_uses=data.max_uses,
        uses=0, expires_at=expires.astimezone(UTC).replace(microsecond=0), created_at=now)


async def create_invitation(session: AsyncSession, settings: Settings, organizer: t.Organizer,
                            meeting_id: str, data: InvitationIn) -> t.Invitation:
    meeting = await meeting_for(session, organizer, meeting_id)
    return await add_invitation(session, settings, meeting, data)


async def add_invitation(session: AsyncSession, settings: Settings, meeting: t.Meeting,
                         data: InvitationIn) -> t.Invitation:
    await _check_booth(session, meeting, data.role, data.booth)
    inv = _new_invitation(settings, meeting, data)
    session.add(inv)
    await session.flush()
    return inv


async def list_invitations(session: AsyncSession, organizer: t.Organizer,
                           meeting_id: str) -> list[t.Invitation]:
    meeting = await meeting_for(session, organizer, meeting_id)
    rows = await session.execute(select(t.Invitation).where(t.Invitation.meeting_id == meeting.id)
                                 .order_by(t.Invitation.created_at, t.Invitation.id))
    return list(rows.scalars())


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


@dataclass(frozen=True, slots=True)
class _Row:
    line: int
    name: str
    delegation: str | None
    email: str | None
    booth: str | None


def _delimiter(text: str) -> str:
    """Comma, or the semicolon / tab that spreadsheets in many locales write instead."""
    first = next((line for line in text.splitlines() if line.strip()), "")
    counts = {d: first.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _read_csv(text: str) -> list[tuple[int, list[str]]]:
    """(physical line number, cells) per record, blank lines skipped."""
    text = text.lstrip("\ufeff")
    reader = csv.reader(io.StringIO(text), delimiter=_delimiter(text))
    records: list[tuple[int, list[str]]] = []
    line = 1
    try:
        for cells in reader:
            if any(c.strip() for c in cells):
                records.append((line, [c.strip() for c in cells]))
            line = reader.line_num + 1
    except csv.Error as exc:
        raise InvalidInput(f"csv line {reader.line_num}: {exc}",
                           {"field": "csv", "line": reader.line_num}) from exc
    return records


def parse_delegates_csv(text: str) -> list[_Row]:
    """`name, delegation, e-mail` per line (a header line naming these columns is optional;
    an optional `booth` column serves interpreters; `;` or tab separators work too). Raises
    InvalidInput naming the line."""
    records = _read_csv(text)
    columns = ["name", "delegation", "email"]
    if records:
        header = [c.lower().replace("-", "").replace(" ", "") for c in records[0][1]]
        if "name" in header:
            unknown = [c for c in header if c not in ("name", "delegation", "email", "booth")]
            if unknown:
                raise InvalidInput(f"csv line {records[0][0]}: unknown column {unknown[0]!r}",
                                   {"field": "csv", "line": records[0][0]})
            columns, records = header, records[1:]
    rows: list[_Row] = []
    for line, cells in records:
        if len(cells) > len(columns):
            raise InvalidInput(
                f"csv line {line}: {len(cells)} columns, expected at most {len(columns)} "
                f"({', '.join(columns)})", {"field": "csv", "line": line})
        values = dict(zip(columns, cells, strict=False))
        name = values.get("name", "")
        if not name:
            raise InvalidInput(f"csv line {line}: the name is missing",
                               {"field": "csv", "line": line})
        if len(name) > 200 or len(values.get("delegation", "")) > 200:
            raise InvalidInput(f"csv line {line}: too long", {"field": "csv", "line": line})
        email = values.get("email") or None
        if email is not None and (len(email) > 320 or not EMAIL.match(email)):
            raise InvalidInput(f"csv line {line}: {email!r} is not an e-mail address",
                               {"field": "csv", "line": line})
        rows.append(_Row(line, name, values.get("delegation") or None, email,
                         (values.get("booth") or "").lower() or None))
        if len(rows) > MAX_BULK_ROWS:
            raise InvalidInput(f"csv: more than {MAX_BULK_ROWS} rows", {"field": "csv"})
    if not rows:
        raise InvalidInput("csv: no delegate in it", {"field": "csv"})
    return rows


async def bulk_invitations(session: AsyncSession, settings: Settings, organizer: t.Organizer,
                           meeting_id: str, text: str, role: str) -> list[t.Invitation]:
    """All rows or none: any bad row raises before anything is written."""
    meeting = await meeting_for(session, organizer, meeting_id)
    rows = parse_delegates_csv(text)
    booths = [b.language for b in await booths_of(session, meeting.id)]
    prepared = []
    for row in rows:
        await _check_booth(session, meeting, role, row.booth, field=f"csv line {row.line}",
                           languages=booths)
        data = InvitationIn(role=role, booth=row.booth, name=row.name,  # type: ignore[arg-type]
                            delegation=row.delegation, email=row.email, max_uses=1)
        prepared.append(_new_invitation(settings, meeting, data))
    session.add_all(prepared)
    await session.flush()
    return prepared


# --- joining ---------------------------------------------------------------------------------

async def _usable(session: AsyncSession, settings: Settings,
                  token: str) -> tuple[t.Invitation, t.Meeting]:
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
    if inv.max_uses is not None and inv.uses >= inv.max_uses:
        raise Forbidden("this invitation is used up", {"reason": "used_up"})
    if inv.booth is not None and inv.booth not in {
            b.language for b in await booths_of(session, meeting.id)}:
        raise Forbidden(f"the meeting no longer has a {inv.booth!r} booth",
                        {"reason": "booth_removed"})
    return inv, meeting


async def peek(session: AsyncSession, settings: Settings, token: str) -> JoinPeekOut:
    inv, meeting = await _usable(session, settings, token)
    return JoinPeekOut(
        meeting=await meeting_summary(session, meeting), role=inv.role, booth=inv.booth,
        named=inv.name is not None, name=inv.name, delegation=inv.delegation,
        uses_left=None if inv.max_uses is None else inv.max_uses - inv.uses)


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


async def _removed_from_named(session: AsyncSession, inv: t.Invitation) -> bool:
    """A named invitation is one person's: once they are removed it lets nobody in."""
    if inv.name is None:
        return False
    row = await session.execute(select(t.Participant.id).where(
        t.Participant.invitation_id == inv.id, t.Participant.removed_at.is_not(None)).limit(1))
    return row.first() is not None


async def join(session: AsyncSession, settings: Settings, data: JoinIn) -> JoinOut:
    inv, meeting = await _usable(session, settings, data.token)
    again = await _returning(session, settings, inv, data.participant_token)
    if again is not None:  # the same person again: no use is spent, the same participant
        return await _joined(session, settings, meeting, again)
    if await _removed_from_named(session, inv):
        raise Forbidden("you were removed from this meeting", {"reason": "removed"})
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
        delegation=delegation, role=inv.role, booth=inv.booth, joined_at=t.utcnow())
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
                   name=p.name, delegation=p.delegation,
                   meeting=await meeting_summary(session, meeting))
