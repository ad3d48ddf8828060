"""Peers: the server side of each participant's RTCPeerConnection (negotiation and close).

One Peer = one audio m-line: the participant's microphone comes up (we receive), the channel
they listen to goes down (we send, see media/fanout.py). A listen-only client offers `recvonly`,
so nothing comes up. An optional second m-line, video (VP8), carries the participant's camera up
(tapped, never decoded) and the floor video down (media/video.py); an optional third, video
again, carries only down: the partner video (an interpreter's booth partner, small), answered
`sendonly` whatever the client offered, so no second camera comes up. Without the
`video_forward` fast path both are answered `inactive`. Anything else (data channels, a second
audio line) is refused with InvalidSdp: every inbound track must be drained or tapped.
Whether a Peer may go on (its admission slot, a handshake that never ends, silence) is its
PeerWatch's job (media/watch.py); consent freshness is media/consent.py's.

Why things are the way they are:
- ICE servers: `RTCConfiguration(iceServers=[])` when none are configured; aiortc otherwise adds a
  public STUN server of its own. `max-bundle`: every m-line on the first one's transport from the
  start (browsers bundle anyway). Under aiortc's default (`balanced`) a second video transceiver
  is made on the first one's transport, which the offer's BUNDLE then discards: the partner
  video would never leave.
- Server → client trickle: aiortc gathers every local candidate before it answers, so the answer
  carries them all (no server-side trickle). Client → server trickle is supported
  (`add_remote_candidate`, with candidates arriving before the offer buffered).
- loopback_only (tests only): while *this* peer connection gathers, it gathers 127.0.0.1 only
  (media/compat.py's `loopback_gathering`); remote candidates that are not 127.0.0.1 (or are
  `.local` mDNS names) are dropped, and connectivity checks from elsewhere are ignored.
- Admission in bounded batches: at most `join_batch` handshakes hold a slot at once
  (media/admission.py, first come first served; media/watch.py says when a slot is given back).
  One handshake per peer id: a new Peer of the same id cancels one not yet connected (its slot or
  queue place freed at once; `on_gone("replaced")`).
- Consent freshness (RFC 7675) is ours, not aioice's (media/consent.py says why): late answers
  count, and consent lapses only after `consent_lapse_s` with no answer and no authenticated
  traffic from the peer: `on_gone("consent expired")`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from aiortc import (
    RTCBundlePolicy,
    RTCConfiguration,
    RTCIceServer,
    RTCPeerConnection,
    RTCRtpReceiver,
    RTCRtpSender,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamTrack
from aiortc.rtcicetransport import RTCIceCandidate

from mirp.errors import Conflict, InvalidInput, InvalidSdp
from mirp.media import compat
from mirp.media.admission import AdmissionGate
from mirp.media.consent import PeerLiveness
from mirp.media.peer_video import VideoLine, add_video, bind_video
from mirp.media.sdp import (
    check_offer,
    is_loopback_candidate,
    loopback_only_sdp,
    parse_candidate,
    video_lines,
)
from mirp.media.track import FeedTrack, RtpBinding
from mirp.media.watch import PeerWatch, WatchLimits

log = logging.getLogger(__name__)

MAX_EARLY_CANDIDATES = 64

OnTrack = Callable[[RTCRtpReceiver, MediaStreamTrack], Any]
OnGone = Callable[[str], Any]


def _ice_servers(servers: Iterable[Any]) -> list[RTCIceServer]:
    out = []
    for s in servers:
        if isinstance(s, RTCIceServer):
            out.append(s)
            continue
        d = s if isinstance(s, Mapping) else s.model_dump() if hasattr(s, "model_dump") else vars(s)
        out.append(RTCIceServer(urls=list(d["urls"]), username=d.get("username"),
                                credential=d.get("credential")))
    return out


async def _drain(track: MediaStreamTrack) -> None:
    with contextlib.suppress(Exception):
        while True:
            await track.recv()




class PeerFactory:
    """Makes Peers with the configured ICE servers; owns the admission gate."""

    def __init__(self, ice_servers: Iterable[Any] = (), loopback_only: bool = False, *,
                 join_batch: int = 100, peer_timeout_s: float = 8.0,
                 handshake_timeout_s: float = 20.0, handshake_stall_s: float = 3.0,
                 consent_interval_s: float = 5.0, consent_lapse_s: float = 30.0) -> None:
        self.ice_servers = _ice_servers(ice_servers)
        self.loopback_only = loopback_only
        self.join_batch = max(1, join_batch)
        self.limits = WatchLimits(peer_timeout_s=peer_timeout_s,
                                  handshake_timeout_s=handshake_timeout_s,
                                  handshake_stall_s=handshake_stall_s)
        self.consent_interval_s = consent_interval_s
        self.consent_lapse_s = consent_lapse_s
        self.peers: dict[str, Peer] = {}
        self.closing: set[asyncio.Future[Any]] = set()  # closes of peers that ended themselves
        self.admission = AdmissionGate(self.join_batch)

    def create(self) -> RTCPeerConnection:
        """A bare peer connection with this factory's ICE servers; loopback_only: it gathers
        127.0.0.1 only (remote candidates are filtered by the Peer, not here)."""
        pc = RTCPeerConnection(RTCConfiguration(iceServers=list(self.ice_servers),
                                                bundlePolicy=RTCBundlePolicy.MAX_BUNDLE))
        if self.loopback_only:
            set_local = pc.setLocalDescription

            async def set_local_description(
                    description: RTCSessionDescription | None = None) -> None:
                with compat.loopback_gathering():
                    await set_local(description)

            pc.setLocalDescription = set_local_description  # type: ignore[method-assign,assignment]
        return pc

    def create_peer(self, peer_id: str) -> Peer:
        """A new Peer for this id. One handshake in flight per id: an old Peer of the same id
        that has not connected yet is cancelled (its slot or queue place freed now, its pending
        `accept_offer` raises Conflict, its owner hears on_gone("replaced"))."""
        old = self.peers.get(peer_id)
        if old is not None and not old.closed:
            if old.connected:
                log.warning("peer %s: a new peer connection replaces one still open", peer_id)
            else:
                old.gone("replaced")
        peer = Peer(self, peer_id)
        self.peers[peer_id] = peer
        return peer

    def _forget(self, peer: Peer) -> None:
        if self.peers.get(peer.peer_id) is peer:
            del self.peers[peer.peer_id]

    async def close(self) -> None:
        await asyncio.gather(*(p.close() for p in list(self.peers.values())),
                             *list(self.closing), return_exceptions=True)


class Peer:
    """One participant's peer connection: offer/answer, candidates, its tracks, close. Its
    `watch` (media/watch.py) holds the admission slot and ends it when it falls silent."""

    def __init__(self, factory: PeerFactory, peer_id: str) -> None:
        self.factory = factory
        self.peer_id = peer_id
        self.pc = factory.create()
        self.feed_track = FeedTrack()  # what we send; the fan-out drives it
        self.sender: RTCRtpSender | None = None
        self.receiver: RTCRtpReceiver | None = None
        self.track: MediaStreamTrack | None = None  # the participant's microphone, if any
        self.on_track: OnTrack | None = None
        # the camera: True when tapped by the forwarder, else the Peer drains it
        self.on_video_track: Callable[[RTCRtpReceiver], bool] | None = None
        self.video_track: MediaStreamTrack | None = None
        self.video_line: VideoLine | None = None  # the floor video goes down here
        self.partner_line: VideoLine | None = None  # the partner video (media/peer_video.py)
        self.on_gone: OnGone | None = None
        self.gone_reason: str | None = None
        self.closed = False
        self._offered = False
        self._applied = asyncio.Event()
        self._early: list[RTCIceCandidate | None] = []
        self.liveness = PeerLiveness(
            self.pc, interval_s=factory.consent_interval_s, lapse_s=factory.consent_lapse_s,
            loopback_only=factory.loopback_only, on_expired=lambda: self.gone("consent expired"))
        self.watch = PeerWatch(peer_id, self.pc, self.liveness, factory.admission, factory.limits,
                               self.gone)
        self._drain: asyncio.Future[None] | None = None
        self._tasks: set[asyncio.Future[Any]] = set()
        self.pc.on("connectionstatechange", self._on_state)

    @property
    def state(self) -> str:
        return str(self.pc.connectionState)

    @property
    def connected(self) -> bool:
        return self.watch.connected.is_set()

    def _ended(self) -> bool:
        return self.closed or self.gone_reason is not None

    # offer / answer

    async def accept_offer(self, sdp: str) -> str:
        """Apply the client's offer and return our answer (with all our candidates)."""
        if self.closed:
            raise InvalidSdp("peer connection is closed")
        if self._offered:
            raise InvalidSdp("an offer was already accepted; renegotiation is not supported")
        check_offer(sdp)
        self._offered = True
        if self.factory.loopback_only:
            sdp = loopback_only_sdp(sdp)
        await self.watch.admit(self._ended)
        try:
            transceiver = self.pc.addTransceiver(self.feed_track, direction="sendrecv")
            opus = [c for c in RTCRtpSender.getCapabilities("audio").codecs
                    if c.mimeType.lower() == "audio/opus"]
            transceiver.setCodecPreferences(opus)
            self.sender = transceiver.sender
            lines = video_lines(sdp)
            video = add_video(self.pc, "sendrecv") if lines else None
            partner = add_video(self.pc, "sendonly") if lines > 1 else None
            self.pc.on("track", self._on_remote_track(transceiver.receiver,
                                                      video.receiver if video else None))
            try:
                await self.pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
            except Exception as exc:  # aiortc raises ValueError/OperationError/… on bad offers
                raise InvalidSdp(f"offer refused: {exc}") from exc
            self._bind(transceiver)
            self.liveness.install()
            answer = await self.pc.createAnswer()
            await self.pc.setLocalDescription(answer)  # gathers (loopback only: see create())
            self.video_line = bind_video(video) if video is not None else None
            self.partner_line = bind_video(partner) if partner is not None else None
        except BaseException:
            self.watch.release()
            await self.close()
            raise
        if self._ended():
            raise Conflict("the peer connection was replaced while it was being set up")
        self._applied.set()
        early, self._early = self._early, []
        for candidate in early:
            try:
                await self._add_candidate(candidate)
            except InvalidInput as exc:  # the offer stands; one bad early candidate is dropped
                log.info("peer %s: early candidate refused: %s", self.peer_id, exc.message)
        self.watch.start()
        return str(self.pc.localDescription.sdp)

    def _bind(self, transceiver: Any) -> None:
        """Refuse an answer without Opus, and give the fan-out what it needs to write this
        sender's RTP itself (without: the fan-out's public path for this listener)."""
        codec = compat.negotiated_codec(transceiver) if compat.enabled("fanout") else None
        if codec is None:
            return  # setCodecPreferences offered Opus only, so the public path sends Opus
        mime, payload_type = codec
        if mime.lower() != "audio/opus":
            raise InvalidSdp("the offer has no Opus")
        self.feed_track.binding = RtpBinding(payload_type=payload_type, mid=transceiver.mid,
                                             extension=compat.mid_extension(transceiver))

    def _on_remote_track(self, receiver: RTCRtpReceiver, video_receiver: RTCRtpReceiver | None
                         ) -> Callable[[MediaStreamTrack], None]:
        def handler(track: MediaStreamTrack) -> None:
            if track.kind == "video" and video_receiver is not None \
                    and self.video_track is None:
                self.video_track = track
                tapped = False
                try:
                    tapped = bool(self.on_video_track and self.on_video_track(video_receiver))
                except Exception:
                    log.exception("peer %s: on_video_track failed", self.peer_id)
                if not tapped:
                    self._spawn(_drain(track))
                return
            if track.kind != "audio" or self.track is not None:
                return
            self.receiver, self.track = receiver, track
            if self.on_track is None:
                # nobody takes it: drain it anyway, an unread remote track grows forever
                self._drain = asyncio.ensure_future(_drain(track))
                return
            try:
                self.on_track(receiver, track)
            except Exception:
                log.exception("peer %s: on_track failed", self.peer_id)
        return handler

    # candidates

    async def add_remote_candidate(self, candidate: Mapping[str, Any] | str | None,
                                   sdp_mid: str | None = None,
                                   sdp_mline_index: int | None = None) -> None:
        """Add one trickled candidate (the browser's `candidate.toJSON()`), None = end."""
        parsed: RTCIceCandidate | None
        if candidate is None:
            parsed = None
        else:
            if isinstance(candidate, Mapping):
                sdp_mid = candidate.get("sdpMid", sdp_mid)
                sdp_mline_index = candidate.get("sdpMLineIndex", sdp_mline_index)
                text = candidate.get("candidate")
            else:
                text = candidate
            if not isinstance(text, str) or len(text) > 1024:
                raise InvalidInput("malformed ICE candidate")
            if (sdp_mid is not None and not isinstance(sdp_mid, str)) or (
                    sdp_mline_index is not None and (not isinstance(sdp_mline_index, int)
                                                     or isinstance(sdp_mline_index, bool))):
                raise InvalidInput("malformed ICE candidate: sdpMid / sdpMLineIndex")
            if not text.strip():
                parsed = None  # an empty candidate string is the browser's end-of-candidates
            else:
                parsed = parse_candidate(text, sdp_mid, sdp_mline_index)
                if sdp_mid is None and sdp_mline_index is None:
                    parsed.sdpMLineIndex = 0
                if self.factory.loopback_only and not is_loopback_candidate(text):
                    return  # not 127.0.0.1 or an mDNS name: aioice would only wait on it
        if self.closed:
            return
        if not self._applied.is_set():
            if len(self._early) >= MAX_EARLY_CANDIDATES:
                raise InvalidInput("too many ICE candidates before the offer")
            self._early.append(parsed)
            return
        await self._add_candidate(parsed)

    async def _add_candidate(self, candidate: RTCIceCandidate | None) -> None:
        try:
            await self.pc.addIceCandidate(candidate)
        except Exception as exc:
            raise InvalidInput(f"ICE candidate refused: {exc}") from exc

    # lifecycle

    def _on_state(self) -> None:
        state = self.pc.connectionState
        if state == "connected":
            self.watch.on_connected()
        elif state in ("failed", "closed"):
            self.watch.release()
            self.gone(state)

    def gone(self, reason: str) -> None:
        """The remote side ended, vanished or was replaced: tell the owner once, then close."""
        if self._ended():
            return
        self.gone_reason = reason
        self.watch.release()  # now, not when the close task runs
        log.info("peer %s gone: %s", self.peer_id, reason)
        if self.on_gone is not None:
            try:
                result = self.on_gone(reason)
                if isinstance(result, Awaitable):
                    self._spawn(result)
            except Exception:
                log.exception("peer %s: on_gone failed", self.peer_id)
        closing = self._spawn(self.close())
        self.factory.closing.add(closing)
        closing.add_done_callback(self.factory.closing.discard)

    def _spawn(self, aw: Awaitable[Any]) -> asyncio.Future[Any]:
        task = asyncio.ensure_future(aw)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def wait_connected(self, within_s: float) -> None:
        await asyncio.wait_for(self.watch.connected.wait(), within_s)

    async def close(self) -> None:
        """Close the peer connection (idempotent). The owner's close does not call on_gone."""
        if self.closed:
            return
        self.closed = True
        self.watch.stop()
        self.factory._forget(self)
        self.feed_track.stop()
        for line in (self.video_line, self.partner_line):
            if line is not None and line.sender.track is not None:
                line.sender.track.stop()
        if self._drain is not None:
            self._drain.cancel()
        try:
            await self.pc.close()
        except Exception:
            log.exception("peer %s: close failed", self.peer_id)
