"""Helpers to drive a Room in tests: a meeting with booths, a cast, and checks that a refused
command changed nothing. Pure: no sockets, no sleeps; time is a number we move."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar, overload

import pytest

from mirp.errors import MirpError
from mirp.interpretation.routing import FLOOR
from mirp.media.plan import FeedKey
from mirp.rooms import commands as c
from mirp.rooms.events import Event, RecordEvent, WireEvent
from mirp.rooms.limits import RoomLimits
from mirp.rooms.model import BoothSpec, JoinGrant, MeetingSpec, MeetingStatus, Record, Role
from mirp.rooms.room import Room

MEETING = "m1"
T0 = 1_700_000_000.0

# fr: retour en, takes en directly; de: takes en and fr; es: takes fr only; it: no auto-floor
BOOTHS = (
    BoothSpec("fr", retour="en", understands=frozenset({"en"})),
    BoothSpec("de", understands=frozenset({"en", "fr"})),
    BoothSpec("es", understands=frozenset({"fr"})),
    BoothSpec("it", understands=frozenset({"en"}), auto_floor=False),
)
LANGUAGES = ("en", "fr", "de", "es", "it")

# pid -> (role, booth, profile language)
CAST: dict[str, tuple[Role, str | None, str | None]] = {
    "ch": (Role.CHAIR, None, "en"),
    "org": (Role.ORGANIZER, None, None),
    "d1": (Role.DELEGATE, None, "en"),
    "d2": (Role.DELEGATE, None, "fr"),
    "d3": (Role.DELEGATE, None, None),
    "ob": (Role.OBSERVER, None, None),
    "fr1": (Role.INTERPRETER, "fr", None),
    "fr2": (Role.INTERPRETER, "fr", None),
    "de1": (Role.INTERPRETER, "de", None),
    "es1": (Role.INTERPRETER, "es", None),
    "it1": (Role.INTERPRETER, "it", None),
}


def make_spec(**kw: Any) -> MeetingSpec:
    base: dict[str, Any] = {
        "id": MEETING,
        "title": "Plenary",
        "languages": LANGUAGES,
        "booths": BOOTHS,
        "status": MeetingStatus.OPEN,
    }
    base.update(kw)
    return MeetingSpec(**base)


def grant(pid: str, role: Role | None = None, booth: str | None = None, **kw: Any) -> JoinGrant:
    if role is None:
        role, booth, lang = CAST[pid]
        kw.setdefault("language", lang)
    return JoinGrant(MEETING, pid, pid.upper(), role, booth=booth, **kw)


def messages(events: Sequence[Event], type_: str | None = None) -> list[dict[str, Any]]:
    return [
        e.message()
        for e in events
        if isinstance(e, WireEvent) and (type_ is None or e.message()["type"] == type_)
    ]


R = TypeVar("R")


@overload
def records(events: Sequence[Event]) -> list[Record]: ...
@overload
def records(events: Sequence[Event], cls: type[R]) -> list[R]: ...
def records(events: Sequence[Event], cls: type[Any] | None = None) -> list[Any]:
    """The records among `events` (of class `cls`, typed as such)."""
    return [
        e.record
        for e in events
        if isinstance(e, RecordEvent) and (cls is None or isinstance(e.record, cls))
    ]


class Kit:
    """A Room, a clock, and the cast joined on demand."""

    def __init__(
        self, spec: MeetingSpec | None = None, limits: RoomLimits | None = None, *cast: str
    ) -> None:
        self.room = Room(
            spec or make_spec(), limits or RoomLimits(grace_s=30, handover_timeout_s=20)
        )
        self.now = T0
        self.log: list[Event] = []
        for pid in cast:
            self.join(pid)

    def join(self, pid: str, **kw: Any) -> list[Event]:
        ev = self.room.join(grant(pid, **kw), self.now)
        self.log += ev
        return ev

    def do(self, pid: str, cmd: c.Command) -> list[Event]:
        ev = self.room.handle(pid, cmd, self.now)
        self.log += ev
        return ev

    def advance(self, dt: float) -> list[Event]:
        self.now += dt
        ev = self.room.tick(self.now)
        self.log += ev
        return ev

    def state(self) -> Any:
        r = self.room
        pids = sorted(r.participants)
        return (
            {pid: r.snapshot(pid) for pid in pids},
            r.mix_plan(),
            r.feeds(),
            r.next_deadline(),
            r.overview(),
        )

    def refuse(self, pid: str, cmd: c.Command, exc: type[MirpError]) -> MirpError:
        """The command is refused with `exc` and nothing changed."""
        before = self.state()
        with pytest.raises(exc) as info:
            self.room.handle(pid, cmd, self.now)
        assert self.state() == before
        return info.value

    def hears(self, pid: str) -> FeedKey | None:
        return self.room.feed_for(pid)

    def recipe(self, pid: str) -> tuple[tuple[str, float], ...]:
        key = self.room.feed_for(pid)
        assert key is not None
        plan = self.room.mix_plan()
        assert key in plan.feeds, f"{pid}'s key {key} missing from the plan"
        return plan.recipe(key)

    def sources_heard(self, pid: str) -> set[str]:
        return {s for s, _ in self.recipe(pid)}

    def channel(self, pid: str) -> str:
        return self.room.participants[pid].channel

    def route(self, channel: str) -> dict[str, Any]:
        return self.room.routes[channel].view() | {"kind": self.room.routes[channel].kind}


__all__ = ["FLOOR", "Kit", "grant", "make_spec", "messages", "records"]
