"""The relay's datagram: its header, kinds and counters (media/relay.py, relay_sources.py).

One definition of the wire format between media planes, read by both directions of the relay
(docs/relay.md has the table): a 24-byte header, network byte order, then one Opus payload, an
announce, or a publisher's video RTP payload.
"""

from __future__ import annotations

import json
import struct
import time
from dataclasses import dataclass, fields
from typing import Any

from mirp.errors import InvalidInput
from mirp.media.plan import FeedKey

MAGIC = 0x4D  # "M"
VERSION = 1
DATA = 1  # payload: one Opus packet of the feed
ANNOUNCE = 2  # payload: the feed's key, JSON [channel, under_level_db, minus]
SOURCE = 3  # edge -> origin: one Opus payload of a microphone (seq: its RTP sequence number)
SOURCE_ANNOUNCE = 4  # payload: the source id, UTF-8
# a publisher's video RTP, to a node with viewers of it (media/video_relay.py): feed = its SSRC,
# seq = its RTP sequence number, pts = its RTP timestamp, the reserved byte = VIDEO_* flags;
# payload: one byte n, the publisher id (n bytes UTF-8), then the RTP payload as received
VIDEO = 5
VIDEO_PLI = 6  # a keyframe wanted, towards the publisher's node; payload: the publisher id
VIDEO_MARKER, VIDEO_H264, VIDEO_AT_ONCE = 1, 2, 4  # flags (VIDEO_AT_ONCE: on a PLI)
HEADER = struct.Struct("!BBBBIIIII")  # magic, version, kind, 0, feed, epoch, seq, pts, sent_us
ANNOUNCE_EVERY = 50  # packets (one second of a feed) between two announces of its id
MAX_DATAGRAM = 1400  # an Opus packet of 20 ms is ~100-300 bytes; anything bigger is not ours
MAX_VIDEO_DATAGRAM = 1600  # a video RTP payload (<= ~1200 bytes) with its publisher id
LATENCY_WINDOW = 3000  # hop latency samples kept (a minute of one feed)
PTS_MASK = SEQ_MASK = 0xFFFFFFFF
FRAME_PTS = 960  # one tick at 48 kHz: rebased pts stay on the frame grid
Address = tuple[str, int]


def now_us() -> int:
    return (time.time_ns() // 1000) & 0xFFFFFFFF


def key_json(key: FeedKey) -> bytes:
    return json.dumps([key.channel, key.under_level_db, key.minus]).encode()


def key_from_json(data: bytes) -> FeedKey:
    channel, level, minus = json.loads(data)
    return FeedKey(str(channel), int(level), None if minus is None else str(minus))


def check_epoch(epoch: int) -> None:
    """The header carries the epoch in 32 bits: a bigger one is the caller's bug, refused."""
    if not isinstance(epoch, int) or not 0 <= epoch <= 0xFFFFFFFF:
        raise InvalidInput(f"epoch {epoch!r} is not a 32-bit unsigned int")


@dataclass(frozen=True, slots=True)
class RelayFeedStats:
    """One relayed feed as an edge receives it."""

    key: FeedKey
    epoch: int  # the newest epoch seen
    received: int  # packets forwarded to the fan-out
    lost: int  # sequence gaps
    late: int  # late or duplicate packets, dropped
    fenced: int  # packets of an older epoch, dropped
    idle_ms: float  # since the last packet: an origin gone silent shows here


@dataclass(frozen=True, slots=True)
class RelayStats:
    listen: Address | None = None  # where this plane receives relayed feeds
    feeds_in: tuple[RelayFeedStats, ...] = ()
    unknown: int = 0  # data of a feed id never announced (yet)
    unwanted: int = 0  # data of a key not declared relayed here (relay_accept)
    malformed: int = 0
    hop_p50_ms: float = 0.0  # sent_us -> received, over the last LATENCY_WINDOW packets
    hop_p95_ms: float = 0.0
    links: int = 0  # edges this plane sends to (as an origin)
    feeds_out: int = 0  # distinct keys it relays out
    packets_out: int = 0  # datagrams sent (one per packet per edge)
    send_dropped: int = 0  # datagrams the kernel refused (buffer full, no route)

    # as an edge forwarding microphones / as an origin mixing them (media/relay_sources.py)
    sources_out: int = 0  # source ids forwarded
    sources_in: int = 0  # source ids accepted
    source_packets_in: int = 0
    source_fenced: int = 0

    # video, either way (media/video_relay.py)
    video_out: int = 0  # video datagrams sent (one per packet per node watching)
    video_in: int = 0  # video packets handed to this plane's forwarder
    video_unwanted: int = 0  # video of a publisher not taken from relays here
    video_plis_out: int = 0  # keyframe requests sent towards publishers' nodes
    video_plis_in: int = 0

    def to_wire(self) -> dict[str, Any]:
        out: dict[str, Any] = {f.name: getattr(self, f.name) for f in fields(self)
                               if f.name not in ("listen", "feeds_in")}
        out["listen"] = list(self.listen) if self.listen else None
        out["feeds_in"] = [[[f.key.channel, f.key.under_level_db, f.key.minus], f.epoch,
                            f.received, f.lost, f.late, f.fenced, f.idle_ms]
                           for f in self.feeds_in]
        return out

    @staticmethod
    def from_wire(value: dict[str, Any]) -> RelayStats:
        listen = value.get("listen")
        feeds = tuple(
            RelayFeedStats(FeedKey(str(k[0]), int(k[1]), None if k[2] is None else str(k[2])),
                           int(e), int(r), int(lo), int(la), int(fe), float(idle))
            for k, e, r, lo, la, fe, idle in value.get("feeds_in", ()))
        scalars = {f.name: type(getattr(_EMPTY, f.name))(value[f.name]) for f in fields(RelayStats)
                   if f.name not in ("listen", "feeds_in") and f.name in value}
        return RelayStats(listen=(str(listen[0]), int(listen[1])) if listen else None,
                          feeds_in=feeds, **scalars)


_EMPTY = RelayStats()
