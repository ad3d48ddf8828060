"""Trends of e-participation per month or quarter (store/trends.py), as JSON or CSV: an
organizer's own meetings, an administrator's all of them."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from mirp.api.deps import Db, OrganizerNoTx
from mirp.store.trends import Period, Trends, trends, trends_csv

router = APIRouter(tags=["statistics"])

From = Annotated[date | None, Query(alias="from", description="first day (YYYY-MM-DD)")]
To = Annotated[date | None, Query(alias="to", description="last day, included")]
OrganizerFilter = Annotated[str | None, Query(alias="organizer", max_length=64,
                                              description="one organizer's id (admins)")]


def _csv(result: Trends) -> Response:
    return Response(trends_csv(result), media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="trends-{result.period}.csv"',
        "Cache-Control": "no-store"})


@router.get("/trends", response_model=Trends)
async def get_trends(request: Request, db: Db, organizer: OrganizerNoTx,
                     period: Period = "month", start: From = None, end: To = None,
                     organizer_id: OrganizerFilter = None) -> Trends | Response:
    """Per period: meetings, participants, delegations, languages, hours of interpretation,
    speaking turns and the delegations' share of floor time. CSV when the client accepts
    `text/csv` (or at `/api/trends.csv`)."""
    result = await trends(db, organizer, period=period, start=start, end=end,
                          organizer_id=organizer_id)
    if "text/csv" in request.headers.get("accept", ""):
        return _csv(result)
    return result


@router.get("/trends.csv", response_class=Response)
async def get_trends_csv(db: Db, organizer: OrganizerNoTx, period: Period = "month",
                         start: From = None, end: To = None,
                         organizer_id: OrganizerFilter = None) -> Response:
    """The trends as CSV (header row; the JSON rows' columns, languages space-separated)."""
    return _csv(await trends(db, organizer, period=period, start=start, end=end,
                             organizer_id=organizer_id))
