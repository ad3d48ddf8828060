"""The organizer's live overview of a meeting, read from the RoomRegistry."""

from __future__ import annotations

import inspect
from typing import Any

from fastapi import APIRouter, Request

from mirp.api.deps import CurrentOrganizer, DbSession
from mirp.store import repo

router = APIRouter(prefix="/meetings/{meeting_id}", tags=["meetings"])


@router.get("/live")
async def live(meeting_id: str, request: Request, session: DbSession,
               organizer: CurrentOrganizer) -> dict[str, Any]:
    """`{"open": false}` while no Room runs; else the registry's overview (who is connected,
    channels with listener counts, booths on air) with `"open": true`."""
    meeting = await repo.meeting_for(session, organizer, meeting_id)
    overview = getattr(getattr(request.app.state, "rooms", None), "overview", None)
    if not callable(overview):
        return {"open": False}
    result = overview(meeting.id)
    if inspect.isawaitable(result):
        result = await result
    if not result:
        return {"open": False}
    return {"open": True, **dict(result)}
