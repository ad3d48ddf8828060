"""Invitations of one meeting: create (one, or many from a CSV), list, revoke."""

from __future__ import annotations

from fastapi import APIRouter

from mirp.api.deps import AppSettings, CurrentOrganizer, DbSession
from mirp.api.enforce import Rooms, commit
from mirp.store import invites
from mirp.store.schemas import BulkIn, BulkOut, InvitationIn, InvitationOut

router = APIRouter(prefix="/meetings/{meeting_id}/invitations", tags=["invitations"])


@router.get("", response_model=list[InvitationOut])
async def list_invitations(meeting_id: str, session: DbSession, settings: AppSettings,
                           organizer: CurrentOrganizer) -> list[InvitationOut]:
    rows = await invites.list_invitations(session, organizer, meeting_id)
    return [invites.invitation_out(settings, inv) for inv in rows]


@router.post("", status_code=201, response_model=InvitationOut)
async def create_invitation(meeting_id: str, body: InvitationIn, session: DbSession,
                            settings: AppSettings, organizer: CurrentOrganizer) -> InvitationOut:
    """One invitation; `join_url` is the link to send (`<base>/join.html#t=<token>`)."""
    inv = await invites.create_invitation(session, settings, organizer, meeting_id, body)
    return invites.invitation_out(settings, inv)


@router.post("/bulk", status_code=201, response_model=BulkOut)
async def bulk_invitations(meeting_id: str, body: BulkIn, session: DbSession,
                           settings: AppSettings, organizer: CurrentOrganizer) -> BulkOut:
    """Named single-use invitations from CSV lines `name, delegation, e-mail` (header optional).
    A bad line is an error naming it, and then nothing is created."""
    rows = await invites.bulk_invitations(session, settings, organizer, meeting_id, body.csv,
                                          body.role)
    created = [invites.invitation_out(settings, inv) for inv in rows]
    return BulkOut(count=len(created), created=created)


@router.delete("/{invitation_id}", response_model=InvitationOut)
async def revoke_invitation(meeting_id: str, invitation_id: str, session: DbSession,
                            settings: AppSettings, organizer: CurrentOrganizer,
                            rooms: Rooms) -> InvitationOut:
    """Revoke (the row stays, marked revoked): the link and its participants' tokens stop
    working, and once it is committed everyone in the live room who joined through it is
    closed with 4403 (`revoked`)."""
    inv = await invites.revoke_invitation(session, organizer, meeting_id, invitation_id)
    out = invites.invitation_out(settings, inv)
    await commit(session)
    await rooms.revoke_invitation(inv.meeting_id, inv.id)
    return out
