"""The relay's video half: a publisher's camera crossing to the nodes that have viewers of it.

Why: in a cluster a participant's peer lives on the node their WebSocket landed on, and the
floor video must reach viewers on every node, still never decoded nor re-encoded. The
publisher's node taps its RTP as always (media/video.py); each packet of a publisher some other
node watches is sent once per such node over the relay's UDP (kind `VIDEO`, media/
relay_format.py), and the receiving node's own forwarder treats it as the packets of one more
publisher: the same per-viewer rewrite, the same keyframe rule. Keyframe requests go the other
way (kind `VIDEO_PLI`), each node coalescing them as its forwarder does for local viewers.

Who sends what to whom is the origin's plan (rooms/edge_plane.py, rooms/edge_media.py): each
relay link says which publishers' video it carries out (`videos`) and which it brings in
(`video_from`: accepted here, keyframe requests go there). A camera nobody watches elsewhere is
on no link and crosses to nobody. No fencing by epoch here: a late packet of a stale origin is
a frame at worst, and the viewer's rewriter keeps its stream continuous.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any, Protocol

from mirp.media.relay_format import (
    HEADER,
    MAGIC,
    VERSION,
    VIDEO,
    VIDEO_AT_ONCE,
    VIDEO_H264,
    VIDEO_MARKER,
    VIDEO_PLI,
    Address,
    now_us,
)
from mirp.media.video_rtp import H264, VP8

RELAYED_CODECS = {0: VP8, 1: H264}  # a relayed packet's payload type -> its codec


@dataclass(frozen=True, slots=True)
class RelayedPacket:
    """A relayed video packet, shaped like the tapped RTP packets the forwarder reads."""

    ssrc: int
    sequence_number: int
    timestamp: int
    marker: int
    payload_type: int  # a key of RELAYED_CODECS
    payload: bytes


class VideoHost(Protocol):
    """What the relay needs of the plane's video forwarder (media/video.py)."""

    def set_remote(self, publishers: Collection[str]) -> None: ...

    def relayed(self, publisher_id: str, packet: Any) -> None: ...

    def keyframe_asked(self, publisher_id: str, at_once: bool) -> None: ...


@dataclass(frozen=True, slots=True)
class _Link:
    address: Address
    epoch: int
    videos: frozenset[str]
    video_from: frozenset[str]


class VideoRelay:
    def __init__(self, send: Callable[[Address, bytes], None]) -> None:
        self._send = send
        self.host: VideoHost | None = None
        self._links: dict[str, _Link] = {}
        self._out: dict[str, tuple[tuple[Address, int], ...]] = {}  # publisher -> where to
        self._up: dict[str, tuple[Address, int]] = {}  # publisher -> its keyframe requests' way
        self._names: dict[str, bytes] = {}  # publisher -> its length-prefixed id
        self.counts = dict.fromkeys(("out", "in", "unwanted", "plis_out", "plis_in"), 0)

    def attach(self, host: VideoHost) -> None:
        self.host = host
        host.set_remote(self._up)

    def link(self, link_id: str, address: Address, epoch: int, videos: Collection[str],
             video_from: Collection[str]) -> None:
        if videos or video_from:
            self._links[link_id] = _Link(address, epoch, frozenset(videos), frozenset(video_from))
            self._recount()
        else:
            self.unlink(link_id)

    def unlink(self, link_id: str) -> None:
        if self._links.pop(link_id, None) is not None:
            self._recount()

    def _recount(self) -> None:
        out: dict[str, list[tuple[Address, int]]] = {}
        up: dict[str, tuple[Address, int]] = {}
        for link in self._links.values():
            for pid in link.videos:
                out.setdefault(pid, []).append((link.address, link.epoch))
            for pid in link.video_from:
                up[pid] = (link.address, link.epoch)
        new = out.keys() - self._out.keys()
        self._out = {pid: tuple(to) for pid, to in out.items()}
        remote_changed = up.keys() != self._up.keys()
        self._up = up
        host = self.host
        if host is None:
            return
        if remote_changed:
            host.set_remote(up)
        for pid in sorted(new):  # a node starts watching: its viewers wait for a keyframe
            host.keyframe_asked(pid, True)

    # ------------------------------------------------------------------ the forwarder's side
    def wants(self, publisher_id: str) -> bool:
        return publisher_id in self._out

    def send(self, publisher_id: str, packet: Any, codec: str) -> None:
        """One packet of a publisher other nodes watch: once to each (never raises)."""
        to = self._out.get(publisher_id)
        if not to:
            return
        name = self._names.get(publisher_id)
        if name is None:
            raw = publisher_id.encode()[:255]
            name = self._names[publisher_id] = bytes((len(raw),)) + raw
        flags = (VIDEO_MARKER if packet.marker else 0) | (VIDEO_H264 if codec == H264 else 0)
        body = name + packet.payload
        sent_us = now_us()
        for address, epoch in to:
            self._send(address, HEADER.pack(
                MAGIC, VERSION, VIDEO, flags, packet.ssrc, epoch, packet.sequence_number,
                packet.timestamp, sent_us) + body)
            self.counts["out"] += 1

    def ask(self, publisher_id: str, at_once: bool) -> None:
        """A keyframe of a relayed publisher, asked of the node it comes from."""
        up = self._up.get(publisher_id)
        if up is None:
            return
        address, epoch = up
        self.counts["plis_out"] += 1
        self._send(address, HEADER.pack(MAGIC, VERSION, VIDEO_PLI,
                                        VIDEO_AT_ONCE if at_once else 0, 0, epoch, 0, 0,
                                        now_us()) + publisher_id.encode())

    # ------------------------------------------------------------------ in
    def data(self, flags: int, ssrc: int, seq: int, timestamp: int, body: bytes) -> bool:
        """One VIDEO datagram's fields (relay.py parsed the header); False when malformed."""
        if not body or len(body) < body[0] + 1:
            return False
        try:
            publisher_id = body[1:1 + body[0]].decode()
        except UnicodeDecodeError:
            return False
        host = self.host
        if host is None or publisher_id not in self._up:
            self.counts["unwanted"] += 1
            return True
        self.counts["in"] += 1
        host.relayed(publisher_id, RelayedPacket(
            ssrc, seq & 0xFFFF, timestamp, flags & VIDEO_MARKER,
            1 if flags & VIDEO_H264 else 0, body[1 + body[0]:]))
        return True

    def pli(self, flags: int, body: bytes) -> bool:
        try:
            publisher_id = body.decode()
        except UnicodeDecodeError:
            return False
        self.counts["plis_in"] += 1
        if self.host is not None and publisher_id in self._out:
            self.host.keyframe_asked(publisher_id, bool(flags & VIDEO_AT_ONCE))
        return True

    def close(self) -> None:
        self._links.clear()
        self._out.clear()
        self._up.clear()
