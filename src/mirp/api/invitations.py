"""Invitations of one meeting: create (one, or many from a CSV), list (paged), export (CSV),
revoke.

The listing, the upload and the export never hold a transaction while they work: they read and
write in short transactions of their own (`OrganizerNoTx`, `Db`) and leave signing and
rendering to the worker pool, so the control loop and the database stay free for everyone.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import StreamingResponse

from mirp.api.deps import AppSettings, CurrentOrganizer, Db, DbSession, OrganizerNoTx, Rooms
from mirp.api.enforce import commit
from mirp.api.paging import PAGE_DEFAULT, After, Limit, cursor_page
from mirp.store import invites
from mirp.store.schemas import BulkIn, BulkOut, InvitationIn, InvitationOut

router = APIRouter(prefix="/meetings/{meeting_id}/invitations", tags=["invitations"])



@router.get("", response_model=list[InvitationOut])
async def list_invitations(
        meeting_id: str, request: Request, db: Db, settings: AppSettings,
        organizer: OrganizerNoTx,
        limit: Limit = PAGE_DEFAULT, after: After = None) -> Response:
    """One page, in creation order: `limit` invitations (default 100, at most 1000) after the
    one whose id is `after`. When there are more, the `Link` header (rel="next") is the next
    page's URL and `X-Next-After` its cursor; on the last page neither is sent."""
    body, next_after = await invites.list_invitations(db, settings, organizer, meeting_id,
                                                      limit, after)
    return cursor_page(request, body, limit, next_after)


@router.post("", status_code=201, response_model=InvitationOut)
async def create_invitation(meeting_id: str, body: InvitationIn, request: Request,
                            session: DbSession,
                            settings: AppSettings, organizer: CurrentOrganizer) -> InvitationOut:
    """One invitation; `join_url` is the link to send (`<base>/join.html#t=<token>`)."""
    inv = await invites.create_invitation(session, settings, organizer, meeting_id, body)
    out = invites.invitation_out(settings, inv)
    if inv.mail_status is not None:
        await commit(session)
        _wake_outbox(request)
    return out


def _wake_outbox(request: Request) -> None:
    """The outbox polls anyway; this only spares the wait (after the commit it must see)."""
    outbox = getattr(request.app.state, "outbox", None)
    if outbox is not None:
        outbox.wake()


@router.post("/{invitation_id}/send", status_code=202, response_model=InvitationOut)
async def send_invitation(meeting_id: str, invitation_id: str, request: Request,
                          session: DbSession, settings: AppSettings,
                          organizer: CurrentOrganizer) -> InvitationOut:
    """(Re-)send the invitation's e-mail: answered at once with `mail_status: "queued"`; the
    outbox sends it, retrying through a mail server's outage. 409 `mail_off` when the server
    has no SMTP settings, 422 when the invitation has no e-mail address."""
    inv = await invites.send_invitation(session, settings, organizer, meeting_id, invitation_id)
    out = invites.invitation_out(settings, inv)
    await commit(session)
    _wake_outbox(request)
    return out


@router.post("/bulk", status_code=201, response_model=BulkOut)
async def bulk_invitations(meeting_id: str, body: BulkIn, db: Db, settings: AppSettings,
                           organizer: OrganizerNoTx) -> Response:
    """Named single-use invitations from CSV lines `name, delegation, e-mail` (header optional).
    A bad line is an error naming it, and then nothing is created."""
    content = await invites.bulk_invitations(db, settings, organizer, meeting_id, body.csv,
                                             body.role)
    return Response(content, status_code=201, media_type="application/json")


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


# `.csv` beside the prefix: the path is /meetings/{meeting_id}/invitations.csv
@router.get(".csv", response_class=StreamingResponse)
async def export_invitations(meeting_id: str, db: Db, settings: AppSettings,
                             organizer: OrganizerNoTx) -> StreamingResponse:
    """Every invitation with its link, as CSV (UTF-8, header row; columns name, delegation,
    email, role, booth, max_uses, uses, expires_at, revoked, join_url, id), streamed in chunks:
    one download for all the links to send."""
    chunks = await invites.export_invitations(db, settings, organizer, meeting_id)
    return StreamingResponse(chunks, media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="invitations-{meeting_id}.csv"',
        "Cache-Control": "no-store"})
