"""The organizer's live overview of a meeting, read from the rooms (`Rooms`: in a cluster, the
meeting's origin)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from mirp.api.deps import CurrentOrganizer, DbSession, Rooms
from mirp.store import repo

router = APIRouter(prefix="/meetings/{meeting_id}", tags=["meetings"])


@router.get("/live")
async def live(meeting_id: str, session: DbSession, organizer: CurrentOrganizer,
               rooms: Rooms) -> dict[str, Any]:
    """`{"open": false}` while no Room runs; else the registry's overview (who is connected,
    channels with listener counts, booths on air) with `"open": true`."""
    meeting = await repo.meeting_for(session, organizer, meeting_id)
    overview = await rooms.live_overview(meeting.id)  # in a cluster: at the origin
    if overview is None:
        return {"open": False}
    return {"open": True, **overview}
