"""A room's Sessions and its one event counter: who hears what, in which order.

Why one counter per room: every wire event gets the next `seq` and is encoded once for all its
recipients, so every client sees the same order and a welcome's `seq` says exactly which events
it already contains. Used only from the Room's actor task (rooms/actor.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator

from mirp.errors import MirpError
from mirp.rooms.events import JsonDict, WireEvent
from mirp.rooms.session import Session


def encode(message: JsonDict) -> str:
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False)


class Sessions:
    def __init__(self, seq: int = 0) -> None:
        self.seq = seq  # the last event's number (a restored room goes on from its snapshot's)
        self._current: dict[str, Session] = {}  # participant id -> its current Session
        self._latest: dict[str, str] = {}  # participant id -> its latest session id (resume)

    def __len__(self) -> int:
        return len(self._current)

    def __iter__(self) -> Iterator[str]:
        return iter(self._current)

    def get(self, participant_id: str) -> Session | None:
        return self._current.get(participant_id)

    def is_current(self, participant_id: str, session: Session) -> bool:
        return self._current.get(participant_id) is session

    def attach(self, participant_id: str, session: Session) -> None:
        self._current[participant_id] = session
        self._latest[participant_id] = session.id

    def detach(self, participant_id: str) -> Session | None:
        return self._current.pop(participant_id, None)

    def resumes(self, participant_id: str, resume: str | None) -> bool:
        """Whether a join naming `resume` continues the participant's latest Session."""
        return resume is not None and self._latest.get(participant_id) == resume

    def ever_joined(self) -> list[str]:
        """Everyone who had a Session in this room (a closing room makes them all leave)."""
        return list(self._latest)

    def close_all(self, code: int, reason: str, error: MirpError | None = None) -> None:
        closing = list(self._current.values())
        self._current.clear()
        for session in closing:
            session.close(code, reason, error)

    def broadcast(self, event: WireEvent, recipients: Iterable[str]) -> None:
        """Number `event`, encode it once and hand it to each recipient's Session (never
        blocks: a Session queues or drops a slow client itself)."""
        self.seq += 1
        message = event.message()
        message["seq"] = self.seq
        text = encode(message)
        for pid in recipients:
            session = self._current.get(pid)
            if session is not None:
                session.send_json(text)
