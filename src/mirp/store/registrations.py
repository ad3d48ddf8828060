"""Self-registration: a public request, decided by the organizer; approval issues a named
invitation (returned with its link)."""

from __future__ import annotations

from sqlalchemy import select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from mirp.config import Settings
from mirp.errors import Conflict, Forbidden, InvalidInput, NotFound
from mirp.ids import new_id
from mirp.store import bulk, work
from mirp.store import tables as t
from mirp.store.db import Database
from mirp.store.invites import add_invitation, invitation_data
from mirp.store.repo import load_meeting, meeting_for, meeting_summary
from mirp.store.schemas import (
    InvitationIn,
    RegistrationIn,
    RegistrationInfoOut,
    RegistrationOut,
)


def _data(r: t.Registration, inv: t.Invitation | None) -> bulk.RegistrationData:
    return bulk.RegistrationData(
        id=r.id, meeting_id=r.meeting_id, name=r.name, delegation=r.delegation, email=r.email,
        requested_role=r.requested_role, status=r.status, created_at=r.created_at,
        decided_at=r.decided_at, invitation=invitation_data(inv) if inv is not None else None)


def registration_out(settings: Settings, r: t.Registration,
                     inv: t.Invitation | None = None) -> RegistrationOut:
    return bulk.registration_view(settings.resolved_secret_key(), settings.resolved_base_url(),
                                  _data(r, inv))


async def _open_meeting(session: AsyncSession, meeting_id: str) -> t.Meeting:
    meeting = await load_meeting(session, meeting_id)
    if not meeting.registration_open or meeting.status == "closed":
        raise Forbidden("registration for this meeting is closed", {"reason": "closed"})
    return meeting


async def info(session: AsyncSession, meeting_id: str, mail: bool = False) -> RegistrationInfoOut:
    meeting = await _open_meeting(session, meeting_id)
    return RegistrationInfoOut(registration_open=True, mail=mail,
                               meeting=await meeting_summary(session, meeting))


async def register(session: AsyncSession, meeting_id: str,
                   data: RegistrationIn) -> t.Registration:
    meeting = await _open_meeting(session, meeting_id)
    dup = await session.execute(select(t.Registration.id).where(
        t.Registration.meeting_id == meeting.id, t.Registration.email == data.email.lower(),
        t.Registration.status != "rejected"))
    if dup.first() is not None:
        raise Conflict("a request with this e-mail is already registered", {"field": "email"})
    reg = t.Registration(id=new_id("r"), meeting_id=meeting.id, name=data.name,
                         delegation=data.delegation, email=data.email.lower(),
                         requested_role=data.role, status="pending", created_at=t.utcnow())
    session.add(reg)
    await session.flush()
    return reg


async def registration_page(db: Database, settings: Settings, organizer: t.Organizer,
                            meeting_id: str, limit: int,
                            after: str | None) -> tuple[bytes, str | None]:
    """One page of the listing as its JSON body, read in a short transaction and rendered (the
    approved ones' links signed) by a worker after it; and the next page's cursor (None on
    the last)."""
    async with db.session() as session:
        rows = await list_registrations(session, organizer, meeting_id, limit + 1, after)
        items = [_data(r, inv) for r, inv in rows]
    more = len(items) > limit
    items = items[:limit]
    body = await work.run(bulk.render_registrations, settings.resolved_secret_key(),
                          settings.resolved_base_url(), items)
    return body, items[-1].id if more and items else None


async def list_registrations(
        session: AsyncSession, organizer: t.Organizer, meeting_id: str, limit: int | None = None,
        after: str | None = None) -> list[tuple[t.Registration, t.Invitation | None]]:
    """In arrival order, `limit` of them after the one with id `after` (a keyset cursor, as for
    invitations: registration is public, so the list can be long)."""
    meeting = await meeting_for(session, organizer, meeting_id)
    stmt = (select(t.Registration, t.Invitation)
            .outerjoin(t.Invitation, t.Invitation.id == t.Registration.invitation_id)
            .where(t.Registration.meeting_id == meeting.id))
    if after is not None:
        mark = (await session.execute(select(t.Registration.created_at).where(
            t.Registration.id == after, t.Registration.meeting_id == meeting.id))).scalar()
        if mark is None:
            raise InvalidInput("after: no such registration in this meeting", {"field": "after"})
        stmt = stmt.where(tuple_(t.Registration.created_at, t.Registration.id) > (mark, after))
    rows = await session.execute(
        stmt.order_by(t.Registration.created_at, t.Registration.id).limit(limit))
    return [(r, i) for r, i in rows.all()]


async def _pending(session: AsyncSession, organizer: t.Organizer, meeting_id: str,
                   registration_id: str) -> tuple[t.Meeting, t.Registration]:
    meeting = await meeting_for(session, organizer, meeting_id)
    reg = await session.get(t.Registration, registration_id, with_for_update=True)
    if reg is None or reg.meeting_id != meeting.id:
        raise NotFound("no such registration", {"registration_id": registration_id})
    if reg.status != "pending":
        raise Conflict(f"this request was already {reg.status}", {"status": reg.status})
    return meeting, reg


async def approve(session: AsyncSession, settings: Settings, organizer: t.Organizer,
                  meeting_id: str, registration_id: str) -> tuple[t.Registration, t.Invitation]:
    meeting, reg = await _pending(session, organizer, meeting_id, registration_id)
    inv = await add_invitation(session, settings, meeting, InvitationIn(
        role=reg.requested_role,  # type: ignore[arg-type]
        name=reg.name, delegation=reg.delegation, email=reg.email, max_uses=1))
    reg.status = "approved"
    reg.invitation_id = inv.id
    reg.decided_at = t.utcnow()
    await session.flush()
    return reg, inv


async def reject(session: AsyncSession, organizer: t.Organizer, meeting_id: str,
                 registration_id: str) -> t.Registration:
    _, reg = await _pending(session, organizer, meeting_id, registration_id)
    reg.status = "rejected"
    reg.decided_at = t.utcnow()
    await session.flush()
    return reg
