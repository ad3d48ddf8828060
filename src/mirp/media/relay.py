"""Feeds relayed between media planes: an origin's encoded packets, fanned out by edges.

Why: a feed is mixed and Opus-encoded once per cluster, by the meeting's origin; an edge that
has listeners of it gets each encoded packet once, over direct UDP, and hands it to its own
Fanout exactly like a packet its engine encoded (same fast path, same listener add, switch and
remove), with no decode and no encode. UDP rather than a stream or Redis pub/sub: a packet late
by more than a tick is worth nothing to a listener, so nothing may queue behind a lost one (no
head-of-line blocking), and one `sendto` per packet per edge is the cheapest hop there is
(docs/relay.md has the measurements).

The same socket and header carry the other direction, an edge's microphones to the origin
(media/relay_sources.py); the format is media/relay_format.py's.

Every datagram carries a fixed 24-byte header (`HEADER`): magic, version, kind, a reserved
byte, then the feed id, the origin's lease epoch, the feed's sequence number, the pts (48 kHz)
and the origin's send time (microseconds of the wall clock, mod 2**32: the hop's latency on one
machine or between synchronised clocks). A feed id is compact and the origin's own; an ANNOUNCE
datagram (payload: the FeedKey as JSON) maps it, sent when a link first carries a key and every
`ANNOUNCE_EVERY` packets after, so an edge that lost one learns it within a second.

Fencing: an edge keeps, per FeedKey, the newest epoch it has seen; a packet or announce of an
older epoch is dropped (counted `fenced`), so a stale origin that lost its lease can never be
heard beside the new one. Loss and reordering: a packet whose sequence number is not above the
highest seen is dropped (a late one or a duplicate: counted `late`), gaps are counted `lost`,
everything else is forwarded at once in arrival order (the browser's jitter buffer does the
rest). The pts are rebased to the edge's clock once per epoch, so a listener switching between
feeds of one origin, or hearing a new origin after a failover, sees no timestamp jump beyond
what the gap itself was.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections import deque
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from mirp.errors import Unavailable
from mirp.media.plan import FeedKey
from mirp.media.relay_format import (
    ANNOUNCE,
    ANNOUNCE_EVERY,
    DATA,
    FRAME_PTS,
    HEADER,
    MAGIC,
    MAX_DATAGRAM,
    MAX_VIDEO_DATAGRAM,
    PTS_MASK,
    SEQ_MASK,
    SOURCE,
    SOURCE_ANNOUNCE,
    VERSION,
    VIDEO,
    VIDEO_PLI,
    Address,
    RelayFeedStats,
    RelayStats,
    check_epoch,
    key_from_json,
    key_json,
    now_us,
)
from mirp.media.relay_sources import SourceHost, SourceRelay
from mirp.media.video_relay import VideoRelay

log = logging.getLogger(__name__)

LATENCY_WINDOW = 3000  # hop latency samples kept (a minute of one feed)


class Fanning(SourceHost, Protocol):
    """What the relay needs of the engine: its fan-out and clock, its sources."""

    @property
    def tick(self) -> int: ...

    def publish_relayed(self, pts: int, packets: Mapping[FeedKey, bytes]) -> None: ...


@dataclass(slots=True)
class _Link:
    address: Address
    keys: frozenset[FeedKey]
    epoch: int
    announced: set[FeedKey] = field(default_factory=set)


@dataclass(slots=True)
class _FeedIn:
    epoch: int = -1
    highest: int = 0
    last_pts: int = 0
    offset: int | None = None  # to the edge's clock
    received: int = 0
    lost: int = 0
    late: int = 0
    fenced: int = 0
    last: float = 0.0


class Relay:
    """Both halves of the relay of one media plane: out (as an origin) and in (as an edge).

    The engine asks `keys_out()` (encode these even without a local listener), `keys_in()`
    (never mix or encode these: they arrive encoded) and hands every tick's payloads to
    `publish`."""

    def __init__(self, engine: Fanning,
                 send: Callable[[Address, bytes], None] | None = None) -> None:
        """`send`: how a datagram leaves (default: a non-blocking UDP socket; tests hand the
        datagrams straight to another Relay's `received`)."""
        self._engine = engine
        self._sender = send
        # out
        self._links: dict[str, _Link] = {}
        self._keys_out: frozenset[FeedKey] = frozenset()
        self._ids: dict[FeedKey, int] = {}
        # seq = this base + the tick: one per tick of wall time, so the sequence of a media
        # process restarted under the same epoch goes on upwards (the gap counted as lost)
        self._seq_base = time.time_ns() // 20_000_000
        self._socks: dict[int, socket.socket] = {}  # one sending socket per address family
        self._packets_out = 0
        self._send_dropped = 0
        # in
        self._keys_in: frozenset[FeedKey] = frozenset()
        self._transport: asyncio.DatagramTransport | None = None
        self._listen: Address | None = None
        self._names: dict[tuple[int, int], FeedKey] = {}  # (epoch, feed id) -> key
        self._feeds: dict[FeedKey, _FeedIn] = {}
        self._offsets: dict[int, int] = {}  # epoch -> pts offset to this engine's clock
        self._unknown = self._unwanted = self._malformed = 0
        self._hop_ms: deque[float] = deque(maxlen=LATENCY_WINDOW)
        self._sources = SourceRelay(engine, self._send)  # microphones, edge -> origin
        self.video = VideoRelay(self._send)  # cameras, to the nodes watching them

    # ------------------------------------------------------------------ the engine's side
    def keys_out(self) -> frozenset[FeedKey]:
        return self._keys_out

    def keys_in(self) -> frozenset[FeedKey]:
        return self._keys_in

    def publish(self, pts: int, packets: Mapping[FeedKey, bytes]) -> None:
        """Send this tick's payloads to every link that carries them: the header is built once
        per feed and epoch, the datagram sent once per edge. Never raises, never blocks."""
        if not self._links:
            return
        sent_us = now_us()
        seq = (self._seq_base + pts // FRAME_PTS) & SEQ_MASK
        built: dict[tuple[FeedKey, int], bytes] = {}
        for link in self._links.values():
            for key in link.keys:
                payload = packets.get(key)
                if not payload:
                    continue
                fid = self._feed_id(key)
                if key not in link.announced or seq % ANNOUNCE_EVERY == 0:
                    link.announced.add(key)
                    self._send(link.address, HEADER.pack(MAGIC, VERSION, ANNOUNCE, 0, fid,
                                                         link.epoch, 0, 0, sent_us)
                               + key_json(key))
                data = built.get((key, link.epoch))
                if data is None:
                    data = built[key, link.epoch] = HEADER.pack(
                        MAGIC, VERSION, DATA, 0, fid, link.epoch, seq, pts & PTS_MASK,
                        sent_us) + payload
                self._send(link.address, data)

    # ------------------------------------------------------------------ out (origin)
    def relay_to(self, link_id: str, address: Address, keys: Collection[FeedKey],
                 epoch: int, sources: Collection[str] = (), videos: Collection[str] = (),
                 video_from: Collection[str] = ()) -> None:
        """Send `keys` (as an origin) and the microphones `sources` (as an edge) to `address`
        from now on (replaces this link's keys, sources, address and epoch; none: idle). The
        cameras `videos` go there too; those of `video_from` come from there (accepted here,
        keyframe requests sent there: media/video_relay.py)."""
        check_epoch(epoch)
        self._sources.link(link_id, (str(address[0]), int(address[1])), sources, int(epoch))
        self.video.link(link_id, (str(address[0]), int(address[1])), int(epoch), videos,
                        video_from)
        old = self._links.get(link_id)
        link = _Link((str(address[0]), int(address[1])), frozenset(keys), int(epoch))
        if old is not None and old.address == link.address and old.epoch == link.epoch:
            link.announced = old.announced & link.keys
        self._links[link_id] = link
        self._recount()

    def relay_stop(self, link_id: str) -> None:
        self._sources.unlink(link_id)
        self.video.unlink(link_id)
        if self._links.pop(link_id, None) is not None:
            self._recount()

    def _recount(self) -> None:
        keys: set[FeedKey] = set()
        for link in self._links.values():
            keys |= link.keys
        self._keys_out = frozenset(keys)

    def _feed_id(self, key: FeedKey) -> int:
        fid = self._ids.get(key)
        if fid is None:
            fid = self._ids[key] = len(self._ids) + 1
        return fid

    def _send(self, address: Address, data: bytes) -> None:
        if self._sender is not None:
            self._sender(address, data)
            self._packets_out += 1
            return
        try:
            family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
            sock = self._socks.get(family)
            if sock is None:
                sock = self._socks[family] = socket.socket(family, socket.SOCK_DGRAM)
                sock.setblocking(False)
            sock.sendto(data, address)
            self._packets_out += 1
        except OSError:  # buffer full, unreachable: a datagram lost, nothing queued
            self._send_dropped += 1

    # ------------------------------------------------------------------ in (edge)
    def relay_accept(self, keys: Collection[FeedKey], sources: Collection[str] = ()) -> None:
        """What this plane takes from relays: the feeds `keys` (as an edge: its engine never
        mixes them, only their packets reach the fan-out) and the microphones `sources` (as an
        origin: a Source each, decoded while the plan uses it). Each call replaces both sets."""
        self._sources.accept(sources)
        self._keys_in = frozenset(keys)
        for key in [k for k in self._feeds if k not in self._keys_in]:
            del self._feeds[key]

    async def listen(self, host: str, port: int = 0) -> Address:
        """Open (once) the UDP socket relayed feeds arrive on; its address."""
        if self._transport is not None and self._listen is not None:
            return self._listen
        loop = asyncio.get_running_loop()
        try:
            transport, _ = await loop.create_datagram_endpoint(
                lambda: _Receiver(self), local_addr=(host, port))
        except OSError as exc:
            raise Unavailable(f"cannot receive relayed feeds on {host}:{port}: {exc}") from exc
        self._transport = transport
        sockname = transport.get_extra_info("sockname")
        self._listen = (str(sockname[0]), int(sockname[1]))
        return self._listen

    def received(self, data: bytes) -> None:
        """One datagram from an origin (the receiver's callback; tests call it directly)."""
        if len(data) < HEADER.size or len(data) > MAX_VIDEO_DATAGRAM + HEADER.size:
            self._malformed += 1
            return
        magic, version, kind, flags, fid, epoch, seq, pts, sent_us = HEADER.unpack_from(data)
        if magic != MAGIC or version != VERSION:
            self._malformed += 1
            return
        if kind == VIDEO:  # the one kind bigger than an Opus packet
            if not self.video.data(flags, fid, seq, pts, data[HEADER.size:]):
                self._malformed += 1
        elif len(data) > MAX_DATAGRAM + HEADER.size:
            self._malformed += 1
        elif kind == VIDEO_PLI:
            if not self.video.pli(flags, data[HEADER.size:]):
                self._malformed += 1
        elif kind == ANNOUNCE:
            self._announced(fid, epoch, data[HEADER.size:])
        elif kind == DATA:
            self._data(fid, epoch, seq, pts, sent_us, data[HEADER.size:])
        elif kind == SOURCE:
            self._sources.data(fid, epoch, seq, data[HEADER.size:])
        elif kind == SOURCE_ANNOUNCE:
            if not self._sources.announced(fid, epoch, data[HEADER.size:]):
                self._malformed += 1
        else:
            self._malformed += 1

    def _announced(self, fid: int, epoch: int, body: bytes) -> None:
        try:
            key = key_from_json(body)
        except (ValueError, TypeError):
            self._malformed += 1
            return
        # mapped even when stale: that origin's data is then counted as fenced, not unknown
        self._names[epoch, fid] = key

    def _data(self, fid: int, epoch: int, seq: int, pts: int, sent_us: int,
              payload: bytes) -> None:
        key = self._names.get((epoch, fid))
        if key is None:
            self._unknown += 1
            return
        if key not in self._keys_in:
            self._unwanted += 1
            return
        feed = self._feeds.get(key)
        if feed is None:
            feed = self._feeds[key] = _FeedIn()
        if epoch < feed.epoch:
            feed.fenced += 1
            return
        step = (seq - feed.highest) & SEQ_MASK  # serial number arithmetic: seq wraps
        if epoch > feed.epoch:  # a new origin (or the first): its own sequence and clock
            self._forget_epochs(key, epoch)
            feed.epoch, feed.offset = epoch, None
        elif step == 0 or step > SEQ_MASK // 2:
            feed.late += 1
            return
        else:
            feed.lost += step - 1
        if feed.offset is None:
            offset = self._offsets.get(epoch)
            if offset is None:
                here = self._engine.tick * FRAME_PTS
                offset = self._offsets[epoch] = (here - pts) // FRAME_PTS * FRAME_PTS
            feed.offset = offset
        elif (pts - feed.last_pts) & PTS_MASK != (step * FRAME_PTS) & PTS_MASK:
            # the origin's clock jumped (its media process restarted under the same epoch):
            # keep this listener's timestamps going as if no packet but the lost ones were missed
            feed.offset = (feed.last_pts + feed.offset + step * FRAME_PTS - pts) & PTS_MASK
        feed.highest, feed.last_pts = seq, pts
        feed.received += 1
        feed.last = time.monotonic()
        self._hop_ms.append(((now_us() - sent_us) & 0xFFFFFFFF) / 1000.0)
        self._engine.publish_relayed((pts + feed.offset) & PTS_MASK, {key: payload})

    def _forget_epochs(self, key: FeedKey, epoch: int) -> None:
        """A newer epoch of `key`: the older names of it can never be used again."""
        for name in [n for n, k in self._names.items() if k == key and n[0] < epoch]:
            del self._names[name]
        live = {f.epoch for f in self._feeds.values() if f is not self._feeds.get(key)}
        for old in [e for e in self._offsets if e not in live and e != epoch]:
            del self._offsets[old]

    # ------------------------------------------------------------------ both
    def stats(self) -> RelayStats:
        now = time.monotonic()
        hops = sorted(self._hop_ms)

        def pct(q: float) -> float:
            return hops[min(len(hops) - 1, int(q * len(hops)))] if hops else 0.0

        sources_out, source_packets, source_fenced, sources_in = self._sources.stats()
        video = self.video.counts
        return RelayStats(
            video_out=video["out"], video_in=video["in"], video_unwanted=video["unwanted"],
            video_plis_out=video["plis_out"], video_plis_in=video["plis_in"],
            sources_out=sources_out, sources_in=sources_in, source_packets_in=source_packets,
            source_fenced=source_fenced, listen=self._listen,
            feeds_in=tuple(
                RelayFeedStats(key, f.epoch, f.received, f.lost, f.late, f.fenced,
                               (now - f.last) * 1000.0 if f.last else -1.0)
                for key, f in sorted(self._feeds.items(), key=lambda kf: str(kf[0]))),
            unknown=self._unknown + self._sources.unknown,
            unwanted=self._unwanted + self._sources.unwanted, malformed=self._malformed,
            hop_p50_ms=pct(0.50), hop_p95_ms=pct(0.95), links=len(self._links),
            feeds_out=len(self._keys_out), packets_out=self._packets_out,
            send_dropped=self._send_dropped)

    def close(self) -> None:
        self._sources.close()
        self.video.close()
        if self._transport is not None:
            self._transport.close()
            self._transport = None
        for sock in self._socks.values():
            sock.close()
        self._socks.clear()
        self._links.clear()
        self._keys_out = frozenset()


class _Receiver(asyncio.DatagramProtocol):
    def __init__(self, relay: Relay) -> None:
        self.relay = relay

    def datagram_received(self, data: bytes, addr: Any) -> None:
        try:
            self.relay.received(data)
        except Exception:  # one bad datagram never stops the socket
            log.exception("relay: datagram dropped")
