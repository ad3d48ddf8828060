"""What to mix: immutable, handed to the engine whole and swapped in at a tick boundary."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType


@dataclass(frozen=True, slots=True, order=True)
class FeedKey:
    """One distinct audible product, mixed and encoded once per tick whatever its listener count.

    channel: `floor` or a language code. under_level_db: 0 for none, else the (quantized) level of
    the floor under an interpretation. minus: the source left out of this product (a floor holder
    who would otherwise hear themselves), else None.
    """

    channel: str
    under_level_db: int = 0
    minus: str | None = None

    def __str__(self) -> str:
        s = self.channel
        if self.under_level_db:
            s += f"~{self.under_level_db}dB"
        if self.minus:
            s += f"-{self.minus}"
        return s


Ingredient = tuple[str, float]  # (source id, linear gain)


_NO_ALIASES: Mapping[FeedKey, FeedKey] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class MixPlan:
    """FeedKey -> the sources in it with their gains. A key absent from the plan is silence.

    video: video stream -> the peer whose camera it carries. A stream is one outbound video
    m-line of a viewer: its peer id for the floor video (the Room's: the floor holder, else the
    chair), `partner_stream(peer id)` for an interpreter's second, small one (their booth
    partner's camera). A stream absent from it gets no video packet (video off, or nothing to
    show). Peer ids are unique across meetings, so the plans of every room of a process merge
    by union. Video is forwarded, never mixed (media/video.py).

    aliases: a key that is another name of a feed, never mixed nor encoded itself: each tick the
    engine publishes the target's encoded packet under the alias too (to the alias's listeners
    and relay links). Why: a webcast or a recording wants one stable key per channel, while what
    the channel carries switches between feeds listeners already get; an alias switches at the
    tick its plan is swapped in, the instant listeners switch, and costs no encoder."""

    feeds: Mapping[FeedKey, tuple[Ingredient, ...]]
    video: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    aliases: Mapping[FeedKey, FeedKey] = field(default_factory=lambda: _NO_ALIASES)

    @staticmethod
    def of(feeds: Mapping[FeedKey, tuple[Ingredient, ...]] | None = None,
           aliases: Mapping[FeedKey, FeedKey] | None = None, *,
           video: Mapping[str, str] | None = None) -> MixPlan:
        """An alias of an alias, or of itself, is a plan error (ValueError): one hop only."""
        named = dict(aliases or {})
        bad = [a for a, t in named.items() if t in named]
        if bad:
            raise ValueError(f"aliases of aliases: {sorted(map(str, bad))}")
        return MixPlan(MappingProxyType(dict(feeds or {})), MappingProxyType(dict(video or {})),
                       MappingProxyType(named) if named else _NO_ALIASES)

    def real(self, key: FeedKey) -> FeedKey:
        """The key whose feed `key` is: its alias target, else itself."""
        return self.aliases.get(key, key)

    def recipe(self, key: FeedKey) -> tuple[Ingredient, ...]:
        return self.feeds.get(key, ())

    def sources(self) -> frozenset[str]:
        """Every source some feed needs: the engine decodes these and parks the rest."""
        return frozenset(sid for recipe in self.feeds.values() for sid, _ in recipe)


PARTNER_SUFFIX = "#partner"  # peer ids are URL-safe (mirp/ids.py): never contain "#"


def partner_stream(peer_id: str) -> str:
    """The key in `MixPlan.video` of this peer's partner video (its second video m-line)."""
    return peer_id + PARTNER_SUFFIX


def db_to_gain(db: float) -> float:
    return float(10.0 ** (db / 20.0))
