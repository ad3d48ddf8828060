"""Meetings: create, list, read, update (PATCH), delete. Only the owner (or an admin) sees one."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request, Response

from mirp.api.deps import CurrentOrganizer, DbSession
from mirp.store import repo
from mirp.store.schemas import MeetingIn, MeetingOut, MeetingPatch

router = APIRouter(prefix="/meetings", tags=["meetings"])


@router.get("", response_model=list[MeetingOut])
async def list_meetings(
        session: DbSession, organizer: CurrentOrganizer, request: Request, response: Response,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        offset: Annotated[int, Query(ge=0)] = 0) -> list[MeetingOut]:
    """One page (default 100, at most 1000) from `offset`, by start time; while more follow, the
    `Link` header (rel="next") is the next page's URL."""
    meetings = await repo.list_meetings(session, organizer, limit + 1, offset)
    if len(meetings) > limit:
        query = urlencode({"limit": limit, "offset": offset + limit})
        response.headers["Link"] = f'<{request.url.path}?{query}>; rel="next"'
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
                         organizer: CurrentOrganizer) -> MeetingOut:
    meeting = await repo.update_meeting(session, organizer, meeting_id, body)
    return await repo.meeting_out(session, meeting)


@router.delete("/{meeting_id}", status_code=204)
async def delete_meeting(meeting_id: str, session: DbSession,
                         organizer: CurrentOrganizer) -> Response:
    await repo.delete_meeting(session, organizer, meeting_id)
    return Response(status_code=204)
