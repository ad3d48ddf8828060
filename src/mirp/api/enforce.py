"""Decisions that change rights or the meeting reach its live room, after they are committed.

A route that revokes, deletes or changes a meeting's status commits its transaction itself
(`commit`), so the room never acts on a decision that could still roll back, and the
organizer's answer comes after the live sessions were told. The room side is RoomRegistry's
decision methods (rooms/registry.py): plain ids and strings, so the same calls can later travel
over the cluster Bus to the node that owns the room.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Protocol

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession


class LiveRooms(Protocol):
    """What the API asks of the live side (RoomRegistry implements it)."""

    async def revoke_invitation(self, meeting_id: str, invitation_id: str) -> list[str]: ...
    async def meeting_deleted(self, meeting_id: str) -> None: ...
    async def meeting_status(self, meeting_id: str, status: str, by: str | None = None) -> None: ...
    async def booths_changed(self, meeting_id: str, booths: Sequence[str]) -> list[str]: ...


class NoRooms:
    """No live side in this app (REST-only tests, tools): nothing to enforce."""

    async def revoke_invitation(self, meeting_id: str, invitation_id: str) -> list[str]:
        return []

    async def meeting_deleted(self, meeting_id: str) -> None:
        return None

    async def meeting_status(self, meeting_id: str, status: str, by: str | None = None) -> None:
        return None

    async def booths_changed(self, meeting_id: str, booths: Sequence[str]) -> list[str]:
        return []


def get_rooms(request: Request) -> LiveRooms:
    rooms = getattr(request.app.state, "rooms", None)
    return rooms if rooms is not None else NoRooms()


Rooms = Annotated[LiveRooms, Depends(get_rooms)]


async def commit(session: AsyncSession) -> None:
    """Commit now (the request's transaction ends here; DbSession's own commit then has
    nothing left to do), so what follows acts on a durable decision."""
    await session.commit()
