"""A meeting's report (attendance, speaking time, interpretation, listening): organizer-only."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from mirp.api.deps import Db, OrganizerNoTx
from mirp.store.reports import MeetingReport, meeting_report

router = APIRouter(prefix="/meetings/{meeting_id}", tags=["meetings"])


@router.get("/report", response_model=MeetingReport)
async def report(meeting_id: str, db: Db, organizer: OrganizerNoTx) -> dict[str, Any]:
    """From the statistics the live rooms recorded: per participant presence (joins, seconds),
    speaking turns, each interpreter's time on air per booth and channel, listeners per
    channel, and the meeting's lifecycle (opened, closed, removals)."""
    return await meeting_report(db, organizer, meeting_id)
