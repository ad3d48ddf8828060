"""The fan-out: each tick, one loop sends every feed's encoded packet to all of its listeners.

This is the cost that grows with listeners (measured: ~20 us per packet per listener this way,
~90 through aiortc's stock sender), so it is one synchronous loop, not a task per listener. Two
paths, chosen per listener:

- fast path (default): for each listener, build the 12-byte RTP header (the listener's own SSRC,
  sequence number, timestamp = pts + its own random offset, Opus payload type of its session),
  append the constant `mid` extension and the shared payload, SRTP-protect it with that
  listener's DTLS transport session, and hand it to the nominated ICE pair's UDP socket.
  This needs aiortc's private API, reached only through media/compat.py (its `fanout` feature:
  the DTLS transport's SRTP session, the nominated pair, and the RTCP sender-report counters that
  aiortc's own RTCP task keeps sending SRs and the BYE from). The sender's own RTP task sits idle
  on a FeedTrack that is never fed (media/track.py).
- public-API path (`fast=False`, the self-check turned `fanout` off, or a sender the fast path
  cannot drive; logged, and counted in `stats()["fallback"]`): one `av.Packet` per
  feed per tick, pushed into every listener's FeedTrack; aiortc's sender packs it without
  re-encoding (~4x the CPU of the fast path, see docs/media-net.md).

Both keep one media clock (`pts = tick * 960` for every key), so a switch changes the sound at
the next publish with no timestamp jump and no sequence gap. Nothing queues for a listener: a
socket whose send buffer is full drops the packet; a transport that closed or failed drops the
listener (logged; the engine is never disturbed).
"""

from __future__ import annotations

import logging
import random
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import av
from aiortc import RTCRtpSender

from mirp.media import compat
from mirp.media.plan import FeedKey
from mirp.media.track import FeedTrack

log = logging.getLogger(__name__)

TIME_BASE = Fraction(1, 48_000)
# Bytes asyncio may hold for one listener's UDP socket (it buffers when the kernel says EAGAIN):
# beyond this we drop instead of queueing; ~5 packets, i.e. ~100 ms of audio at worst.
MAX_SOCKET_BACKLOG = 1024

_HEADER = struct.Struct("!BBHII")


@dataclass(eq=False, slots=True)
class _Listener:
    listener_id: str
    sender: RTCRtpSender
    key: FeedKey
    track: FeedTrack | None
    fast: bool
    ready: bool = False
    seq: int = field(default_factory=lambda: random.randrange(0, 32768))
    ts_offset: int = field(default_factory=lambda: random.getrandbits(32))
    b0: int = 0x80
    b1: int = 0
    ssrc: int = 0
    ext: bytes = b""
    wire: compat.SenderWire | None = None  # set once the transport is up (fast path)
    packets: int = 0
    octets: int = 0


class Fanout:
    """Listeners -> FeedKey, and the per-tick send loop (the engine's side: engine.FanoutLike)."""

    def __init__(self, *, fast: bool = True) -> None:
        self.fast = fast and compat.enabled("fanout")
        self._listeners: dict[str, _Listener] = {}
        self._by_key: dict[FeedKey, dict[str, _Listener]] = {}
        self._closed = False
        self._sent = 0
        self._dropped = 0
        self._removed_dead = 0
        self._fallback_warned = False

    # membership

    def add(self, listener_id: str, sender: RTCRtpSender, key: FeedKey) -> None:
        """From the next publish on, `sender` carries `key`'s packets (replaces an old entry)."""
        if self._closed:
            return
        self.remove(listener_id)
        track = sender.track if isinstance(sender.track, FeedTrack) else None
        if track is None and sender.track is None:
            # an idle FeedTrack keeps aiortc's own task asleep instead of polling every 20 ms
            track = FeedTrack()
            sender.replaceTrack(track)
        fast = self.fast and self._can_drive(sender, track)
        if track is None:
            log.warning("listener %s: sender has a foreign track; it is left alone", listener_id)
            return
        entry = _Listener(listener_id, sender, key, track, fast)
        self._listeners[listener_id] = entry
        self._by_key.setdefault(key, {})[listener_id] = entry

    def _can_drive(self, sender: RTCRtpSender, track: FeedTrack | None) -> bool:
        ok = track is not None and track.binding is not None
        if not ok and not self._fallback_warned:
            self._fallback_warned = True
            log.warning("fan-out: a sender without an RTP binding; "
                        "it uses aiortc's public (slower) path")
        return ok

    def switch(self, listener_id: str, key: FeedKey) -> None:
        """Effective at the next publish; same clock, so no timestamp jump, no sequence gap."""
        entry = self._listeners.get(listener_id)
        if entry is None or entry.key == key:
            return
        self._unlink(entry)
        entry.key = key
        self._by_key.setdefault(key, {})[listener_id] = entry

    def remove(self, listener_id: str) -> None:
        entry = self._listeners.pop(listener_id, None)
        if entry is not None:
            self._unlink(entry)

    def _unlink(self, entry: _Listener) -> None:
        group = self._by_key.get(entry.key)
        if group is not None:
            group.pop(entry.listener_id, None)
            if not group:
                del self._by_key[entry.key]

    def keys_in_use(self) -> frozenset[FeedKey]:
        return frozenset(self._by_key)

    def key_of(self, listener_id: str) -> FeedKey | None:
        entry = self._listeners.get(listener_id)
        return entry.key if entry is not None else None

    # the tick

    def publish(self, pts: int, packets: Mapping[FeedKey, bytes]) -> None:
        """Send each key's payload to its listeners. Synchronous, bounded, never raises."""
        if self._closed or not self._by_key:
            return
        ntp: int | None = None
        dead: list[_Listener] = []
        for key, group in self._by_key.items():
            payload = packets.get(key)
            if not payload:
                continue
            av_packet: av.Packet[Any] | None = None
            for entry in group.values():
                try:
                    if entry.fast and not entry.ready:
                        self._prepare(entry, dead)  # may also move it to the public path
                        if entry.fast and not entry.ready:
                            continue  # not connected yet
                    if entry.fast:
                        wire = entry.wire
                        assert wire is not None
                        if not compat.dtls_connected(wire.dtls):
                            dead.append(entry)
                            continue
                        udp = wire.udp
                        if udp.is_closing():
                            dead.append(entry)
                            continue
                        if udp.get_write_buffer_size() > MAX_SOCKET_BACKLOG:
                            self._dropped += 1
                            continue
                        ts = (pts + entry.ts_offset) & 0xFFFFFFFF
                        data = wire.srtp.protect(
                            _HEADER.pack(entry.b0, entry.b1, entry.seq, ts, wire.ssrc)
                            + entry.ext + payload)
                        udp.sendto(data, wire.addr)
                        entry.b1 &= 0x7F  # marker only on the first packet of the stream
                        entry.seq = (entry.seq + 1) & 0xFFFF
                        entry.packets += 1
                        entry.octets += len(payload)
                        if ntp is None:
                            ntp = compat.ntp_now()
                        compat.record_sent(entry.sender, entry.packets, entry.octets, ts, ntp)
                        self._sent += 1
                    else:
                        if av_packet is None:
                            av_packet = av.Packet(payload)
                            av_packet.pts = pts
                            av_packet.time_base = TIME_BASE
                        track = entry.track
                        assert track is not None
                        if track.readyState != "live":
                            dead.append(entry)
                            continue
                        before = track.dropped
                        track.push(av_packet)
                        self._dropped += track.dropped - before
                        self._sent += 1
                except Exception:
                    log.exception("fan-out: listener %s failed; dropped", entry.listener_id)
                    dead.append(entry)
        for entry in dead:
            if self._listeners.get(entry.listener_id) is entry:
                log.info("fan-out: listener %s dropped (transport %s)", entry.listener_id,
                         entry.wire.dtls.state if entry.wire is not None else "gone")
                self.remove(entry.listener_id)
                self._removed_dead += 1

    def _prepare(self, entry: _Listener, dead: list[_Listener]) -> bool:
        """Cache what the fast path needs once the sender's transport is up. If aiortc's
        internals are not what the self-check saw, this listener falls back to the public path."""
        try:
            wire = compat.sender_wire(entry.sender)
        except compat.TransportGone:
            dead.append(entry)
            return False
        except (AttributeError, KeyError, TypeError):
            log.warning("fan-out: listener %s: aiortc internals differ; public path",
                        entry.listener_id, exc_info=True)
            entry.fast = False
            return False
        binding = entry.track.binding if entry.track is not None else None
        if wire is None or binding is None:
            return False  # handshake still running, or the sender never sends (recvonly)
        entry.wire = wire
        entry.ext = binding.extension
        entry.b0 = 0x90 if binding.extension else 0x80
        entry.b1 = 0x80 | (binding.payload_type & 0x7F)  # marker on the first packet
        entry.ready = True
        return True

    def stats(self) -> dict[str, int]:
        fast = sum(1 for e in self._listeners.values() if e.fast)
        return {
            "listeners": len(self._listeners),
            "fast": fast,
            "fallback": len(self._listeners) - fast,
            "ready": sum(1 for e in self._listeners.values() if e.ready or not e.fast),
            "keys": len(self._by_key),
            "packets_sent": self._sent,
            "packets_dropped": self._dropped,
            "listeners_dropped": self._removed_dead,
        }

    async def close(self) -> None:
        """Forget every listener (the peer sessions own and close the senders)."""
        self._closed = True
        self._listeners.clear()
        self._by_key.clear()
