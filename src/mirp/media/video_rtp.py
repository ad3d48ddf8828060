"""Pure RTP work of the video forwarder: VP8 and H.264 keyframe detection and the per-viewer
rewrite.

No aiortc, no sockets, no clock of its own: the forwarder (media/video.py) feeds it packets and
the time. Why a rewrite per viewer: a viewer's browser sees one video stream whose source
follows the floor; its SSRC (the viewer's own sender), sequence numbers and timestamps must run
on without a jump across a switch, or its jitter buffer stalls or throws frames away.
"""

from __future__ import annotations

import struct
from collections import OrderedDict
from dataclasses import dataclass, field

_HEADER = struct.Struct("!BBHII")
VIDEO_CLOCK = 90_000
SWITCH_TS_STEP = VIDEO_CLOCK // 30  # one frame at 30 fps between the old source and the new


def ntp_plus(ntp: int, seconds: float) -> int:
    """A 64-bit NTP timestamp (32.32 fixed point, as RTCP sender reports carry it) plus
    `seconds`, which may be negative."""
    return (ntp + round(seconds * (1 << 32))) & 0xFFFF_FFFF_FFFF_FFFF


def vp8_keyframe_start(payload: bytes) -> bool:
    """True when this VP8 RTP payload (RFC 7741) starts a keyframe: S=1, partition 0, and the
    VP8 frame header's P bit (inverse key frame flag) is 0."""
    if not payload:
        return False
    b0 = payload[0]
    if not b0 & 0x10 or b0 & 0x0F:  # S (start of partition) and PID == 0
        return False
    i = 1
    if b0 & 0x80:  # X: extension byte follows
        if len(payload) < 2:
            return False
        x = payload[1]
        i = 2
        if x & 0x80:  # I: picture id, 7 or 15 bits
            if len(payload) <= i:
                return False
            i += 2 if payload[i] & 0x80 else 1
        if x & 0x40:  # L: TL0PICIDX
            i += 1
        if x & 0x30:  # T or K: one byte
            i += 1
    return len(payload) > i and not payload[i] & 0x01


VP8, H264 = "video/vp8", "video/h264"  # the codecs forwarded, by lower-case mime type
_SPS, _IDR, _STAP_A, _FU_A = 7, 5, 24, 28  # H.264 NAL unit types (RFC 6184)


def h264_keyframe_start(payload: bytes) -> bool:
    """True when this H.264 RTP payload (RFC 6184, packetization-mode 1) may start a keyframe
    for a viewer switched onto its source: a single NAL unit that is an SPS or an IDR slice, a
    STAP-A aggregating one, or the first fragment (FU-A, S=1) of an IDR slice. The SPS counts
    because encoders send SPS and PPS just before the IDR (the same timestamp), and a decoder
    switched to a new source needs them: starting at the IDR's fragment would drop them."""
    if not payload:
        return False
    nal = payload[0] & 0x1F
    if nal in (_SPS, _IDR):
        return True
    if nal == _STAP_A:
        i = 1
        while i + 2 < len(payload):
            size = int.from_bytes(payload[i:i + 2], "big")
            if not size or i + 2 + size > len(payload):
                return False
            if payload[i + 2] & 0x1F in (_SPS, _IDR):
                return True
            i += 2 + size
        return False
    return nal == _FU_A and len(payload) > 1 and payload[1] & 0x80 != 0 \
        and payload[1] & 0x1F == _IDR


def keyframe_start(codec: str, payload: bytes) -> bool:
    """The keyframe test of `codec` (VP8 when unknown: the only codec before H.264 was)."""
    return h264_keyframe_start(payload) if codec == H264 else vp8_keyframe_start(payload)


@dataclass(slots=True)
class Rewriter:
    """One viewer's continuous outbound stream. `accept` says whether a packet of `source`
    may go out now (a new source only from its keyframe on) and rebases the timestamps at a
    switch; `header` writes the rewritten 12-byte RTP header."""

    ssrc: int
    payload_type: int
    seq: int = 0
    source: str | None = None
    ts_offset: int = 0
    last_ts: int | None = None  # last timestamp sent (out), to rebase the next source on it
    waiting: bool = False  # waiting for a keyframe of `wanted`
    wanted: str | None = None

    def want(self, source: str | None) -> None:
        """From now on, forward `source` (from its next keyframe)."""
        if source != self.wanted:
            self.wanted = source
            self.waiting = source is not None and source != self.source

    def accept(self, source: str, timestamp: int, keyframe: bool) -> bool:
        if self.waiting and source == self.wanted and keyframe:
            self.waiting = False
            self.source = source
            base = 0 if self.last_ts is None else self.last_ts + SWITCH_TS_STEP
            self.ts_offset = (base - timestamp) & 0xFFFFFFFF
            return True
        # the current source goes on, also while waiting for the next one's keyframe
        return source == self.source and (source == self.wanted or self.waiting)

    def header(self, timestamp: int, marker: bool, extension: bool) -> bytes:
        ts = (timestamp + self.ts_offset) & 0xFFFFFFFF
        self.last_ts = ts
        data = _HEADER.pack(0x90 if extension else 0x80,
                            (0x80 if marker else 0) | (self.payload_type & 0x7F),
                            self.seq, ts, self.ssrc)
        self.seq = (self.seq + 1) & 0xFFFF
        return data


@dataclass(slots=True)
class PacketCache:
    """The last `size` protected packets sent to one viewer, by sequence number: a NACK is
    answered by sending the same bytes again (never by asking the publisher)."""

    size: int = 256
    packets: OrderedDict[int, bytes] = field(default_factory=OrderedDict)

    def put(self, seq: int, data: bytes) -> None:
        self.packets[seq] = data
        if len(self.packets) > self.size:
            self.packets.popitem(last=False)

    def get(self, seq: int) -> bytes | None:
        return self.packets.get(seq)


@dataclass(slots=True)
class TokenBucket:
    """At most `rate` events per second, bursts of `burst`: bounds what one viewer's RTCP may
    cost (retransmissions) or cause upstream (keyframe requests)."""

    rate: float
    burst: float
    tokens: float = -1.0
    at: float = 0.0

    def take(self, now: float) -> bool:
        if self.tokens < 0:
            self.tokens, self.at = self.burst, now
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False
