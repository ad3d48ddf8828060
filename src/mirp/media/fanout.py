"""The fan-out: each tick, one loop sends every feed's encoded packet to all of its listeners.

This is the cost that grows with listeners (media-facts rule 5), so it is one synchronous loop,
not a task per listener. Two paths, chosen per listener:

- fast path (default): for each listener, build the 12-byte RTP header (the listener's own SSRC,
  sequence number, timestamp = pts + its own random offset, Opus payload type of its session),
  append the constant `mid` extension and the shared payload, SRTP-protect it with that
  listener's DTLS transport session, and hand it to the nominated ICE pair's UDP socket.
  This reaches into aiortc's private API (aiortc==1.16.0 is pinned; tests cover it):
  `RTCDtlsTransport._state` / `._tx_srtp`, `RTCIceTransport._connection._nominated`, and
  aiortc's RTCP sender-report counters `RTCRtpSender.__{packet,octet}_count`, `__rtp_timestamp`,
  `__ntp_timestamp` (its own `_run_rtcp` keeps sending correct SRs and the BYE from them).
  The sender's own RTP task sits idle on a FeedTrack that is never fed (media/track.py).
- public-API path (`fast=False`, or a sender the fast path cannot drive): one `av.Packet` per
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
from aiortc.clock import current_ntp_time
from aiortc.rtcdtlstransport import State as DtlsState

from mirp.media.plan import FeedKey
from mirp.media.track import FeedTrack

log = logging.getLogger(__name__)

TIME_BASE = Fraction(1, 48_000)
# Bytes asyncio may hold for one listener's UDP socket (it buffers when the kernel says EAGAIN):
# beyond this we drop instead of queueing; ~5 packets, i.e. ~100 ms of audio at worst.
MAX_SOCKET_BACKLOG = 1024

_HEADER = struct.Struct("!BBHII")
_PRIVATE_SENDER = ("_RTCRtpSender__packet_count", "_RTCRtpSender__octet_count",
                   "_RTCRtpSender__rtp_timestamp", "_RTCRtpSender__ntp_timestamp",
                   "_RTCRtpSender__started", "_ssrc")


@dataclass(eq=False, slots=True)
class _Listener:
    listener_id: str
    sender: Any  # RTCRtpSender; Any because the fast path writes its private counters
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
    dtls: Any = None
    srtp: Any = None
    udp: Any = None  # asyncio.DatagramTransport of the nominated pair
    addr: tuple[str, int] = ("", 0)
    packets: int = 0
    octets: int = 0


class Fanout:
    """Listeners -> FeedKey, and the per-tick send loop (contract: team CONTRACTS-EXTRA B)."""

    def __init__(self, *, fast: bool = True) -> None:
        self.fast = fast
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
        ok = (track is not None and track.binding is not None
              and all(hasattr(sender, name) for name in _PRIVATE_SENDER)
              and hasattr(sender.transport, "_tx_srtp") and hasattr(sender.transport, "_state"))
        if not ok and not self._fallback_warned:
            self._fallback_warned = True
            log.warning("fan-out: a sender without the private API or RTP binding; "
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
            av_packet: av.Packet | None = None
            for entry in group.values():
                try:
                    if entry.fast and not entry.ready:
                        self._prepare(entry, dead)  # may also move it to the public path
                        if entry.fast and not entry.ready:
                            continue  # not connected yet
                    if entry.fast:
                        if entry.dtls._state is not DtlsState.CONNECTED:
                            dead.append(entry)
                            continue
                        udp = entry.udp
                        if udp.is_closing():
                            dead.append(entry)
                            continue
                        if udp.get_write_buffer_size() > MAX_SOCKET_BACKLOG:
                            self._dropped += 1
                            continue
                        ts = (pts + entry.ts_offset) & 0xFFFFFFFF
                        data = entry.srtp.protect(
                            _HEADER.pack(entry.b0, entry.b1, entry.seq, ts, entry.ssrc)
                            + entry.ext + payload)
                        udp.sendto(data, entry.addr)
                        entry.b1 &= 0x7F  # marker only on the first packet of the stream
                        entry.seq = (entry.seq + 1) & 0xFFFF
                        entry.packets += 1
                        entry.octets += len(payload)
                        if ntp is None:
                            ntp = current_ntp_time()
                        sender = entry.sender
                        sender._RTCRtpSender__packet_count = entry.packets
                        sender._RTCRtpSender__octet_count = entry.octets
                        sender._RTCRtpSender__rtp_timestamp = ts
                        sender._RTCRtpSender__ntp_timestamp = ntp
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
                         getattr(entry.dtls, "state", "gone") if entry.dtls else "gone")
                self.remove(entry.listener_id)
                self._removed_dead += 1

    def _prepare(self, entry: _Listener, dead: list[_Listener]) -> bool:
        """Cache what the fast path needs once the sender's transport is up. If aiortc's
        internals are not what we expect, this listener falls back to the public path."""
        try:
            return self._prepare_fast(entry, dead)
        except (AttributeError, KeyError, TypeError):
            log.warning("fan-out: listener %s: aiortc internals differ; public path",
                        entry.listener_id, exc_info=True)
            entry.fast = False
            return False

    def _prepare_fast(self, entry: _Listener, dead: list[_Listener]) -> bool:
        sender = entry.sender
        dtls = sender.transport
        state = dtls._state
        if state in (DtlsState.CLOSED, DtlsState.FAILED):
            dead.append(entry)
            return False
        if state is not DtlsState.CONNECTED or dtls._tx_srtp is None \
                or not sender._RTCRtpSender__started:
            return False  # handshake still running, or the sender never sends (recvonly)
        pair = dtls.transport._connection._nominated.get(1)
        if pair is None or pair.protocol.transport is None:
            return False
        binding = entry.track.binding if entry.track is not None else None
        if binding is None:
            return False
        entry.dtls, entry.srtp = dtls, dtls._tx_srtp
        entry.udp, entry.addr = pair.protocol.transport, pair.remote_addr
        entry.ssrc = sender._ssrc
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
