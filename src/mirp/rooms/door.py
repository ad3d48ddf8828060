"""The rooms as a Session sees them (signaling/handlers.py): a door to join through, and the
room it joined. RoomRegistry and RoomRuntime implement these; signaling depends only on them,
so a room owned by another node (the cluster Bus) can stand behind the same two protocols.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from mirp.rooms.commands import Command
from mirp.rooms.events import JsonDict
from mirp.rooms.model import JoinGrant
from mirp.rooms.session import Session


class JoinedRoom(Protocol):
    """What a joined Session may ask of its room; each call runs in the room's actor task."""

    meeting_id: str

    async def command(
        self, participant_id: str, session: Session, command: Command, reply: JsonDict | None = None
    ) -> None: ...

    async def offer(self, participant_id: str, session: Session, sdp: str) -> str: ...

    async def candidate(
        self, participant_id: str, candidate: Mapping[str, object] | None
    ) -> None: ...

    async def leave_session(
        self, participant_id: str, session: Session, for_good: bool = False
    ) -> None: ...


class RoomDoor(Protocol):
    """Who may join (the store's answer) and the joining itself (the room opened if needed;
    the welcome sent when `join` returns)."""

    async def authorize(self, token: str, meeting_id: str | None = None) -> JoinGrant: ...

    async def join(
        self, grant: JoinGrant, session: Session, resume: str | None = None
    ) -> JoinedRoom: ...
