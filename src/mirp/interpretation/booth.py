"""One booth: its interpreters, who is on air, into which language, cough, and handover.

The rules an interpreter's console follows, without roles or sockets: at most one interpreter
of a booth is on air at a time (that is what makes the booth's channel one voice); the
microphone moves between partners either by going off air and on again, or by a handover that
one partner asks for and the other accepts (the move is immediate on accept, so the channel
never carries two voices nor a gap). A request nobody answers expires (`expire`), so a partner
who walked away does not leave the booth stuck with a pending handover.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mirp.errors import Conflict, Forbidden, InvalidInput, NotFound
from mirp.interpretation.events import (
    BoothEvent,
    HandoverDeclined,
    HandoverDone,
    HandoverExpired,
    OnAirEnded,
)
from mirp.interpretation.spec import BoothSpecLike


@dataclass(frozen=True, slots=True)
class Handover:
    """`requester` asked; `target` must accept. On accept `next_on_air` goes on air (the one of
    the two who is not on air now)."""

    requester: str
    target: str
    next_on_air: str
    expires_at: float


@dataclass(slots=True)
class Booth:
    spec: BoothSpecLike
    members: list[str] = field(default_factory=list)  # interpreters present, in join order
    on_air: str | None = None
    on_air_since: float | None = None
    output: str = ""  # the channel spoken into: spec.language or spec.retour
    coughing: bool = False
    handover: Handover | None = None

    def __post_init__(self) -> None:
        if not self.output:
            self.output = self.spec.language

    @property
    def language(self) -> str:
        return self.spec.language

    @property
    def outputs(self) -> tuple[str, ...]:
        return (self.spec.language, self.spec.retour) if self.spec.retour else (self.spec.language,)

    def understands(self, language: str | None) -> bool:
        """Whether the booth can take `language` directly (its own languages count)."""
        if language is None:
            return True  # unknown floor language: take the floor, nobody can choose better
        return language in self.spec.understands or language in self.outputs

    # --- membership -------------------------------------------------------------------------

    def add(self, pid: str) -> None:
        if pid not in self.members:
            self.members.append(pid)

    def remove(self, pid: str, now: float) -> list[BoothEvent]:
        """A member leaves the booth for good: off air, and any handover involving them ends."""
        out: list[BoothEvent] = []
        if self.on_air == pid:
            out += self._end_turn(now)
        if self.handover and pid in (self.handover.requester, self.handover.target):
            self.handover = None
        if pid in self.members:
            self.members.remove(pid)
        return out

    def _member(self, pid: str) -> None:
        if pid not in self.members:
            raise Forbidden("not an interpreter of this booth", {"booth": self.language})

    # --- on air -----------------------------------------------------------------------------

    def _start_turn(self, pid: str, now: float) -> None:
        self.on_air, self.on_air_since, self.coughing = pid, now, False

    def _end_turn(self, now: float) -> list[BoothEvent]:
        if self.on_air is None:
            return []
        ended = OnAirEnded(self.language, self.on_air, self.output, self.on_air_since or now, now)
        self.on_air, self.on_air_since, self.coughing = None, None, False
        return [ended]

    def set_on_air(self, pid: str, on: bool, now: float) -> list[BoothEvent]:
        self._member(pid)
        if on:
            if self.on_air == pid:
                return []
            if self.on_air is not None:
                raise Conflict(
                    "your partner is on air: ask for a handover",
                    {"booth": self.language, "on_air": self.on_air},
                )
            self._start_turn(pid, now)
            self.handover = None
            return []
        if self.on_air != pid:
            return []  # already off air: idempotent
        self.handover = None
        return self._end_turn(now)

    def set_output(self, pid: str, channel: str, now: float) -> list[BoothEvent]:
        """Switch A <-> B. While someone is on air only they may switch (their turn record is
        split, so on-air statistics stay per language)."""
        self._member(pid)
        if channel not in self.outputs:
            raise InvalidInput(
                f"booth {self.language} speaks into {', '.join(self.outputs)} only",
                {"channel": channel, "outputs": list(self.outputs)},
            )
        if self.on_air is not None and self.on_air != pid:
            raise Conflict("only the interpreter on air may switch the output")
        if channel == self.output:
            return []
        out: list[BoothEvent] = []
        if self.on_air is not None:
            speaker, coughing = self.on_air, self.coughing
            out = self._end_turn(now)
            self.output = channel
            self._start_turn(speaker, now)
            self.coughing = coughing
        else:
            self.output = channel
        return out

    def set_cough(self, pid: str, on: bool) -> bool:
        """Cough only mutes the interpreter on air; for anyone else it is a no-op (the console
        sends it from a key press whatever the state). Returns whether anything changed."""
        self._member(pid)
        if self.on_air != pid or self.coughing == on:
            return False
        self.coughing = on
        return True

    # --- handover ---------------------------------------------------------------------------

    def request_handover(
        self, pid: str, to: str | None, now: float, timeout_s: float, present: set[str]
    ) -> None:
        """`present`: members connected now (a handover to someone away cannot be accepted)."""
        self._member(pid)
        if self.on_air is None:
            raise Conflict("nobody is on air: just go on air")
        if to is None:
            others = [m for m in self.members if m != pid and m in present]
            if self.on_air != pid:
                others = [self.on_air] if self.on_air in present else []
            if len(others) != 1:
                raise InvalidInput("say whom to hand over to", {"candidates": others})
            to = others[0]
        if to == pid:
            raise InvalidInput("cannot hand over to yourself")
        if to not in self.members:
            raise NotFound("no such interpreter in this booth", {"to": to})
        if to not in present:
            raise Conflict("your partner is not connected", {"to": to})
        if self.on_air not in (pid, to):
            raise Conflict("a handover is between the interpreter on air and a partner")
        if self.handover is not None and self.handover.expires_at > now:
            raise Conflict("a handover is already pending", {"requester": self.handover.requester})
        nxt = to if self.on_air == pid else pid
        self.handover = Handover(pid, to, nxt, now + timeout_s)

    def accept_handover(self, pid: str, now: float) -> list[BoothEvent]:
        self._member(pid)
        h = self.handover
        if h is None or h.target != pid or h.expires_at <= now:
            raise Conflict("no handover is waiting for you")
        previous = self.on_air
        out = self._end_turn(now)
        self._start_turn(h.next_on_air, now)
        self.handover = None
        out.append(HandoverDone(self.language, previous or "", h.next_on_air))
        return out

    def decline_handover(self, pid: str) -> list[BoothEvent]:
        self._member(pid)
        h = self.handover
        if h is None or pid not in (h.requester, h.target):
            raise Conflict("no handover of yours is pending")
        self.handover = None
        return [HandoverDeclined(self.language, h.requester, h.target, pid)]

    def expire(self, now: float) -> list[BoothEvent]:
        h = self.handover
        if h is None or h.expires_at > now:
            return []
        self.handover = None
        return [HandoverExpired(self.language, h.requester, h.target)]

    def deadline(self) -> float | None:
        return self.handover.expires_at if self.handover else None

    # --- views ------------------------------------------------------------------------------

    def handover_view(self, now: float) -> dict[str, Any] | None:
        h = self.handover
        if h is None:
            return None
        return {
            "from": h.requester,
            "to": h.target,
            "next_on_air": h.next_on_air,
            "expires_in_s": max(0.0, round(h.expires_at - now, 1)),
        }
