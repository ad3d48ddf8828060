"""What the change in progress has to say, shared by the Room's parts.

Each part of a Room (rooms/room.py) writes the events of the command being handled here, and
marks the participants whose presence changed; the Room hands the events out once the change
is settled (Room._finish) and tells each marked participant's new state once. A part never
holds the Room itself, only this: a snapshot restored into a Room (rooms/runtime.py swaps its
`__dict__`) then stays one consistent object graph.
"""

from __future__ import annotations

from mirp.rooms.events import Event, RecordEvent
from mirp.rooms.model import Record


class Changes:
    def __init__(self) -> None:
        self.events: list[Event] = []
        self.dirty: set[str] = set()  # participants whose presence changed

    def emit(self, event: Event) -> None:
        self.events.append(event)

    def record(self, record: Record) -> None:
        self.events.append(RecordEvent(record))

    def touch(self, participant_id: str) -> None:
        self.dirty.add(participant_id)

    def take(self) -> tuple[list[Event], set[str]]:
        """The events so far and who changed; both start empty again."""
        out, dirty = self.events, self.dirty
        self.events, self.dirty = [], set()
        return out, dirty
