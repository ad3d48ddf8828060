"""A Session as a Room sees it: what the Room task needs of one WebSocket connection.

signaling/session.py's Session implements it; this Protocol lets rooms/ hold Sessions without
importing signaling (which sits above rooms). Every method is called from the Room task and must
never block: a Session queues what it is given and writes it from its own task.
"""

from __future__ import annotations

from typing import Any, Protocol

from mirp.errors import MirpError


class Session(Protocol):
    """One WebSocket connection of a Participant (a reconnect is a new Session)."""

    @property
    def id(self) -> str: ...

    def send_json(self, text: str) -> None:
        """One message already encoded (a room event is encoded once for all its recipients)."""
        ...

    def send(self, message: dict[str, Any]) -> None: ...

    def welcome(
        self, participant_id: str, room: dict[str, Any], seq: int, resumed: bool
    ) -> None:
        """The first message after a successful hello, sent from the Room task so that no room
        event can overtake it."""
        ...

    def close(
        self,
        code: int,
        reason: str,
        error: MirpError | None = None,
        msg_id: int | str | None = None,
    ) -> None:
        """Close after what is queued (and `error`, sent first with `fatal: true`)."""
        ...
