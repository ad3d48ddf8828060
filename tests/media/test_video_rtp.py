"""The video forwarder's pure parts (media/video_rtp.py) on real VP8 packets from libvpx, and
the `video_forward` self-check (media/compat.py)."""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction

import av
import pytest
from aiortc import RTCRtpReceiver
from aiortc.codecs import get_encoder
from aiortc.rtcrtpparameters import RTCRtpCodecParameters

from mirp.media import compat, wire
from mirp.media.plan import FeedKey, MixPlan
from mirp.media.video_rtp import (
    SWITCH_TS_STEP,
    PacketCache,
    Rewriter,
    TokenBucket,
    vp8_keyframe_start,
)
from tests.media.video_peer import VIDEO_CLOCK, draw

VP8 = RTCRtpCodecParameters(mimeType="video/VP8", clockRate=VIDEO_CLOCK, payloadType=96)


def vp8_frames(count: int, keyframe_at: int | None = None) -> list[list[bytes]]:
    """`count` frames through aiortc's VP8 encoder: each frame's RTP payloads."""
    encoder = get_encoder(VP8)
    out = []
    for n in range(count):
        frame = av.VideoFrame.from_ndarray(draw(1, n), format="gray")
        frame.pts, frame.time_base = n * 6000, Fraction(1, VIDEO_CLOCK)
        payloads, _ts = encoder.encode(frame, force_keyframe=(n == keyframe_at))
        out.append(payloads)
    return out


def test_keyframes_are_told_from_delta_frames_on_real_vp8() -> None:
    frames = vp8_frames(6, keyframe_at=4)
    starts = [vp8_keyframe_start(payloads[0]) for payloads in frames]
    assert starts == [True, False, False, False, True, False]
    # only the first packet of a frame starts it
    assert not any(vp8_keyframe_start(p) for payloads in frames for p in payloads[1:])
    assert not vp8_keyframe_start(b"") and not vp8_keyframe_start(b"\x90")


def test_a_switch_waits_for_the_keyframe_and_keeps_one_stream() -> None:
    rw = Rewriter(ssrc=7, payload_type=100, seq=65534)
    rw.want("a")
    assert not rw.accept("a", 1000, keyframe=False)  # nothing before a's keyframe
    assert rw.accept("a", 1000, keyframe=True)
    first = rw.header(1000, marker=False, extension=False)
    assert rw.accept("a", 4000, keyframe=False)
    rw.header(4000, marker=True, extension=False)
    rw.want("b")
    assert rw.accept("a", 7000, keyframe=False)  # the old source until b's keyframe
    rw.header(7000, marker=True, extension=False)
    assert not rw.accept("b", 50_000_000, keyframe=False)
    assert rw.accept("b", 50_000_000, keyframe=True)
    last = rw.header(50_000_000, marker=True, extension=True)
    assert first[1] == 100 and last[1] == 0x80 | 100 and last[0] == 0x90
    assert int.from_bytes(first[2:4]) == 65534 and int.from_bytes(last[2:4]) == 1  # wraps
    ts = [int.from_bytes(h[4:8]) for h in (first, last)]
    assert ts[1] - ts[0] == 6000 + SWITCH_TS_STEP  # continuous: one step past a's last frame
    assert int.from_bytes(last[8:12]) == 7
    rw.want(None)
    assert not rw.accept("b", 50_003_000, keyframe=False)


def test_the_cache_and_the_budget_are_bounded() -> None:
    cache = PacketCache(size=3)
    for seq in range(5):
        cache.put(seq, bytes([seq]))
    assert cache.get(1) is None and cache.get(4) == b"\x04"
    bucket = TokenBucket(rate=10, burst=2)
    assert [bucket.take(0.0) for _ in range(3)] == [True, True, False]
    assert bucket.take(0.1) and not bucket.take(0.1)


def test_the_plan_carries_the_floor_video_across_the_process_wire() -> None:
    plan = MixPlan.of({FeedKey("floor"): (("a", 1.0),)}, video={"v": "a", "w": "a"})
    assert wire.plan_from_wire(wire.plan_to_wire(plan), wire.plan_video_to_wire(plan)) == plan
    assert not wire.plan_from_wire(wire.plan_to_wire(plan)).video  # an older parent


@pytest.fixture
def decide_again(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    yield monkeypatch
    monkeypatch.undo()
    assert compat.self_check(fresh=True).all_on


def test_a_missing_rtcp_internal_turns_video_forwarding_off(
        decide_again: pytest.MonkeyPatch) -> None:
    decide_again.delattr(RTCRtpReceiver, "_send_rtcp_pli")
    check = compat.self_check(fresh=True)
    assert not check.on("video_forward") and check.on("receive_tap") and check.on("fanout")
    reason = next(f.reason for f in check.features if f.name == "video_forward")
    assert "_send_rtcp_pli" in reason, reason
    assert compat.tap_video_receiver(object(), lambda p: None) is None  # type: ignore[arg-type]
