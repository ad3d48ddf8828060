"""The captions' transcript (table caption_lines; docs/captions.md): saved as each final caption
arrives, read back as text, WebVTT or JSON, and side by side per speaking turn.

A turn is a run of consecutive lines said under the same floor holders: each channel's lines of
that time sit beside the floor's, which is a first draft of the verbatim record (what was said
and what each booth made of it).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from mirp.store import tables as t
from mirp.store.db import Database
from mirp.store.repo import meeting_for


@dataclass(frozen=True, slots=True)
class Line:
    channel: str  # "floor" or a language
    language: str  # what was recognised
    start: datetime
    end: datetime
    text: str
    speakers: tuple[str, ...] = ()  # the floor holders' names when it was said

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["start"], out["end"] = self.start.isoformat(), self.end.isoformat()
        out["speakers"] = list(self.speakers)
        return out


async def save(db: Database, meeting_id: str, line: Line) -> None:
    async with db.session() as session:
        session.add(t.CaptionLine(
            meeting_id=meeting_id, channel=line.channel, language=line.language,
            start=line.start, end=line.end, text=line.text[:4000],
            speakers=list(line.speakers)))


async def lines(db: Database, organizer: t.Organizer, meeting_id: str,
                channel: str | None = None) -> list[Line]:
    """The meeting's captions in order of time (one channel's, or all); NotFound/Forbidden as
    for the meeting itself."""
    async with db.session() as session:
        meeting = await meeting_for(session, organizer, meeting_id)
        stmt = select(t.CaptionLine).where(t.CaptionLine.meeting_id == meeting.id)
        if channel is not None:
            stmt = stmt.where(t.CaptionLine.channel == channel)
        rows = (await session.scalars(stmt.order_by(t.CaptionLine.start,
                                                     t.CaptionLine.id))).all()
    return [Line(r.channel, r.language, r.start, r.end, r.text, tuple(r.speakers))
            for r in rows]


def as_text(found: list[Line]) -> str:
    return "".join(
        f"[{x.start.astimezone(UTC):%H:%M:%S}] {x.channel}"
        f"{' — ' + ', '.join(x.speakers) if x.speakers else ''}: {x.text}\n" for x in found)


def _vtt_time(seconds: float) -> str:
    ms = max(0, round(seconds * 1000))
    return f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d}.{ms % 1000:03d}"


def as_vtt(found: list[Line]) -> str:
    """WebVTT, times from the first caption (a recording made from then on lines up)."""
    out = ["WEBVTT", ""]
    if not found:
        return "WEBVTT\n"
    zero = min(x.start for x in found)
    for i, x in enumerate(found, 1):
        start = (x.start - zero).total_seconds()
        end = max((x.end - zero).total_seconds(), start + 0.5)
        voice = f"<v {', '.join(x.speakers)}>" if x.speakers else ""
        out += [str(i), f"{_vtt_time(start)} --> {_vtt_time(end)}",
                voice + x.text.replace("-->", "->"), ""]
    return "\n".join(out)


def turns(found: list[Line]) -> list[dict[str, Any]]:
    """Per speaking turn (consecutive lines under the same floor holders), every channel's
    text side by side: `{"speakers", "start", "end", "channels": {channel: text}}`."""
    out: list[dict[str, Any]] = []
    for x in found:
        if not out or out[-1]["speakers"] != list(x.speakers):
            out.append({"speakers": list(x.speakers), "start": x.start.isoformat(),
                        "end": x.end.isoformat(), "channels": {}})
        turn = out[-1]
        turn["end"] = max(turn["end"], x.end.isoformat())
        said = turn["channels"].get(x.channel)
        turn["channels"][x.channel] = f"{said} {x.text}" if said else x.text
    return out
