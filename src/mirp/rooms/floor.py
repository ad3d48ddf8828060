"""The floor: who holds it, the speakers list, the floor language and the speaking-time countdown.

No roles here (Room.handle checks them); only the rules of the list itself:
- a request joins the end of the list; a point of order goes to the top, after any earlier
  point of order (first come, first heard), and is marked so the chair sees it;
- giving the floor takes the participant off the list; several may hold it (chair + speaker);
- where the floor is (`room_mode`, hybrid meetings): `room` (the meeting room's feed only),
  `remote` (the holders only) or `both`; the chair decides (docs/venue.md);
- one countdown: the turn of the last timed speaker given the floor (the presiding chair's own
  turns are not timed). Setting the limit restarts it. When it runs out `tick` reports it once;
  the chair decides what happens (the floor is not taken automatically).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mirp.errors import Conflict, InvalidInput, NotFound

MAX_TIME_LIMIT_S = 4 * 3600
ROOM_MODES = ("room", "remote", "both")  # where the floor is: in the room, remote, or both


@dataclass(frozen=True, slots=True)
class SpeakerRequest:
    participant_id: str
    kind: str  # "speak" | "point_of_order"
    at: float


@dataclass(slots=True)
class Holder:
    participant_id: str
    since: float
    muted: bool = False


@dataclass(slots=True)
class Floor:
    speakers: list[SpeakerRequest] = field(default_factory=list)
    holders: dict[str, Holder] = field(default_factory=dict)  # in the order given
    language_set: str | None = None  # set by the chair; None: auto (the holder's language)
    time_limit_s: int | None = None
    timed: str | None = None  # the holder the countdown is for
    deadline: float | None = None
    time_up_reported: bool = False
    room_mode: str = "both"  # one of ROOM_MODES

    # --- speakers list ----------------------------------------------------------------------

    def position(self, pid: str) -> int | None:
        return next((i for i, r in enumerate(self.speakers) if r.participant_id == pid), None)

    def request(self, pid: str, kind: str, now: float) -> None:
        if pid in self.holders:
            raise Conflict("you already have the floor")
        i = self.position(pid)
        if i is not None:
            if kind != "point_of_order" or self.speakers[i].kind == "point_of_order":
                raise Conflict("you are already on the speakers list", {"position": i + 1})
            del self.speakers[i]  # a request becomes a point of order: it moves up
        req = SpeakerRequest(pid, kind, now)
        if kind == "point_of_order":
            top = sum(1 for r in self.speakers if r.kind == "point_of_order")
            self.speakers.insert(top, req)
        else:
            self.speakers.append(req)

    def withdraw_request(self, pid: str) -> bool:
        i = self.position(pid)
        if i is None:
            return False
        del self.speakers[i]
        return True

    def reorder(self, order: tuple[str, ...]) -> None:
        now_ids = [r.participant_id for r in self.speakers]
        if sorted(order) != sorted(now_ids) or len(set(order)) != len(order):
            raise InvalidInput(
                "the new order must list exactly the participants on the speakers list",
                {"speakers": now_ids},
            )
        by_id = {r.participant_id: r for r in self.speakers}
        self.speakers = [by_id[p] for p in order]

    # --- holders ----------------------------------------------------------------------------

    def give(self, pid: str, now: float, timed: bool) -> None:
        if pid in self.holders:
            raise Conflict("already has the floor", {"participant_id": pid})
        self.withdraw_request(pid)
        self.holders[pid] = Holder(pid, now)
        if timed:
            self.timed = pid
            self._restart(now)

    def take(self, pid: str) -> Holder:
        h = self.holders.pop(pid, None)
        if h is None:
            raise NotFound("does not have the floor", {"participant_id": pid})
        if self.timed == pid:
            self.timed, self.deadline, self.time_up_reported = None, None, False
        return h

    def mute(self, pid: str, muted: bool) -> bool:
        h = self.holders.get(pid)
        if h is None:
            raise Conflict("only a floor holder can be muted", {"participant_id": pid})
        changed = h.muted != muted
        h.muted = muted
        return changed

    def set_room_mode(self, mode: str) -> None:
        if mode not in ROOM_MODES:
            raise InvalidInput("the floor is in the room, remote or both",
                               {"mode": mode, "modes": list(ROOM_MODES)})
        self.room_mode = mode

    @property
    def room_heard(self) -> bool:
        """The meeting room's feed is in the floor mix."""
        return self.room_mode != "remote"

    @property
    def holders_heard(self) -> bool:
        """The holders' microphones are in the floor mix."""
        return self.room_mode != "room"

    # --- time -------------------------------------------------------------------------------

    def set_time_limit(self, seconds: int | None, now: float) -> None:
        if seconds is not None and not 1 <= seconds <= MAX_TIME_LIMIT_S:
            raise InvalidInput(
                f"the speaking time must be 1 to {MAX_TIME_LIMIT_S} seconds, or none",
                {"seconds": seconds},
            )
        self.time_limit_s = seconds
        self._restart(now)

    def _restart(self, now: float) -> None:
        self.time_up_reported = False
        self.deadline = (
            now + self.time_limit_s if self.timed and self.time_limit_s is not None else None
        )

    def remaining(self, now: float) -> float | None:
        return None if self.deadline is None else max(0.0, self.deadline - now)

    def next_deadline(self) -> float | None:
        return self.deadline if self.deadline is not None and not self.time_up_reported else None

    def time_up(self, now: float) -> str | None:
        """The timed speaker whose time just ran out (reported once per countdown)."""
        if self.deadline is None or self.time_up_reported or now < self.deadline:
            return None
        self.time_up_reported = True
        return self.timed

    # --- views ------------------------------------------------------------------------------

    def state_key(self) -> tuple[Any, ...]:
        """Everything the floor message shows except the ticking remaining time."""
        return (
            tuple((r.participant_id, r.kind) for r in self.speakers),
            tuple((h.participant_id, h.muted) for h in self.holders.values()),
            self.language_set,
            self.time_limit_s,
            self.timed,
            self.deadline,
            self.room_mode,
        )

    def view(self, now: float, language: str | None) -> dict[str, Any]:
        return {
            "holders": list(self.holders),
            # a holder is not heard while the floor is in the room: their page says so
            "muted": [
                h.participant_id for h in self.holders.values()
                if h.muted or not self.holders_heard
            ],
            "language": language,
            "language_auto": self.language_set is None,
            "time_limit_s": self.time_limit_s,
            "remaining_s": None if self.deadline is None else round(self.remaining(now) or 0, 1),
            "timed": self.timed,
            "room": self.room_mode,
            "speakers": [
                {"participant_id": r.participant_id, "kind": r.kind} for r in self.speakers
            ],
        }
