"""A meeting's caption transcript (docs/captions.md): organizer-only, as plain text, WebVTT
or JSON (one channel or all), and side by side per speaking turn."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Response

from mirp.api.deps import Db, OrganizerNoTx
from mirp.store import transcripts

router = APIRouter(prefix="/meetings/{meeting_id}", tags=["meetings"])


@router.get("/transcript", response_model=None)
async def transcript(meeting_id: str, db: Db, organizer: OrganizerNoTx,
                     format: Literal["json", "text", "vtt"] = "json",
                     channel: str | None = None) -> Response | list[dict[str, Any]]:
    """The final captions in order of time with the floor holders of the moment; `channel`:
    one channel only ("floor" or a language)."""
    found = await transcripts.lines(db, organizer, meeting_id, channel)
    if format == "json":
        return [x.to_json() for x in found]
    name = f"transcript-{meeting_id}{'-' + channel if channel else ''}"
    if format == "vtt":
        return Response(transcripts.as_vtt(found), media_type="text/vtt; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{name}.vtt"'})
    return Response(transcripts.as_text(found), media_type="text/plain; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}.txt"'})


@router.get("/transcript/turns")
async def transcript_turns(meeting_id: str, db: Db,
                           organizer: OrganizerNoTx) -> list[dict[str, Any]]:
    """Per speaking turn, the floor's and every channel's captions side by side."""
    return transcripts.turns(await transcripts.lines(db, organizer, meeting_id))
