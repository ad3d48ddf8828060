"""Decisions that change rights or the meeting reach its live room, after they are committed.

A route that revokes, deletes or changes a meeting's status commits its transaction itself
(`commit`), so the room never acts on a decision that could still roll back, and the
organizer's answer comes after the live sessions were told. The room side is the `Rooms`
dependency (api/deps.py's LiveRooms: RoomRegistry's decision methods, plain ids and strings, so
the same calls can later travel over the cluster Bus to the node that owns the room).
"""

from __future__ import annotations

from mirp.store.db import SqlSession


async def commit(session: SqlSession) -> None:
    """Commit now (the request's transaction ends here; DbSession's own commit then has
    nothing left to do), so what follows acts on a durable decision."""
    await session.commit()
