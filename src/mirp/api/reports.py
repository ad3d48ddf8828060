"""A meeting's report (attendance, speaking time, interpretation, listening): organizer-only,
as JSON or one of its tables as CSV."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Response

from mirp.api.deps import Db, OrganizerNoTx
from mirp.store.reports import MeetingReport, meeting_report, report_csv

router = APIRouter(prefix="/meetings/{meeting_id}", tags=["meetings"])

Table = Literal["attendance", "timeline", "speaking", "floor_by_delegation",
                "floor_by_language", "interpretation", "booths", "listening", "lifecycle",
                "quality", "quality_histogram", "failed_joins", "delegations"]


@router.get("/report", response_model=MeetingReport)
async def report(meeting_id: str, db: Db, organizer: OrganizerNoTx) -> dict[str, Any]:
    """From the statistics the live rooms recorded: per participant presence (joins, seconds),
    presence over time by role and delegation, speaking turns (per participant, delegation and
    floor language), each interpreter's time on air per booth and channel, each booth's
    handovers, listeners per channel, and the meeting's lifecycle (opened, closed, removals)."""
    return await meeting_report(db, organizer, meeting_id)


@router.get("/report.csv", response_class=Response)
async def report_table_csv(meeting_id: str, db: Db, organizer: OrganizerNoTx,
                           table: Table = "attendance") -> Response:
    """One of the report's tables as CSV (header row; the JSON list's fields as columns, a
    timeline point's counts as `by_role.<role>` and `by_delegation.<name>` columns)."""
    text = report_csv(await meeting_report(db, organizer, meeting_id), table)
    return Response(text, media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="report-{meeting_id}-{table}.csv"',
        "Cache-Control": "no-store"})
