"""Routes (what each channel carries now), relay choice, and relay cycles.

Route of a language channel X, first that applies:
1. `interpretation`: the on-air (and connected) interpreter of a booth speaking into X. When two
   booths speak into X (one natively, one as its retour) the native booth wins. While that
   interpreter coughs the route stays theirs but is not `live`: a cough is silence, not a jump
   to the floor and back.
2. `floor_language`: the floor speaks X itself, so X carries the original. (Decision: a listener
   of X hears the speaker directly when nobody interprets into X, whatever auto_floor says.)
3. `auto_floor`: nobody is on air into X and the booth of X has auto_floor on (or X has no booth
   at all: nothing else could ever be on it).
4. `silence`: a booth of X exists, nobody is on air for it, and its auto_floor is off.
The `floor` channel always carries the floor holders.

Relay: a booth that does not understand the floor language listens to another booth's channel.
Its interpreters hear a channel X the booth understands, carried by another booth C; we prefer
a chain (C, or the booth C relays, ...) that starts at a booth understanding the floor language,
then the fewest hops, then an idle channel (carrying the floor for now) whose booth would take
the floor directly once on air. A silent channel is never chosen. A relay
chain must end at the floor: `find_cycle` finds a loop (A relays B relays A) so the Room can
refuse the choice that makes it, or break one that on-air changes made.
"""

from __future__ import annotations

from collections.abc import Container, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from mirp.interpretation.booth import Booth

FLOOR = "floor"  # the channel that carries the original audio
RouteKind = Literal["floor", "interpretation", "floor_language", "auto_floor", "silence"]


@dataclass(frozen=True, slots=True)
class Route:
    channel: str
    kind: RouteKind
    booth: str | None = None  # the booth carrying it (interpretation)
    interpreter: str | None = None  # its on-air interpreter
    live: bool = False  # the interpreter's microphone is in the mix (not coughing)

    @property
    def carries_floor(self) -> bool:
        return self.kind in ("floor", "floor_language", "auto_floor")

    def view(self) -> dict[str, Any]:
        return {
            "route": self.kind,
            "booth": self.booth,
            "interpreter": self.interpreter,
            "live": self.live if self.kind == "interpretation" else self.carries_floor,
        }


def _speaking_into(
    booths: Sequence[Booth], channel: str, connected: Container[str]
) -> Booth | None:
    on = [b for b in booths if b.on_air in connected and b.output == channel]
    if not on:
        return None
    return next((b for b in on if b.language == channel), on[0])


def structural_carrier(booths: Sequence[Booth], channel: str) -> Booth | None:
    """The booth that would carry `channel` when on air: its native booth, else a retour booth."""
    return next((b for b in booths if b.language == channel), None) or next(
        (b for b in booths if b.spec.retour == channel), None
    )


def compute_routes(
    languages: Iterable[str],
    booths: Sequence[Booth],
    floor_language: str | None,
    connected: Container[str],
) -> dict[str, Route]:
    routes: dict[str, Route] = {FLOOR: Route(FLOOR, "floor")}
    for x in languages:
        b = _speaking_into(booths, x, connected)
        if b is not None:
            routes[x] = Route(x, "interpretation", b.language, b.on_air, not b.coughing)
        elif floor_language == x:
            routes[x] = Route(x, "floor_language")
        else:
            native = next((bb for bb in booths if bb.language == x), None)
            others = [bb for bb in booths if bb.spec.retour == x]
            if native is not None:
                auto = native.spec.auto_floor
            elif others:
                auto = any(bb.spec.auto_floor for bb in others)
            else:
                auto = True
            routes[x] = Route(x, "auto_floor") if auto else Route(x, "silence")
    return routes


def carrier_of(channel: str, routes: Mapping[str, Route]) -> str | None:
    """The booth whose voice a relay listener of `channel` hears now (None: floor or silence)."""
    r = routes.get(channel)
    return r.booth if r is not None and r.kind == "interpretation" else None


def find_cycle(inputs: Mapping[str, str], routes: Mapping[str, Route]) -> list[str] | None:
    """inputs: booth -> the channel its on-air interpreter hears. A cycle is a chain of booths,
    each relaying the next, that comes back to itself (nobody in it hears the floor)."""
    for start in inputs:
        seen: list[str] = []
        b: str | None = start
        while b is not None and b in inputs:
            if b in seen:
                return seen[seen.index(b) :]
            seen.append(b)
            b = carrier_of(inputs[b], routes)
    return None


def _chain(
    start: str, inputs: Mapping[str, str], routes: Mapping[str, Route]
) -> tuple[str, int] | None:
    """Follow relays from booth `start` to the booth that hears the floor: (that booth, hops);
    None for a loop."""
    b, hops, seen = start, 0, {start}
    while inputs.get(b, FLOOR) != FLOOR:
        nxt = carrier_of(inputs[b], routes)
        if nxt is None:  # relaying an idle channel: hears the floor through it
            break
        if nxt in seen:
            return None
        seen.add(nxt)
        b, hops = nxt, hops + 1
    return b, hops


def relay_choice(
    booth: Booth,
    floor_language: str | None,
    languages: Sequence[str],
    booths: Sequence[Booth],
    routes: Mapping[str, Route],
    inputs: Mapping[str, str],
) -> str:
    """What the interpreters of `booth` should hear under auto-relay: FLOOR when the booth
    understands the floor language (or no booth can help), else the best relay channel:
    ranked by whether the chain it comes from starts at a booth that understands the floor,
    then by its number of hops; an idle channel comes last."""
    if booth.understands(floor_language):
        return FLOOR
    by_lang = {b.language: b for b in booths}
    best: tuple[int, int, int, str] | None = None
    for i, x in enumerate(languages):
        if x == FLOOR or not booth.understands(x):
            continue
        r = routes.get(x)
        if r is not None and r.kind == "interpretation" and r.booth in by_lang:
            if r.booth == booth.language:
                continue
            if find_cycle({**inputs, booth.language: x}, routes):
                continue  # a relay of a relay must not lead back to this booth
            chain = _chain(r.booth, inputs, routes)
            if chain is None:
                continue
            root, hops = chain
            cand = (0 if by_lang[root].understands(floor_language) else 1, hops, i, x)
        elif r is not None and r.carries_floor:
            # nobody on air into X yet: X carries the floor for now, and the booth that will
            # speak into X takes the floor directly; the relay starts when it goes on air
            c = structural_carrier(booths, x)
            if c is None or c.language == booth.language or not c.understands(floor_language):
                continue
            cand = (2, 0, i, x)
        else:
            continue
        if best is None or cand < best:
            best = cand
    return FLOOR if best is None else best[3]
