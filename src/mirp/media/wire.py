"""Every message between the control process and the media process, and their framing.

One frozen dataclass per message (PeerGone and Levels are media/plane.py's events themselves);
on the wire a message is a 4-byte big-endian length, then JSON `[name, [field values...]]`.
JSON rather than pickle: the media process trusts nothing it cannot validate, and the future
cluster will speak the same messages between machines. Requests carry `rid` and are answered by
one `Reply`; everything else is fire-and-forget, kept in order by the one stream.
"""

from __future__ import annotations

import asyncio
import json
import struct
from dataclasses import dataclass, field, fields
from typing import Any

from mirp.media.plan import FeedKey, MixPlan
from mirp.media.plane import Levels, PeerGone

MAX_FRAME_BYTES = 4 * 1024 * 1024  # a plan of thousands of feeds fits; a garbled length not
_LENGTH = struct.Struct(">I")


class WireError(Exception):
    """The stream is corrupt (a length beyond MAX_FRAME_BYTES): the connection is given up."""


class BadMessage(WireError):
    """One whole frame that is not a known message: the stream is still in step; skip it."""


# ---------------------------------------------------------------- control -> media
@dataclass(frozen=True, slots=True)
class Configure:
    """The first message: the PlaneConfig's fields (not on the command line: credentials)."""

    config: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Offer:
    rid: int
    peer_id: str
    generation: int
    sdp: str


@dataclass(frozen=True, slots=True)
class AddCandidate:
    rid: int
    peer_id: str
    candidate: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class GetStats:
    rid: int


@dataclass(frozen=True, slots=True)
class ClosePeer:
    peer_id: str


@dataclass(frozen=True, slots=True)
class Apply:
    feeds: list[Any]  # [[channel, under_level_db, minus, [[source_id, gain], ...]], ...]
    video: list[Any] | None = None  # [[viewer id, publisher id], ...] (MixPlan.video)
    aliases: list[Any] | None = None  # [[alias key, target key], ...], keys as in Listen

    @staticmethod
    def of(plan: MixPlan) -> Apply:
        return Apply(plan_to_wire(plan), plan_video_to_wire(plan),
                     [[key_to_wire(a), key_to_wire(t)] for a, t in plan.aliases.items()])

    def plan(self) -> MixPlan:
        base = plan_from_wire(self.feeds, self.video)
        return MixPlan.of(base.feeds, {key_from_wire(a): key_from_wire(t)
                                       for a, t in self.aliases or ()}, video=base.video)


@dataclass(frozen=True, slots=True)
class Listen:
    peer_id: str
    key: list[Any]  # [channel, under_level_db, minus]


@dataclass(frozen=True, slots=True)
class Unlisten:
    peer_id: str


@dataclass(frozen=True, slots=True)
class RelayListen:
    """Answered with [host, port]: where relayed feeds arrive (media/relay.py)."""

    rid: int
    host: str
    port: int


@dataclass(frozen=True, slots=True)
class RelayAccept:
    keys: list[Any]  # [[channel, under_level_db, minus], ...]
    sources: list[str]


@dataclass(frozen=True, slots=True)
class RelayTo:
    link_id: str
    host: str
    port: int
    keys: list[Any]  # [[channel, under_level_db, minus], ...]
    epoch: int
    sources: list[str]
    videos: list[str] = field(default_factory=list)  # cameras sent there
    video_from: list[str] = field(default_factory=list)  # cameras taken from there


@dataclass(frozen=True, slots=True)
class RelayStop:
    link_id: str


# ---------------------------------------------------------------- media -> control
@dataclass(frozen=True, slots=True)
class Ready:
    """The media process is up; `self_check`: what media/compat.py decided there (to_wire)."""

    pid: int
    self_check: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Reply:
    rid: int
    result: Any  # JSON value
    error: dict[str, Any] | None  # MirpError.to_dict()


Message = (Configure | Offer | AddCandidate | GetStats | ClosePeer | Apply | Listen | Unlisten
           | RelayListen | RelayAccept | RelayTo | RelayStop | Ready | Reply | PeerGone | Levels)
MESSAGES: dict[str, type[Any]] = {
    cls.__name__: cls
    for cls in (Configure, Offer, AddCandidate, GetStats, ClosePeer, Apply, Listen, Unlisten,
                RelayListen, RelayAccept, RelayTo, RelayStop, Ready, Reply, PeerGone, Levels)
}


def encode(message: Message) -> bytes:
    values = [getattr(message, f.name) for f in fields(message)]
    body = json.dumps([type(message).__name__, values], separators=(",", ":")).encode()
    return _LENGTH.pack(len(body)) + body


def decode(body: bytes) -> Message:
    try:
        name, values = json.loads(body)
        cls = MESSAGES[name]
        message: Message = cls(*values)
    except (ValueError, TypeError, KeyError) as exc:
        raise BadMessage(f"bad message: {exc}") from exc
    return message


async def read_message(reader: asyncio.StreamReader) -> Message | None:
    """The next message, or None at the end of the stream."""
    try:
        head = await reader.readexactly(_LENGTH.size)
        (size,) = _LENGTH.unpack(head)
        if size > MAX_FRAME_BYTES:
            raise WireError(f"frame of {size} bytes")
        return decode(await reader.readexactly(size))
    except asyncio.IncompleteReadError:
        return None


# ---------------------------------------------------------------- values
def key_to_wire(key: FeedKey) -> list[Any]:
    return [key.channel, key.under_level_db, key.minus]


def key_from_wire(value: list[Any]) -> FeedKey:
    channel, level, minus = value
    return FeedKey(str(channel), int(level), None if minus is None else str(minus))


def plan_to_wire(plan: MixPlan) -> list[Any]:
    return [[*key_to_wire(key), [[sid, gain] for sid, gain in recipe]]
            for key, recipe in plan.feeds.items()]


def plan_from_wire(value: list[Any], video: list[Any] | None = None) -> MixPlan:
    return MixPlan.of({
        key_from_wire(item[:3]): tuple((str(sid), float(gain)) for sid, gain in item[3])
        for item in value
    }, video={str(viewer): str(source) for viewer, source in video or ()})


def plan_video_to_wire(plan: MixPlan) -> list[Any]:
    return [[viewer, source] for viewer, source in plan.video.items()]
