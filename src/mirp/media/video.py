"""The video forwarder: the floor video, forwarded to every viewer, never decoded or re-encoded.

Publishers (participants whose offer sends video) are tapped at their receiver: each RTP packet
arrives here whole (media/compat.py's `video_forward` feature), RTX already unwrapped by aiortc,
and aiortc's decoder never runs. Only the packets of the **floor video** (the source the plan
names, media/plan.py) are forwarded: one synchronous loop per packet over the viewers, each
packet rewritten for its viewer (its sender's SSRC, its own sequence numbers, timestamps rebased
at a switch: media/video_rtp.py), SRTP-protected with the viewer's session and sent on its
nominated pair, the same way the audio fan-out sends (media/fanout.py).

A switch waits for the new source's keyframe: each viewer keeps the old source until the new
one's keyframe arrives (no grey frames), and the forwarder asks the new source for one (PLI) at
once. RTCP from viewers never reaches a publisher as such: a NACK is answered from the viewer's
own cache of the packets last sent to it (bounded by a token bucket); PLIs are coalesced, at most
one per `pli_interval_s` per publisher whoever asks; a REMB with the bitrate cap goes to each
publisher every second. So one bad receiver never makes the publisher send more to everyone.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiortc import RTCRtpReceiver, RTCRtpSender

from mirp.media import compat
from mirp.media.track import FeedTrack
from mirp.media.video_rtp import PacketCache, Rewriter, TokenBucket, vp8_keyframe_start

log = logging.getLogger(__name__)

REMB_INTERVAL_S = 1.0
MAX_SOCKET_BACKLOG = 64 * 1024  # bytes asyncio may hold for one viewer before we drop video


class IdleVideoTrack(FeedTrack):
    """A viewer's outbound video track: aiortc's sender task sleeps on it forever, since the
    forwarder writes this sender's RTP itself (media/track.py says why)."""

    kind = "video"


@dataclass(eq=False, slots=True)
class _Publisher:
    receiver: RTCRtpReceiver
    tap: compat.VideoTap
    ssrc: int | None = None
    last_pli: float = -1e9
    last_remb: float = -1e9
    packets: int = 0


@dataclass(eq=False, slots=True)
class _Viewer:
    sender: RTCRtpSender
    rewriter: Rewriter
    extension: bytes
    nacks: TokenBucket
    off: bool = False
    wire: compat.SenderWire | None = None
    cache: PacketCache = field(default_factory=PacketCache)
    packets: int = 0
    octets: int = 0


class VideoForwarder:
    """Publishers' taps -> the floor video -> every viewer who wants video."""

    def __init__(self, *, pli_interval_s: float = 0.5, bitrate_cap: int | None = None,
                 retransmits_per_s: float = 200.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.pli_interval_s = pli_interval_s
        self.bitrate_cap = bitrate_cap
        self.retransmits_per_s = retransmits_per_s
        self.clock = clock
        self.floor: str | None = None
        self._previous: str | None = None  # the floor before a switch, until the new keyframe
        self._publishers: dict[str, _Publisher] = {}
        self._viewers: dict[str, _Viewer] = {}
        self._need_keyframe = False
        self._tasks: set[asyncio.Future[Any]] = set()
        self._stats = dict.fromkeys((
            "packets_in", "packets_sent", "packets_waiting", "packets_dropped", "plis_sent",
            "plis_from_viewers", "nacks_answered", "nacks_refused", "rembs_sent"), 0)

    # membership

    def add_publisher(self, publisher_id: str, receiver: RTCRtpReceiver) -> bool:
        """Tap this receiver; False when the `video_forward` feature is off (not tapped)."""
        self.remove_publisher(publisher_id)
        tap = compat.tap_video_receiver(receiver, lambda p: self._on_packet(publisher_id, p))
        if tap is None:
            return False
        self._publishers[publisher_id] = _Publisher(receiver, tap)
        if publisher_id == self.floor:
            self._need_keyframe = True
        return True

    def remove_publisher(self, publisher_id: str) -> None:
        pub = self._publishers.pop(publisher_id, None)
        if pub is not None:
            pub.tap.detach()

    def add_viewer(self, viewer_id: str, sender: RTCRtpSender, payload_type: int,
                   extension: bytes = b"", *, off: bool = False) -> None:
        """From the floor video's next keyframe on, `sender` carries it (unless `off`)."""
        self.remove_viewer(viewer_id)
        viewer = _Viewer(sender, Rewriter(ssrc=0, payload_type=payload_type), extension,
                         TokenBucket(self.retransmits_per_s, self.retransmits_per_s / 4), off)
        self._viewers[viewer_id] = viewer
        compat.hook_sender_feedback(sender, lambda kind, seqs: self._on_feedback(
            viewer_id, viewer, kind, seqs))
        self._aim(viewer_id, viewer)

    def remove_viewer(self, viewer_id: str) -> None:
        self._viewers.pop(viewer_id, None)

    def set_off(self, viewer_id: str, off: bool) -> None:
        """A viewer who turned video off gets no video packet at all until turned on again."""
        viewer = self._viewers.get(viewer_id)
        if viewer is not None and viewer.off != off:
            viewer.off = off
            self._aim(viewer_id, viewer)

    def set_floor(self, source: str | None) -> None:
        """The floor video is now `source` (None: no video). Viewers switch at its keyframe."""
        if source == self.floor:
            return
        # the old floor goes on until the new one's keyframe; a new floor without a camera
        # leaves the viewers without video at once (not on the previous speaker's face)
        self._previous = self.floor if source in self._publishers else None
        self.floor = source
        for viewer_id, viewer in self._viewers.items():
            self._aim(viewer_id, viewer)
        self._need_keyframe = source is not None
        if source is not None:
            self._ask_keyframe(source, force=True)

    def _aim(self, viewer_id: str, viewer: _Viewer) -> None:
        wanted = None if viewer.off or viewer_id == self.floor else self.floor
        before = viewer.rewriter.waiting
        viewer.rewriter.want(wanted)
        if wanted is not None and viewer.rewriter.waiting and not before:
            self._need_keyframe = True
            self._ask_keyframe(wanted)

    # packets

    def _on_packet(self, publisher_id: str, packet: Any) -> None:
        """One publisher's RTP packet (synchronous, from aiortc's receive path; never raises)."""
        pub = self._publishers.get(publisher_id)
        if pub is None:
            return
        pub.ssrc = packet.ssrc
        pub.packets += 1
        if publisher_id != self.floor and publisher_id != self._previous:
            return
        stats = self._stats
        stats["packets_in"] += 1
        now = self.clock()
        if self.bitrate_cap and now - pub.last_remb >= REMB_INTERVAL_S:
            pub.last_remb = now
            stats["rembs_sent"] += 1
            self._spawn(compat.send_remb(pub.receiver, self.bitrate_cap, packet.ssrc))
        payload: bytes = packet.payload
        keyframe = vp8_keyframe_start(payload)
        if publisher_id != self.floor:
            keyframe = False  # the old floor: only on for viewers still waiting for the new
        elif keyframe:
            self._need_keyframe = False
        elif self._need_keyframe:
            self._ask_keyframe(publisher_id)  # the first PLI (or its answer) may have been lost
        ntp: int | None = None
        for viewer_id, viewer in self._viewers.items():
            try:
                if viewer.wire is None and not self._prepare(viewer_id, viewer):
                    continue
                rw = viewer.rewriter
                if not rw.accept(publisher_id, packet.timestamp, keyframe):
                    if rw.wanted == publisher_id:
                        stats["packets_waiting"] += 1
                    continue
                wire = viewer.wire
                assert wire is not None
                udp = wire.udp
                if not compat.dtls_connected(wire.dtls) or udp.is_closing():
                    viewer.wire = None
                    continue
                if udp.get_write_buffer_size() > MAX_SOCKET_BACKLOG:
                    stats["packets_dropped"] += 1
                    continue
                seq = rw.seq
                data = wire.srtp.protect(rw.header(packet.timestamp, packet.marker,
                                                   bool(viewer.extension))
                                         + viewer.extension + payload)
                udp.sendto(data, wire.addr)
                viewer.cache.put(seq, data)
                viewer.packets += 1
                viewer.octets += len(payload)
                if ntp is None:
                    ntp = compat.ntp_now()
                assert rw.last_ts is not None
                compat.record_sent(viewer.sender, viewer.packets, viewer.octets, rw.last_ts, ntp)
                stats["packets_sent"] += 1
            except Exception:
                log.exception("video: viewer %s failed; dropped", viewer_id)
                self._viewers.pop(viewer_id, None)
                break  # the dict changed: the other viewers get the next packet
        if keyframe:
            self._previous = None  # every ready viewer is on the new floor now

    def _prepare(self, viewer_id: str, viewer: _Viewer) -> bool:
        try:
            wire = compat.sender_wire(viewer.sender)
        except compat.TransportGone:
            return False
        if wire is None:
            return False
        viewer.wire = wire
        viewer.rewriter.ssrc = wire.ssrc
        return True

    # RTCP

    def _on_feedback(self, viewer_id: str, viewer: _Viewer, kind: str, seqs: list[int]) -> None:
        if self._viewers.get(viewer_id) is not viewer:
            return
        if kind == "pli":
            self._stats["plis_from_viewers"] += 1
            source = viewer.rewriter.source or viewer.rewriter.wanted
            if source is not None:
                self._ask_keyframe(source)
            return
        wire, now = viewer.wire, self.clock()
        for seq in seqs:
            data = viewer.cache.get(seq)
            if wire is None or data is None or not viewer.nacks.take(now):
                self._stats["nacks_refused"] += 1
                continue
            wire.udp.sendto(data, wire.addr)
            self._stats["nacks_answered"] += 1

    def _ask_keyframe(self, publisher_id: str, *, force: bool = False) -> None:
        """A PLI to the publisher, at most one per `pli_interval_s` (a floor switch: now)."""
        pub = self._publishers.get(publisher_id)
        if pub is None or pub.ssrc is None:
            return  # asked again when its packets arrive (`_need_keyframe`)
        now = self.clock()
        if not force and now - pub.last_pli < self.pli_interval_s:
            return
        pub.last_pli = now
        self._stats["plis_sent"] += 1
        self._spawn(compat.request_keyframe(pub.receiver, pub.ssrc))

    def _spawn(self, aw: Awaitable[None]) -> None:
        task = asyncio.ensure_future(aw)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Future[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.debug("video: RTCP send failed: %s", task.exception())

    def stats(self) -> dict[str, int]:
        return {"publishers": len(self._publishers), "viewers": len(self._viewers),
                "viewers_off": sum(1 for v in self._viewers.values() if v.off), **self._stats}

    def viewer_packets(self, viewer_id: str) -> int:
        viewer = self._viewers.get(viewer_id)
        return viewer.packets if viewer is not None else 0

    def close(self) -> None:
        for pub in self._publishers.values():
            pub.tap.detach()
        self._publishers.clear()
        self._viewers.clear()
        for task in self._tasks:
            task.cancel()
