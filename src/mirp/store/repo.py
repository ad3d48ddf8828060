"""The repository: every query behind the REST API. Routes call these inside one transaction.

Access rule: an organizer reaches only their own meetings (admins reach all); anything else is
reported as NotFound, exactly like a meeting that does not exist, so ids cannot be probed.
Invitations and joining are in invites.py, self-registration in registrations.py, accounts
in accounts.py (same rules, same session).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from mirp.errors import InvalidInput, NotFound
from mirp.ids import new_id
from mirp.store import tables as t
from mirp.store.schemas import (
    DEFAULT_UNDER,
    BoothIn,
    BoothOut,
    MeetingIn,
    MeetingOut,
    MeetingPatch,
    MeetingSummary,
    OptionsOut,
    check_meeting,
)

# --- reading ---------------------------------------------------------------------------------

async def load_meeting(session: AsyncSession, meeting_id: str, *,
                       for_update: bool = False) -> t.Meeting:
    """The meeting, whoever asks (public and participant paths). NotFound if none."""
    if not isinstance(meeting_id, str) or len(meeting_id) > 64:
        raise NotFound("no such meeting")
    stmt = select(t.Meeting).where(t.Meeting.id == meeting_id)
    if for_update:
        stmt = stmt.with_for_update()
    meeting = (await session.execute(stmt)).scalar_one_or_none()
    if meeting is None:
        raise NotFound("no such meeting", {"meeting_id": meeting_id})
    return meeting


async def meeting_for(session: AsyncSession, organizer: t.Organizer, meeting_id: str, *,
                      for_update: bool = False) -> t.Meeting:
    """The meeting if this organizer may see it; NotFound otherwise (never Forbidden)."""
    meeting = await load_meeting(session, meeting_id, for_update=for_update)
    if meeting.owner_id != organizer.id and not organizer.is_admin:
        raise NotFound("no such meeting", {"meeting_id": meeting_id})
    return meeting


async def booths_of(session: AsyncSession, meeting_id: str) -> list[t.Booth]:
    rows = await session.execute(
        select(t.Booth).where(t.Booth.meeting_id == meeting_id).order_by(t.Booth.position))
    return list(rows.scalars())


def _booths_out(booths: Sequence[t.Booth]) -> list[BoothOut]:
    return [BoothOut(language=b.language, retour=b.retour, understands=list(b.understands),
                     auto_floor=b.auto_floor) for b in booths]


def build_meeting_out(m: t.Meeting, booths: Sequence[t.Booth]) -> MeetingOut:
    return MeetingOut(
        id=m.id, title=m.title, starts_at=m.starts_at, ends_at=m.ends_at,
        languages=list(m.languages), booths=_booths_out(booths),
        options=OptionsOut(under_levels_db=list(m.under_levels_db), capacity=m.capacity,
                           captions=list(m.captions or ()),
                           webcast=m.webcast or "off",  # type: ignore[arg-type]
                           recording=bool(m.recording), retention_days=m.retention_days),
        under_levels_db=list(m.under_levels_db), capacity=m.capacity,
        status=m.status,  # type: ignore[arg-type]
        registration_open=m.registration_open, owner_id=m.owner_id,
        created_at=m.created_at, updated_at=m.updated_at)


async def meeting_out(session: AsyncSession, meeting: t.Meeting) -> MeetingOut:
    return build_meeting_out(meeting, await booths_of(session, meeting.id))


async def meeting_summary(session: AsyncSession, meeting: t.Meeting) -> MeetingSummary:
    booths = await booths_of(session, meeting.id)
    return MeetingSummary(
        id=meeting.id, title=meeting.title, starts_at=meeting.starts_at, ends_at=meeting.ends_at,
        languages=list(meeting.languages), booths=_booths_out(booths),
        under_levels_db=list(meeting.under_levels_db),
        status=meeting.status)  # type: ignore[arg-type]


async def list_meetings(session: AsyncSession, organizer: t.Organizer, limit: int | None = None,
                        offset: int = 0) -> list[MeetingOut]:
    """The organizer's meetings (an admin's: all), `limit` of them from `offset` (a page: an
    admin of a large server must not load every meeting at once)."""
    stmt = (select(t.Meeting).order_by(t.Meeting.starts_at, t.Meeting.created_at, t.Meeting.id)
            .offset(offset).limit(limit))
    if not organizer.is_admin:
        stmt = stmt.where(t.Meeting.owner_id == organizer.id)
    meetings = list((await session.execute(stmt)).scalars())
    if not meetings:
        return []
    rows = await session.execute(select(t.Booth).where(
        t.Booth.meeting_id.in_([m.id for m in meetings])).order_by(t.Booth.position))
    by_meeting: dict[str, list[t.Booth]] = {}
    for b in rows.scalars():
        by_meeting.setdefault(b.meeting_id, []).append(b)
    return [build_meeting_out(m, by_meeting.get(m.id, [])) for m in meetings]


# --- writing ---------------------------------------------------------------------------------

def _put_booths(session: AsyncSession, meeting_id: str, booths: list[BoothIn]) -> None:
    for i, b in enumerate(booths):
        session.add(t.Booth(meeting_id=meeting_id, language=b.language, position=i,
                            retour=b.retour, understands=list(b.understands),
                            auto_floor=b.auto_floor))


async def create_meeting(session: AsyncSession, organizer: t.Organizer,
                         data: MeetingIn) -> t.Meeting:
    booths = check_meeting(data.languages, data.booths, data.starts_at, data.ends_at)
    now = t.utcnow()
    meeting = t.Meeting(
        id=new_id("m"), owner_id=organizer.id, title=data.title, starts_at=data.starts_at,
        ends_at=data.ends_at, languages=list(data.languages),
        under_levels_db=list(data.options.under_levels_db or DEFAULT_UNDER),
        capacity=data.options.capacity or 500, status=data.status,
        captions=_captions(data.options.captions, data.languages),
        webcast=data.options.webcast or "off", recording=bool(data.options.recording),
        retention_days=data.options.retention_days or None,
        registration_open=data.registration_open, created_at=now, updated_at=now)
    session.add(meeting)
    await session.flush()
    _put_booths(session, meeting.id, booths)
    await session.flush()
    return meeting


async def update_meeting(session: AsyncSession, organizer: t.Organizer, meeting_id: str,
                         patch: MeetingPatch) -> t.Meeting:
    meeting = await meeting_for(session, organizer, meeting_id, for_update=True)
    given = patch.model_fields_set
    if "title" in given and patch.title is None:
        raise InvalidInput("title: a meeting needs a title", {"field": "title"})
    if "languages" in given and patch.languages is None:
        raise InvalidInput("languages: a meeting needs at least one language",
                           {"field": "languages"})
    languages = patch.languages if patch.languages is not None else list(meeting.languages)
    if patch.booths is not None or "booths" in given:
        booths_in = list(patch.booths or [])
    elif "languages" in given:
        # languages changed, booths not given: keep the booths whose language remains, and
        # drop the removed languages from their retour / understands (like the organizer page)
        booths_in = [BoothIn(language=b.language,
                             retour=b.retour if b.retour in languages else None,
                             understands=[u for u in b.understands if u in languages],
                             auto_floor=b.auto_floor)
                     for b in await booths_of(session, meeting.id) if b.language in languages]
    else:
        booths_in = None
    starts_at = patch.starts_at if "starts_at" in given else meeting.starts_at
    ends_at = patch.ends_at if "ends_at" in given else meeting.ends_at
    current = booths_in if booths_in is not None else [
        BoothIn(language=b.language, retour=b.retour, understands=list(b.understands),
                auto_floor=b.auto_floor) for b in await booths_of(session, meeting.id)]
    cleaned = check_meeting(languages, current, starts_at, ends_at)

    meeting.languages = list(languages)
    meeting.starts_at = starts_at
    meeting.ends_at = ends_at
    if patch.title is not None:
        meeting.title = patch.title
    if patch.options is not None:
        if patch.options.under_levels_db is not None:
            meeting.under_levels_db = list(patch.options.under_levels_db)
        if patch.options.capacity is not None:
            meeting.capacity = patch.options.capacity
        if patch.options.webcast is not None:
            meeting.webcast = patch.options.webcast
        if patch.options.recording is not None:
            meeting.recording = patch.options.recording
        if patch.options.retention_days is not None:
            meeting.retention_days = patch.options.retention_days or None
        if patch.options.captions is not None:
            meeting.captions = _captions(patch.options.captions, meeting.languages)
    if patch.status is not None:
        meeting.status = patch.status
    if patch.registration_open is not None:
        meeting.registration_open = patch.registration_open
    meeting.updated_at = t.utcnow()
    if booths_in is not None:
        await session.execute(delete(t.Booth).where(t.Booth.meeting_id == meeting.id))
        await session.flush()
        _put_booths(session, meeting.id, cleaned)
    await session.flush()
    return meeting


async def delete_meeting(session: AsyncSession, organizer: t.Organizer, meeting_id: str) -> None:
    """The meeting and everything of it (invitations, participants, statistics)."""
    meeting = await meeting_for(session, organizer, meeting_id, for_update=True)
    for table in (*t.STATISTICS, t.Registration, t.Participant, t.Invitation, t.Booth):
        await session.execute(delete(table).where(table.meeting_id == meeting.id))
    await session.execute(delete(t.Meeting).where(t.Meeting.id == meeting.id))



def _captions(channels: Sequence[str] | None, languages: Sequence[str]) -> list[str]:
    """The captioned channels: "floor" or a language of the meeting (else InvalidInput)."""
    out = list(dict.fromkeys(channels or ()))
    for channel in out:
        if channel != "floor" and channel not in languages:
            raise InvalidInput(f"captions: {channel!r} is neither 'floor' nor a language of "
                               "this meeting")
    return out
