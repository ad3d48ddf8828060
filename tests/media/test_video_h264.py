"""H.264 beside VP8: keyframes told on real libx264 packets, and a floor switching between an
H.264 and a VP8 publisher with aiortc peers over loopback, the viewer decoding both.

Why both codecs on every viewer's m-line (and not one codec per meeting): the answer keeps the
offer's order, so each browser's camera sends what it prefers; a viewer negotiated both, and
the forwarder writes each packet under the payload type the viewer's m-line gave its codec,
switching with the keyframe (a receiver decodes whichever negotiated payload type arrives).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from fractions import Fraction
from itertools import pairwise
from typing import Any

import av
import numpy as np
import pytest
from aiortc import RTCRtpSender
from aiortc.codecs import get_encoder
from aiortc.rtcrtpparameters import RTCRtpCodecParameters

from mirp.media.local import LocalPlane
from mirp.media.plan import MixPlan
from mirp.media.plane import PlaneConfig
from mirp.media.video_rtp import H264, VP8, h264_keyframe_start, keyframe_start
from tests.media.test_video_rtc import wait_tag
from tests.media.video_peer import VIDEO_CLOCK, VideoPeer
from tests.support.wait import Seen, until

H264_CODEC = RTCRtpCodecParameters(
    mimeType="video/H264", clockRate=VIDEO_CLOCK, payloadType=102,
    parameters={"packetization-mode": "1", "profile-level-id": "42e01f"})


def h264_frames(count: int, keyframe_at: int) -> list[list[bytes]]:
    """`count` noisy 320x240 frames through aiortc's H.264 encoder (libx264): each frame's RTP
    payloads. Noise, so frames are fragmented (FU-A) and parameter sets aggregated (STAP-A)."""
    encoder = get_encoder(H264_CODEC)
    rng = np.random.default_rng(1)
    out = []
    for n in range(count):
        img = rng.integers(0, 255, (240, 320), dtype=np.uint8)
        frame = av.VideoFrame.from_ndarray(img, format="gray").reformat(format="yuv420p")
        frame.pts, frame.time_base = n * 6000, Fraction(1, VIDEO_CLOCK)
        payloads, _ts = encoder.encode(frame, force_keyframe=(n == keyframe_at))
        out.append(payloads)
    return out


def test_h264_keyframes_are_told_from_delta_frames_on_real_libx264_packets() -> None:
    frames = h264_frames(6, keyframe_at=4)
    assert [h264_keyframe_start(payloads[0]) for payloads in frames] == \
        [True, False, False, False, True, False]
    types = {p[0] & 0x1F for payloads in frames for p in payloads}
    assert {24, 28} <= types, types  # STAP-A and FU-A both seen
    assert frames[0][0][0] & 0x1F == 24  # SPS and PPS aggregated before the IDR: start there
    # no packet of a delta frame starts a keyframe
    assert not any(h264_keyframe_start(p) for n in (1, 2, 3, 5) for p in frames[n])
    assert keyframe_start(H264, frames[4][0]) and not keyframe_start(VP8, frames[4][0])


def test_h264_payloads_by_hand() -> None:
    sps, pps, idr, slice_ = b"\x67\x42", b"\x68\xce", b"\x65\x88", b"\x41\x9a"

    def stap(*nals: bytes) -> bytes:
        return b"\x18" + b"".join(len(n).to_bytes(2, "big") + n for n in nals)

    assert h264_keyframe_start(sps) and h264_keyframe_start(idr)
    assert not h264_keyframe_start(pps) and not h264_keyframe_start(slice_)
    assert h264_keyframe_start(stap(pps, idr)) and not h264_keyframe_start(stap(slice_))
    assert not h264_keyframe_start(b"\x18\x00\x09\x67")  # a size past the end
    assert not h264_keyframe_start(b"\x18\x00\x00")  # an empty aggregate
    assert h264_keyframe_start(b"\x7c\x85") and not h264_keyframe_start(b"\x7c\x05")  # FU-A S
    assert not h264_keyframe_start(b"\x7c\x81") and not h264_keyframe_start(b"\x7c")
    assert not h264_keyframe_start(b"")


def prefer(peer: VideoPeer, mime: str) -> None:
    """The camera's m-line offers `mime` first (then the rest): what a browser preferring it
    does. The server keeps the offer's order, so the camera sends `mime`."""
    codecs = RTCRtpSender.getCapabilities("video").codecs
    peer.video.setCodecPreferences([c for c in codecs if c.mimeType.lower() == mime]
                                   + [c for c in codecs if c.mimeType.lower() != mime])


class Rig:
    def __init__(self) -> None:
        self.plane = LocalPlane(PlaneConfig(loopback_only=True))
        self.peers: dict[str, VideoPeer] = {}

    async def join(self, peer_id: str, camera_tag: int | None = None,
                   codec: str | None = None) -> VideoPeer:
        peer = VideoPeer(camera_tag=camera_tag, name=peer_id)
        if codec is not None:
            prefer(peer, codec)
        self.peers[peer_id] = peer
        await peer.connect(lambda sdp: self.plane.offer(peer_id, sdp))
        await peer.wait_connected()
        return peer

    def show(self, publisher: str) -> None:
        self.plane.apply(MixPlan.of(video={pid: publisher for pid in self.peers
                                           if pid != publisher}))


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    r = Rig()
    await r.plane.start()
    try:
        yield r
    finally:
        for peer in r.peers.values():
            await peer.close()
        await r.plane.close()


def sent_codec(peer: VideoPeer) -> str:
    sender: Any = peer.video.sender
    codec = sender._RTCRtpSender__encoder  # the encoder aiortc made for what was negotiated
    return type(codec).__name__


@pytest.mark.rtc
async def test_the_floor_switches_between_an_h264_and_a_vp8_camera(rig: Rig) -> None:
    h264 = await rig.join("h", camera_tag=6, codec=H264)
    vp8 = await rig.join("v", camera_tag=9, codec=VP8)
    viewer = await rig.join("viewer")  # offers both, VP8 first (aiortc's order)
    pts: list[int] = []
    receiver: Any = viewer.video.receiver
    original = receiver._handle_rtp_packet

    async def handle(packet: Any, arrival_time_ms: int) -> None:
        pts.append(packet.payload_type)
        await original(packet, arrival_time_ms=arrival_time_ms)

    receiver._handle_rtp_packet = handle
    line = rig.plane.factory.peers["viewer"].video_line
    assert line is not None
    viewer_types = line.payload_types
    assert {VP8, H264} <= set(viewer_types), viewer_types

    rig.show("h")
    await wait_tag(viewer, 6, frames=10)
    await until(lambda: sent_codec(h264) == "H264Encoder" or Seen(sent_codec(h264)),
                "the H.264 camera to send H.264")
    assert viewer_types[H264] in pts and viewer_types[VP8] not in pts
    await wait_tag(vp8, 6)  # a VP8 publisher watches an H.264 one

    switched = time.monotonic()
    rig.show("v")
    first = await wait_tag(viewer, 9, since=switched)
    await wait_tag(h264, 9, since=switched)  # and the other way round
    assert sent_codec(vp8) == "Vp8Encoder"
    assert viewer_types[VP8] in pts
    print(f"\nH.264 -> VP8 switch, first frame after {(first - switched) * 1000:.0f} ms")

    back = time.monotonic()
    rig.show("h")
    await wait_tag(viewer, 6, since=back)
    # one continuous stream across both codecs: one SSRC, sequence numbers +1
    rtp = viewer.video_rtp
    assert len({p.ssrc for p in rtp}) == 1
    steps = {(q.sequence_number - p.sequence_number) & 0xFFFF for p, q in pairwise(rtp)}
    assert steps == {1}, steps
    # the payload type changed only at a switch: one run per source shown
    runs = [a for a, b in pairwise(pts) if a != b]
    assert len(runs) == 2, runs
