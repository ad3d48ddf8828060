"""Which feeds a room's captions are made from, and who reads each caption (pure).

A channel is captioned from what its listeners hear without the floor under it: a language
channel from `FeedKey(language)` (its interpreter alone), the floor from `FeedKey(floor)`. A
channel whose booth is off air carries the floor (auto-floor): its listeners then read the
floor's captions, marked as such. So the keys do not change when a booth goes on or off air;
only the audience of each caption does.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from mirp.interpretation.routing import FLOOR, Route
from mirp.media.plan import FeedKey
from mirp.rooms.mixing import Subscription, base_key


def caption_keys(captioned: Iterable[str]) -> dict[FeedKey, str]:
    """The feed of each captioned channel (the floor's too as soon as any is captioned: it is
    what an off-air channel carries) -> that channel."""
    keys = {FeedKey(c): c for c in captioned if c != FLOOR}
    if keys or FLOOR in captioned:
        keys[FeedKey(FLOOR)] = FLOOR
    return keys


def readers(channel: str, captioned: Iterable[str], subscriptions: Mapping[str, Subscription],
            routes: Mapping[str, Route]) -> tuple[frozenset[str], frozenset[str]]:
    """Who reads a caption of `channel`: (listeners of that channel itself, listeners of
    captioned channels now carrying the floor: `channel` is the floor and theirs is off air)."""
    wanted = set(captioned)
    own: set[str] = set()
    fallback: set[str] = set()
    for pid, sub in subscriptions.items():
        if sub.channel == channel:
            own.add(pid)
        elif (channel == FLOOR and sub.channel in wanted
              and base_key(sub.channel, sub.floor_under, routes).channel == FLOOR):
            fallback.add(pid)
    return frozenset(own), frozenset(fallback)


def webcast_targets(channel: str, captioned: Iterable[str],
                    routes: Mapping[str, Route]) -> list[tuple[str, bool]]:
    """The webcast renditions a caption of `channel` shows on, each with whether it is the
    floor's caption on a channel carrying the floor (marked): like `readers`, per channel."""
    shown = caption_keys(captioned).values()
    out = [(channel, False)] if channel in shown else []
    if channel == FLOOR:
        out += [(c, True) for c in shown
                if c != FLOOR and base_key(c, None, routes).channel == FLOOR]
    return out
