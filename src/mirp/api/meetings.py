"""Meetings: create, list, read, update (PATCH), delete. Only the owner (or an admin) sees one."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from mirp.api.deps import AppWebcastModes, CurrentOrganizer, DbSession, Rooms
from mirp.api.enforce import commit
from mirp.api.paging import PAGE_DEFAULT, Limit, link_next
from mirp.store import repo
from mirp.store.schemas import MeetingIn, MeetingOut, MeetingPatch

router = APIRouter(prefix="/meetings", tags=["meetings"])


@router.get("", response_model=list[MeetingOut])
async def list_meetings(
        session: DbSession, organizer: CurrentOrganizer, request: Request, response: Response,
        limit: Limit = PAGE_DEFAULT, offset: Annotated[int, Query(ge=0)] = 0) -> list[MeetingOut]:
    """One page (default 100, at most 1000) from `offset`, by start time; while more follow, the
    `Link` header (rel="next") is the next page's URL."""
    meetings = await repo.list_meetings(session, organizer, limit + 1, offset)
    if len(meetings) > limit:
        link_next(request, response, limit=limit, offset=offset + limit)
    return meetings[:limit]


@router.post("", status_code=201, response_model=MeetingOut)
async def create_meeting(body: MeetingIn, session: DbSession,
                         organizer: CurrentOrganizer) -> MeetingOut:
    meeting = await repo.create_meeting(session, organizer, body)
    return await repo.meeting_out(session, meeting)


@router.get("/{meeting_id}", response_model=MeetingOut)
async def get_meeting(meeting_id: str, session: DbSession,
                      organizer: CurrentOrganizer) -> MeetingOut:
    return await repo.meeting_out(session, await repo.meeting_for(session, organizer, meeting_id))


@router.patch("/{meeting_id}", response_model=MeetingOut)
async def update_meeting(meeting_id: str, body: MeetingPatch, session: DbSession,
                         organizer: CurrentOrganizer, rooms: Rooms,
                         modes: AppWebcastModes) -> MeetingOut:
    """A new `status`, once committed, reaches the live room: `closed` closes it as the chair's
    `meeting_close` does (every Session closed with 4410), `open` lets delegates in; the
    interpreters of a booth the change removed are closed with 4403 (`booth_removed`)."""
    meeting = await repo.update_meeting(session, organizer, meeting_id, body)
    out = await repo.meeting_out(session, meeting)
    await commit(session)
    if body.status is not None:
        await rooms.meeting_status(out.id, out.status)
    if {"booths", "languages"} & body.model_fields_set:
        await rooms.booths_changed(out.id, [b.language for b in out.booths])
    if "options" in body.model_fields_set:  # at once, not at the room's next opening
        modes.forget(out.id)
        await rooms.options_changed(out.id, out.options.webcast, out.options.recording)
    return out


@router.delete("/{meeting_id}", status_code=204)
async def delete_meeting(meeting_id: str, session: DbSession, organizer: CurrentOrganizer,
                         rooms: Rooms) -> Response:
    """Everything of the meeting goes; once committed, its live room closes every Session
    with 4404 (`not_found`, reason `deleted`)."""
    await repo.delete_meeting(session, organizer, meeting_id)
    await commit(session)
    await rooms.meeting_deleted(meeting_id)
    return Response(status_code=204)
