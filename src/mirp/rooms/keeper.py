"""What makes a Room's changes durable, as its runtime sees it: records, snapshots, decisions.

Why here and not in the runtime: "durable before acknowledged" (docs/rooms.md, "Durability") is
one rule with three cases, and they are easier to check side by side:
- records (attendance, turns...) go to the Recorder's journal as they happen;
- the Room's state is snapshotted into the journal, at once when an ack waits for it, else
  coalesced a little later (`LAZY_SNAPSHOT_S`; the runtime schedules it on its actor);
- a decision that changes rights or the meeting (`DECISION_COMMANDS`) is committed to the
  database before its ack or events; if it cannot be, the Room is put back as it was and the
  command refused with Unavailable (nothing is said that did not happen).
The Keeper is used only from the Room's actor task, which waits (`durable`, `settle`) in order.
"""

from __future__ import annotations

import logging
import pickle
from collections.abc import Sequence
from typing import Protocol

from mirp.errors import Unavailable
from mirp.rooms.durable import DECISIONS
from mirp.rooms.events import Event, RecordEvent
from mirp.rooms.model import Record
from mirp.rooms.room import Room

log = logging.getLogger("mirp.rooms.keeper")

# commands whose decision is committed to the database before their ack or events
DECISION_COMMANDS = frozenset({"participant_remove", "meeting_open", "meeting_close"})
# a change no ack waits for (a join, a timer, levels) is snapshotted this much later, coalesced
# with what follows: pickling a large Room costs ms (2.3 ms at 500 participants)
LAZY_SNAPSHOT_S = 0.1
# commands whose effect a restore need not bring back (a connection grade, a notice, a chat
# line): their ack does not wait for a snapshot
LAZY_SNAPSHOT_COMMANDS = frozenset({"quality", "slow_down", "booth_chat"})


class RecordSink(Protocol):
    def put(self, record: Record) -> None: ...


class Durability(Protocol):
    """Where a Room's decisions, records and snapshots become durable (rooms/recorder.py)."""

    async def decide(self, records: Sequence[Record]) -> None: ...
    def snapshot(self, meeting_id: str, room: Room | None, seq: int) -> None: ...
    async def durable(self) -> None: ...


def _is_decision(event: Event) -> bool:
    return isinstance(event, RecordEvent) and isinstance(event.record, DECISIONS)


class Keeper:
    def __init__(
        self, meeting_id: str, recorder: RecordSink, durability: Durability | None
    ) -> None:
        self.meeting_id = meeting_id
        self.recorder = recorder
        self.durability = durability  # None: nothing is journaled (unit tests)

    @property
    def snapshots(self) -> bool:
        return self.durability is not None

    def record(self, events: Sequence[Event]) -> None:
        for event in events:
            if isinstance(event, RecordEvent):
                self.recorder.put(event.record)

    def snapshot(self, room: Room | None, seq: int) -> None:
        """The Room's state into the journal (None: the room ended, nothing to restore)."""
        if self.durability is not None:
            self.durability.snapshot(self.meeting_id, room, seq)

    async def durable(self) -> None:
        """Wait until what was journaled so far is on disk."""
        if self.durability is not None:
            await self.durability.durable()

    def before(self, room: Room, command_type: str) -> bytes | None:
        """The Room as it is, to put back should the database refuse this command's decision;
        None for a command that decides nothing."""
        if self.durability is None or command_type not in DECISION_COMMANDS:
            return None
        return pickle.dumps(room, pickle.HIGHEST_PROTOCOL)

    async def settle(self, room: Room, before: bytes, events: list[Event]) -> list[Event]:
        """Commit the decision records among `events`; on failure put the Room back to
        `before` and refuse. Returns the other events."""
        decisions = [e.record for e in events if isinstance(e, RecordEvent) and _is_decision(e)]
        if not decisions or self.durability is None:
            return events
        try:
            await self.durability.decide(decisions)
        except Exception as exc:
            room.__dict__.clear()
            room.__dict__.update(pickle.loads(before).__dict__)
            log.warning("room %s: decision not committed (%s): refused", self.meeting_id, exc)
            raise Unavailable("the decision could not be saved; try again") from exc
        return [e for e in events if not _is_decision(e)]
