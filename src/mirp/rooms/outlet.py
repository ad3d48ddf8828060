"""The Outlet: a Session as a Room sees it (signaling/session.py implements it), so rooms/
never imports signaling."""

from __future__ import annotations

from typing import Any, Protocol

from mirp.errors import MirpError


class Outlet(Protocol):
    """A Session as the Room task sees it (signaling/session.py implements it)."""

    id: str

    def send_json(self, text: str) -> None: ...

    def send(self, message: dict[str, Any]) -> None: ...

    def welcome(
        self, participant_id: str, room: dict[str, Any], seq: int, resumed: bool
    ) -> None: ...

    def close(
        self,
        code: int,
        reason: str,
        error: MirpError | None = None,
        msg_id: int | str | None = None,
    ) -> None: ...
