"""The video forwarder: the floor video, forwarded to every viewer, never decoded or re-encoded.

Publishers (participants whose offer sends video) are tapped at their receiver: each RTP packet
arrives here whole (media/compat.py's `video_forward` feature), RTX already unwrapped by aiortc,
and aiortc's decoder never runs. The plan says which publisher each viewer sees (`MixPlan.video`:
the Room's floor video); a publisher's packet goes, in one synchronous loop, to the viewers on
it (an index kept per publisher, so a camera nobody watches costs one dict lookup), each
packet rewritten for its viewer (its sender's SSRC, its own sequence numbers, timestamps rebased
at a switch: media/video_rtp.py), SRTP-protected with the viewer's session and sent on its
nominated pair, the same way the audio fan-out sends (media/fanout.py).

A switch waits for the new source's keyframe: each viewer keeps the old source until the new
one's keyframe arrives (no grey frames), and the forwarder asks the new source for one (PLI) at
once. RTCP from viewers never reaches a publisher as such: a NACK is answered from the viewer's
own cache of the packets last sent to it (bounded by a token bucket); PLIs are coalesced, at most
one per `pli_interval_s` per publisher whoever asks; a REMB with the bitrate cap goes to each
publisher every second. So one bad receiver never makes the publisher send more to everyone.

In a cluster a publisher may be on another node: its packets arrive through the relay
(`set_remote`, `relayed`; media/video_relay.py) and go through the same loop, its keyframes are
asked of that node; a local publisher another node watches is also handed to `relay`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from aiortc import RTCRtpReceiver, RTCRtpSender

from mirp.media import compat
from mirp.media.track import FeedTrack
from mirp.media.video_rtp import (
    H264,
    VP8,
    PacketCache,
    Rewriter,
    TokenBucket,
    keyframe_start,
    ntp_plus,
)

log = logging.getLogger(__name__)

REMB_INTERVAL_S = 1.0
MAX_SOCKET_BACKLOG = 64 * 1024  # bytes asyncio may hold for one viewer before we drop video
AUDIO_DELAY_S = 0.03  # the mixer's hold assumed for a publisher not (yet) heard in the mix

# how long a publisher's voice is held in the mixer before it goes out (s); None: not mixed now
AudioDelay = Callable[[str], float | None]


def mixer_delay(source_of: Callable[[str], Any]) -> AudioDelay:
    """The audio delay of a plane whose engine mixes the sources `source_of(peer_id)` gives:
    the time a packet waits in the source's jitter buffer until its tick takes it (late ticks
    make it longer), a moving average (media/source.py `hold_ms`)."""
    def delay(peer_id: str) -> float | None:
        src = source_of(peer_id)
        if src is None or not src.active or not src.jitter.played:
            return None
        return float(src.jitter.hold_ms) / 1000.0
    return delay


class VideoOut(Protocol):
    """Where the packets of publishers other nodes watch go (media/video_relay.py)."""

    def wants(self, publisher_id: str) -> bool: ...

    def send(self, publisher_id: str, packet: Any, codec: str) -> None: ...

    def ask(self, publisher_id: str, at_once: bool) -> None: ...


class IdleVideoTrack(FeedTrack):
    """A viewer's outbound video track: aiortc's sender task sleeps on it forever, since the
    forwarder writes this sender's RTP itself (media/track.py says why)."""

    kind = "video"


@dataclass(eq=False, slots=True)
class _Publisher:
    receiver: RTCRtpReceiver | None  # None: on another node, its packets relayed here
    tap: compat.VideoTap | None
    ssrc: int | None = None
    audio_delay_s: float = AUDIO_DELAY_S  # the last known hold of its voice in the mixer
    last_pli: float = -1e9
    last_remb: float = -1e9
    packets: int = 0
    codecs: dict[int, str] = field(default_factory=dict)  # payload type -> mime (learnt)


@dataclass(eq=False, slots=True)
class _Viewer:
    sender: RTCRtpSender
    rewriter: Rewriter
    extension: bytes
    nacks: TokenBucket
    wire: compat.SenderWire | None = None
    cache: PacketCache = field(default_factory=PacketCache)
    payload_types: dict[str, int] = field(default_factory=dict)  # mime -> its PT to this viewer
    packets: int = 0
    octets: int = 0


class VideoForwarder:
    """Publishers' taps -> the floor video -> every viewer who wants video."""

    def __init__(self, *, pli_interval_s: float = 0.5, bitrate_cap: int | None = None,
                 retransmits_per_s: float = 200.0,
                 clock: Callable[[], float] = time.monotonic,
                 audio_delay: AudioDelay | None = None) -> None:
        self.pli_interval_s = pli_interval_s
        self.bitrate_cap = bitrate_cap
        self.retransmits_per_s = retransmits_per_s
        self.clock = clock
        self.audio_delay = audio_delay  # None: sender reports on the forwarding time alone
        self._wanted: dict[str, str] = {}  # viewer -> publisher it should see (the plan)
        self._publishers: dict[str, _Publisher] = {}
        self._viewers: dict[str, _Viewer] = {}
        self._index: dict[str, list[tuple[str, _Viewer]]] | None = None  # publisher -> viewers
        self._need_keyframe: set[str] = set()  # publishers some viewer waits on
        self._tasks: set[asyncio.Future[Any]] = set()
        self.relay: VideoOut | None = None  # in a cluster: cameras other nodes watch go there
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
        for viewer_id, viewer in self._viewers.items():
            self._aim(viewer_id, viewer)
        return True

    def remove_publisher(self, publisher_id: str) -> None:
        pub = self._publishers.pop(publisher_id, None)
        if pub is not None:
            if pub.tap is not None:
                pub.tap.detach()
            self._need_keyframe.discard(publisher_id)
            for viewer_id, viewer in self._viewers.items():
                self._aim(viewer_id, viewer)

    def set_remote(self, publishers: Collection[str]) -> None:
        """The publishers on other nodes whose packets the relay brings here (`relayed`): one
        more source each, for the viewers of this node only (a local one of the same id wins)."""
        changed = False
        for pid in [p for p, pub in self._publishers.items()
                    if pub.receiver is None and p not in publishers]:
            del self._publishers[pid]
            self._need_keyframe.discard(pid)
            changed = True
        for pid in publishers:
            if pid not in self._publishers:
                self._publishers[pid] = _Publisher(None, None, codecs={0: VP8, 1: H264})
                changed = True
        if changed:
            for viewer_id, viewer in self._viewers.items():
                self._aim(viewer_id, viewer)

    def relayed(self, publisher_id: str, packet: Any) -> None:
        """A relayed packet of a publisher on another node (media/video_relay.py)."""
        pub = self._publishers.get(publisher_id)
        if pub is not None and pub.receiver is None:
            self._on_packet(publisher_id, packet)

    def keyframe_asked(self, publisher_id: str, at_once: bool) -> None:
        """Viewers on another node wait for this publisher's keyframe: asked of it as for the
        viewers here (coalesced the same way; asked again until it comes)."""
        if publisher_id in self._publishers:
            self._need_keyframe.add(publisher_id)
            self._ask_keyframe(publisher_id, force=at_once)

    def add_viewer(self, viewer_id: str, sender: RTCRtpSender, payload_type: int,
                   extension: bytes = b"", payload_types: Mapping[str, int] | None = None
                   ) -> None:
        """From its publisher's next keyframe on, `sender` carries what the plan shows it.
        payload_types: each codec this viewer's m-line negotiated (mime -> payload type), so
        VP8 and H.264 publishers reach it each under its own; default VP8 as `payload_type`."""
        self.remove_viewer(viewer_id)
        viewer = _Viewer(sender, Rewriter(ssrc=0, payload_type=payload_type), extension,
                         TokenBucket(self.retransmits_per_s, self.retransmits_per_s / 4),
                         payload_types=dict(payload_types or {VP8: payload_type}))
        self._viewers[viewer_id] = viewer
        compat.hook_sender_feedback(sender, lambda kind, seqs: self._on_feedback(
            viewer_id, viewer, kind, seqs))
        self._aim(viewer_id, viewer)

    def remove_viewer(self, viewer_id: str) -> None:
        if self._viewers.pop(viewer_id, None) is not None:
            self._index = None

    def set_wanted(self, wanted: Mapping[str, str]) -> None:
        """The plan's viewer -> publisher. A viewer absent gets no video packet at all (video
        off); a viewer switched keeps its old publisher until the new one's keyframe."""
        if wanted == self._wanted:
            return
        self._wanted = dict(wanted)
        for viewer_id, viewer in self._viewers.items():
            self._aim(viewer_id, viewer)

    def _aim(self, viewer_id: str, viewer: _Viewer) -> None:
        wanted = self._wanted.get(viewer_id)
        if wanted not in self._publishers:
            wanted = None  # no camera: no video at once (not the previous speaker's face)
        rw = viewer.rewriter
        if wanted == rw.wanted:
            return
        rw.want(wanted)
        if wanted is None:
            rw.source = None  # nothing more, not even the old publisher
        self._index = None
        if wanted is not None and rw.waiting:
            self._need_keyframe.add(wanted)
            self._ask_keyframe(wanted, force=True)

    def _routes(self) -> dict[str, list[tuple[str, _Viewer]]]:
        """publisher -> the viewers on it or waiting for it (rebuilt after a change)."""
        index: dict[str, list[tuple[str, _Viewer]]] = {}
        for viewer_id, viewer in self._viewers.items():
            rw = viewer.rewriter
            for source in {rw.wanted, rw.source if rw.waiting else None} - {None}:
                assert source is not None
                index.setdefault(source, []).append((viewer_id, viewer))
        self._index = index
        return index

    # packets

    def _on_packet(self, publisher_id: str, packet: Any) -> None:
        """One publisher's RTP packet (synchronous, from aiortc's receive path; never raises)."""
        pub = self._publishers.get(publisher_id)
        if pub is None:
            return
        pub.ssrc = packet.ssrc
        pub.packets += 1
        viewers = (self._index if self._index is not None else self._routes()).get(publisher_id)
        relay = self.relay
        if relay is not None and not relay.wants(publisher_id):
            relay = None
        if not viewers and relay is None:
            return
        stats = self._stats
        stats["packets_in"] += 1
        now = self.clock()
        if (self.bitrate_cap and pub.receiver is not None
                and now - pub.last_remb >= REMB_INTERVAL_S):
            pub.last_remb = now
            stats["rembs_sent"] += 1
            self._spawn(compat.send_remb(pub.receiver, self.bitrate_cap, packet.ssrc))
        payload: bytes = packet.payload
        codec = self._codec(pub, packet.payload_type)
        keyframe = keyframe_start(codec, payload)
        if keyframe:
            self._need_keyframe.discard(publisher_id)
        elif publisher_id in self._need_keyframe:
            self._ask_keyframe(publisher_id)  # the first PLI (or its answer) may have been lost
        if relay is not None:
            relay.send(publisher_id, packet, codec)
            if not viewers:
                return
        assert viewers is not None
        ntp: int | None = None
        for viewer_id, viewer in viewers:
            try:
                if viewer.wire is None and not self._prepare(viewer_id, viewer):
                    continue
                rw = viewer.rewriter
                payload_type = viewer.payload_types.get(codec)
                if payload_type is None:  # a codec its m-line lacks: it keeps what it shows
                    stats["packets_waiting"] += 1
                    continue
                rw.payload_type = payload_type
                before = rw.source
                if not rw.accept(publisher_id, packet.timestamp, keyframe):
                    if rw.wanted == publisher_id:
                        stats["packets_waiting"] += 1
                    continue
                if rw.source != before:
                    self._index = None  # switched: off its old publisher's list
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
                    ntp = self._report_ntp(publisher_id, pub)
                assert rw.last_ts is not None
                compat.record_sent(viewer.sender, viewer.packets, viewer.octets, rw.last_ts, ntp)
                stats["packets_sent"] += 1
            except Exception:
                log.exception("video: viewer %s failed; dropped", viewer_id)
                self.remove_viewer(viewer_id)

    @staticmethod
    def _codec(pub: _Publisher, payload_type: int) -> str:
        """The mime type of this publisher's payload type (learnt from its receiver once it
        receives: a browser sends what it prefers of what was negotiated, VP8 or H.264)."""
        codec = pub.codecs.get(payload_type)
        if codec is None:
            if pub.receiver is None:  # relayed: the datagram named its codec
                return VP8
            pub.codecs = compat.receiver_codecs(pub.receiver)
            codec = pub.codecs.setdefault(payload_type, VP8)
        return codec

    def _prepare(self, viewer_id: str, viewer: _Viewer) -> bool:
        try:
            wire = compat.sender_wire(viewer.sender)
        except compat.TransportGone:
            return False
        if wire is None:
            return False
        viewer.wire = wire
        viewer.rewriter.ssrc = wire.ssrc
        self._ask_again_when_ready(viewer)
        return True

    def _ask_again_when_ready(self, viewer: _Viewer) -> None:
        """A viewer is added at its answer, before its DTLS is up: the keyframe asked for it
        then may have gone by before it could be sent to. Ask again now that it can: nobody
        else would (a browser asks for no keyframe of a stream it never got a packet of), and
        the viewer would wait for the publisher's next keyframe of its own, maybe for ever."""
        rw = viewer.rewriter
        if rw.waiting and rw.wanted is not None:
            self._need_keyframe.add(rw.wanted)
            self._ask_keyframe(rw.wanted, force=True)

    # RTCP

    def _report_ntp(self, publisher_id: str, pub: _Publisher) -> int:
        """The wall-clock time the viewers' sender reports give this packet's timestamp: now,
        plus how long the publisher's voice is held in the mixer before it goes out. The mixed
        audio's reports map each tick to the time it is sent, so its sound carries its capture
        time plus that hold; the picture, forwarded at once, must carry the same, and a browser
        syncing the two streams on their reports then holds the picture back by as much."""
        now = compat.ntp_now()
        if self.audio_delay is None:
            return now
        delay = self.audio_delay(publisher_id)
        if delay is not None:
            pub.audio_delay_s = delay
        return ntp_plus(now, pub.audio_delay_s)

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
        """A PLI to the publisher, at most one per `pli_interval_s` (a viewer just switched to
        it: now, unless one went out in the last 50 ms)."""
        pub = self._publishers.get(publisher_id)
        if pub is None or (pub.ssrc is None and pub.receiver is not None):
            return  # asked again when its packets arrive (`_need_keyframe`)
        now = self.clock()
        if now - pub.last_pli < (0.05 if force else self.pli_interval_s):
            return
        pub.last_pli = now
        self._stats["plis_sent"] += 1
        if pub.receiver is None:  # on another node: asked of it through the relay
            if self.relay is not None:
                self.relay.ask(publisher_id, force)
            return
        assert pub.ssrc is not None
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
                "viewers_off": sum(1 for v in self._viewers.values()
                                   if v.rewriter.wanted is None), **self._stats}

    def viewer_packets(self, viewer_id: str) -> int:
        viewer = self._viewers.get(viewer_id)
        return viewer.packets if viewer is not None else 0

    def close(self) -> None:
        for pub in self._publishers.values():
            if pub.tap is not None:
                pub.tap.detach()
        self._publishers.clear()
        self._viewers.clear()
        for task in self._tasks:
            task.cancel()
