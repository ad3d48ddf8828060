"""Room state -> MixPlan: which microphones each distinct feed mixes, at what gain.

The plan is where permission to speak becomes audio: a microphone is in a recipe only while its
owner may be heard (a floor holder not muted, an interpreter on air and not coughing, both
connected). Anyone else may publish all they like; the engine parks what no recipe uses.

Keys are shared as much as the sound allows, because encoders = distinct keys in use:
- a channel that carries the floor (auto-floor, floor language) is heard through the `floor` key
  itself, whatever floor-under level the listener chose (the floor under the floor is the floor);
- `FeedKey(X, under_level_db=L)`: the interpreter of X plus the floor at db_to_gain(L);
- `minus=<pid>` only for a listener whose own microphone is in their product (a floor holder on
  the floor, an interpreter monitoring the channel they speak into, the meeting room while the
  floor is in the room): they never hear themselves.

The meeting room (a `room` participant, hybrid meetings) is a floor source like a holder, but
heard by where the floor is (`floor_room`), not by being given the floor; listening to the floor
it therefore hears `floor` minus itself: the remote speakers, never its own PA's echo.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass

from mirp.interpretation.routing import FLOOR, Route
from mirp.media.plan import FeedKey, Ingredient, MixPlan, db_to_gain


@dataclass(frozen=True, slots=True)
class Subscription:
    """A listener's choice: a channel, and the floor under it at this level in dB (None: no
    floor under it)."""

    channel: str
    floor_under: int | None = None
    minus_room: bool = False  # the floor without the meeting room's feed (WHEP, a second site)


def floor_ingredients(
    holders: Iterable[tuple[str, bool]],
    rooms: Iterable[str],
    connected: Collection[str],
    holders_heard: bool = True,
    room_heard: bool = True,
) -> tuple[Ingredient, ...]:
    """The floor's audible microphones: the holders (participant id, muted) not muted and the
    meeting rooms, each while connected and while the floor is where they are."""
    out: list[Ingredient] = []
    if holders_heard:
        out += [(pid, 1.0) for pid, muted in holders if not muted and pid in connected]
    if room_heard:
        out += [(pid, 1.0) for pid in rooms if pid in connected and (pid, 1.0) not in out]
    return tuple(out)


def base_key(channel: str, floor_under: int | None, routes: Mapping[str, Route]) -> FeedKey:
    r = routes.get(channel)
    if channel == FLOOR or r is None or r.carries_floor:
        return FeedKey(FLOOR)
    return FeedKey(channel, floor_under or 0)


def recipe(
    key: FeedKey, routes: Mapping[str, Route], floor: tuple[Ingredient, ...]
) -> tuple[Ingredient, ...]:
    """What `key` mixes, its `minus` (the listener's own microphone) left out."""
    if key.channel == FLOOR:
        out = floor
    else:
        r = routes.get(key.channel)
        out = ()
        if r is not None and r.kind == "interpretation" and r.live and r.interpreter:
            out = ((r.interpreter, 1.0),)
        if key.under_level_db:
            g = db_to_gain(key.under_level_db)
            out += tuple((s, gain * g) for s, gain in floor)
    if key.minus is not None:
        out = tuple((s, g) for s, g in out if s != key.minus)
    return out


def key_for(
    participant_id: str,
    subscription: Subscription,
    routes: Mapping[str, Route],
    floor: tuple[Ingredient, ...],
    rooms: Collection[str] = (),
) -> FeedKey:
    """The Feed this participant hears: minus their own microphone when it is in the mix.
    `minus_room` on the floor: minus the (first) meeting room on it, the very Feed that room
    hears itself, so it is encoded once for both; `rooms` are the room participants' ids."""
    key = base_key(subscription.channel, subscription.floor_under, routes)
    if subscription.minus_room and key == FeedKey(FLOOR):
        on = next((s for s, _ in floor if s in rooms), None)
        return key if on is None else FeedKey(FLOOR, minus=on)
    if any(s == participant_id for s, _ in recipe(key, routes, floor)):
        key = FeedKey(key.channel, key.under_level_db, participant_id)
    return key


BROADCAST = "~broadcast"  # the `minus` of a broadcast key: no participant has this id


def broadcast_key(channel: str) -> FeedKey:
    """The webcast's and the recording's key of a channel: one per channel, the same for the
    whole meeting, whatever the channel carries. It is an alias (media/plan.py) of the channel's
    base key now (`fr` while its booth is on air, `floor` while it carries the floor), swapped
    with the plan at the tick the Room changes the routes: the webcast switches exactly when
    listeners do, and hears the very packets they get (each feed encoded once)."""
    return FeedKey(channel, 0, BROADCAST)


def build_plan(
    subscriptions: Mapping[str, Subscription],
    routes: Mapping[str, Route],
    floor: tuple[Ingredient, ...],
    rooms: Collection[str] = (),
    broadcast: tuple[str, ...] = (),
) -> MixPlan:
    """The plan for these listeners (participant id -> Subscription): one recipe per Feed; and
    for each channel of `broadcast` its broadcast key, an alias of what a listener of it hears
    without a floor under it (whose recipe is then in the plan even with no such listener)."""
    feeds: dict[FeedKey, tuple[Ingredient, ...]] = {}
    for pid, sub in subscriptions.items():
        key = key_for(pid, sub, routes, floor, rooms)
        if key not in feeds:
            feeds[key] = recipe(key, routes, floor)
    aliases: dict[FeedKey, FeedKey] = {}
    for channel in broadcast:
        target = aliases[broadcast_key(channel)] = base_key(channel, None, routes)
        if target not in feeds:
            feeds[target] = recipe(target, routes, floor)
    return MixPlan.of(feeds, aliases)
