"""The organizer's recordings of a meeting: list, download each channel (Ogg Opus) and the
index (JSON, WebVTT chapters), delete (docs/webcast.md). A recording still being written is
listed (`running`) and can be downloaded as far as it goes; it cannot be deleted."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import FileResponse, JSONResponse

from mirp.api.deps import AppSettings, AppWebcast, CurrentOrganizer, DbSession
from mirp.errors import Conflict
from mirp.store import repo
from mirp.store.recordings import turns
from mirp.webcast import files
from mirp.webcast.service import recordings_dir

router = APIRouter(prefix="/meetings/{meeting_id}/recordings")


def _running(webcast: AppWebcast, meeting_id: str, part: str) -> bool:
    status = webcast.status(meeting_id) if webcast is not None else None
    return bool(status is not None and status.recording and status.recording_part == part)


@router.get("")
async def list_recordings(meeting_id: str, session: DbSession, organizer: CurrentOrganizer,
                          settings: AppSettings, webcast: AppWebcast) -> dict[str, Any]:
    meeting = await repo.meeting_for(session, organizer, meeting_id)
    status = webcast.status(meeting.id) if webcast is not None else None
    return {
        "recording": meeting.recording, "retention_days": meeting.retention_days,
        "running": bool(status is not None and status.recording),
        "alert": status.recording_stopped if status is not None else None,
        "parts": [p.to_json(_running(webcast, meeting.id, p.part))
                  for p in files.parts(recordings_dir(settings.resolved_media_dir()), meeting.id)],
    }


@router.get("/{part}/index.json")
async def recording_index(meeting_id: str, part: str, session: DbSession,
                          organizer: CurrentOrganizer, settings: AppSettings) -> JSONResponse:
    return JSONResponse(await _index(meeting_id, part, session, organizer, settings))


@router.get("/{part}/index.vtt")
async def recording_chapters(meeting_id: str, part: str, session: DbSession,
                             organizer: CurrentOrganizer, settings: AppSettings) -> Response:
    index = await _index(meeting_id, part, session, organizer, settings)
    return Response(files.vtt(index), media_type="text/vtt; charset=utf-8")


async def _index(meeting_id: str, part: str, session: DbSession, organizer: CurrentOrganizer,
                 settings: AppSettings) -> dict[str, Any]:
    meeting = await repo.meeting_for(session, organizer, meeting_id)
    found = files.part(recordings_dir(settings.resolved_media_dir()), meeting.id, part)
    start = datetime.fromtimestamp(found.started_at, UTC)
    end = datetime.fromtimestamp(found.ended_at, UTC) if found.ended_at else datetime.now(UTC)
    return files.index(found, await turns(session, meeting.id, start, end))


@router.get("/{part}/{channel}.opus")
async def recording_channel(meeting_id: str, part: str, channel: str, session: DbSession,
                            organizer: CurrentOrganizer, settings: AppSettings) -> FileResponse:
    meeting = await repo.meeting_for(session, organizer, meeting_id)
    found = files.part(recordings_dir(settings.resolved_media_dir()), meeting.id, part)
    return FileResponse(files.channel_file(found, channel), media_type="audio/ogg",
                        filename=f"{meeting.id}-{part}-{channel}.opus",
                        headers={"Cache-Control": "private, no-cache"})


@router.delete("/{part}", status_code=204)
async def delete_recording(meeting_id: str, part: str, session: DbSession,
                           organizer: CurrentOrganizer, settings: AppSettings,
                           webcast: AppWebcast) -> Response:
    meeting = await repo.meeting_for(session, organizer, meeting_id)
    found = files.part(recordings_dir(settings.resolved_media_dir()), meeting.id, part)
    if _running(webcast, meeting.id, part):
        raise Conflict("this recording is still running: close the meeting or turn recording off")
    files.delete_part(found)
    return Response(status_code=204)
