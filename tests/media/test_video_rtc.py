"""The floor video with real aiortc peers over loopback, through the LocalPlane.

Publishers send synthetic VP8 (their tag and a frame counter drawn into each frame) and a tone;
viewers decode what the plane forwards and read tag and counter back. The plane never decodes:
it taps the publishers' receivers and rewrites each packet per viewer (media/video.py).
Times (switch, longest gap) are measured and printed, never asserted.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from itertools import pairwise

import pytest

from mirp.media.local import LocalPlane
from mirp.media.plan import FeedKey, MixPlan
from mirp.media.plane import PlaneConfig
from tests.media.video_peer import VideoPeer
from tests.support.wait import Seen, until

pytestmark = pytest.mark.rtc

FLOOR = FeedKey("floor")


class Rig:
    def __init__(self, **config: int) -> None:
        self.plane = LocalPlane(PlaneConfig(loopback_only=True, **config))  # type: ignore[arg-type]
        self.peers: dict[str, VideoPeer] = {}

    async def join(self, peer_id: str, tone_hz: float | None = None,
                   camera_tag: int | None = None) -> VideoPeer:
        peer = VideoPeer(tone_hz, camera_tag=camera_tag, name=peer_id)
        self.peers[peer_id] = peer
        await peer.connect(lambda sdp: self.plane.offer(peer_id, sdp))
        await peer.wait_connected()
        return peer

    def video(self, floor: str | None, off: tuple[str, ...] = ()) -> None:
        """The floor's voice and its video (audio is mixed, video forwarded: one plan)."""
        feeds = {FLOOR: ((floor, 1.0),)} if floor is not None else {}
        video = {} if floor is None else {
            pid: floor for pid in self.peers if pid != floor and pid not in off}
        self.plane.apply(MixPlan.of(feeds, video=video))

    async def close(self) -> None:
        for peer in self.peers.values():
            await peer.close()
        await self.plane.close()


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    r = Rig()
    await r.plane.start()
    try:
        yield r
    finally:
        await r.close()


def longest_gap(arrivals: list[float]) -> float:
    return max((b - a for a, b in pairwise(arrivals)), default=0.0)


async def wait_tag(peer: VideoPeer, tag: int, frames: int = 5, since: float = 0.0,
                   within: float = 15.0) -> float:
    """Until `frames` frames of `tag` arrived after `since`: the arrival of the first."""
    def seen() -> float | Seen:
        got = peer.frames_of(tag, since)
        return got[0].arrival if len(got) >= frames else Seen(
            f"{len(got)} frames of tag {tag}; last {peer.frames_seen[-1:]}")

    result: float = await until(seen, f"{peer.name}: frames of publisher {tag}", within)
    return result


async def test_floor_video_follows_the_floor_continuously(rig: Rig) -> None:
    a = await rig.join("a", 440, camera_tag=1)
    b = await rig.join("b", 660, camera_tag=2)
    viewer = await rig.join("v")
    rig.video("a")
    await wait_tag(viewer, 1)
    await wait_tag(b, 1)  # a publisher sees the floor video too
    counters = [f.counter for f in viewer.frames_of(1)]
    assert len(set(counters)) > 3, counters  # frames move on: the counter is read back

    switched = time.monotonic()
    rig.video("b")
    first = await wait_tag(viewer, 2, since=switched)
    await wait_tag(a, 2, since=switched)
    seen_from = time.monotonic()
    await until(lambda: len(viewer.frames_of(2, seen_from)) >= 10 or Seen(
        len(viewer.frames_of(2, seen_from))), "frames after the switch")
    window = [f.arrival for f in viewer.frames_seen if f.arrival >= switched - 1.0]
    print(f"\nswitch -> first frame of the new speaker: {(first - switched) * 1000:.0f} ms; "
          f"longest gap between frames around the switch: {longest_gap(window) * 1000:.0f} ms")
    assert viewer.frames_of(2, first)[-1].counter != viewer.frames_of(2, first)[0].counter

    # one continuous stream: one SSRC, sequence numbers +1, timestamps forward
    rtp = viewer.video_rtp
    assert len({p.ssrc for p in rtp}) == 1
    steps = {(q.sequence_number - p.sequence_number) & 0xFFFF for p, q in pairwise(rtp)}
    assert steps == {1}, steps
    ts_steps = [(q.timestamp - p.timestamp) & 0xFFFFFFFF for p, q in pairwise(rtp)]
    assert all(step < 90_000 for step in ts_steps), max(ts_steps)
    stats = (await rig.plane.stats()).video
    assert stats["plis_sent"] >= 1 and stats["publishers"] == 2 and stats["viewers"] == 3


async def test_video_off_viewers_get_no_video_packets(rig: Rig) -> None:
    await rig.join("a", 440, camera_tag=3)
    on = await rig.join("on")
    off = await rig.join("off")
    rig.video("a", off=("off",))
    rig.plane.listen("off", FLOOR)
    await wait_tag(on, 3)
    await off.wait_recorded(0.5)  # the speaker is heard: the audio m-line flows
    await wait_tag(on, 3, frames=20)
    assert off.video_rtp == [] and rig.plane.video.viewer_packets("off") == 0

    rig.video("a")  # video on again: frames from the next keyframe on
    await wait_tag(off, 3)
    turned_off = time.monotonic()
    rig.video("a", off=("off",))
    sent = rig.plane.video.viewer_packets("off")  # the plan applies at once: nothing after it
    await wait_tag(on, 3, frames=15, since=turned_off)
    assert rig.plane.video.viewer_packets("off") == sent, "video packets sent after video off"
    # each packet the viewer got was one of those (its sequence numbers run 0, 1, ... sent - 1)
    assert max(p.sequence_number for p in off.video_rtp) < sent


async def test_a_viewer_asking_for_keyframes_does_not_raise_the_publishers_rate() -> None:
    rig = Rig(video_bitrate_cap=300_000)
    await rig.plane.start()
    try:
        pub = await rig.join("a", 440, camera_tag=5)
        bad = await rig.join("bad")
        good = await rig.join("good")
        rig.video("a")
        await wait_tag(bad, 5)
        await wait_tag(good, 5)
        sender_ssrc = bad.video_rtp[-1].ssrc
        receiver = bad.video.receiver
        before = pub.keyframe_requests
        start = time.monotonic()
        asks = 0
        while time.monotonic() - start < 2.0:
            await receiver._send_rtcp_pli(sender_ssrc)
            recent = [p.sequence_number for p in bad.video_rtp[-100:]]
            await receiver._send_rtcp_nack(sender_ssrc, recent)
            asks += 1
            await wait_tag(good, 5, frames=1, since=time.monotonic())  # paced by the frames
        elapsed = time.monotonic() - start
        await until(lambda: rig.plane.video.stats()["plis_from_viewers"] >= asks or Seen(
            rig.plane.video.stats()), "the viewer's PLIs reached the forwarder")
        got = pub.keyframe_requests - before
        limit = elapsed / rig.plane.video.pli_interval_s + 2
        stats = rig.plane.video.stats()
        print(f"\n{asks} PLIs and NACK lists from one viewer in {elapsed:.1f} s -> "
              f"{got} keyframe requests to the publisher; {stats}")
        assert stats["nacks_refused"] > 0  # the rest were over the viewer's retransmit budget
        assert got <= limit, (got, limit)
        assert 0 < stats["nacks_answered"] <= rig.plane.video.retransmits_per_s * elapsed + 50
        await wait_tag(good, 5, frames=10, since=time.monotonic())  # the others still see
        # the cap reached the publisher's encoder (a REMB; aiortc's VP8 encoder obeys it)
        encoder = pub.video.sender._RTCRtpSender__encoder  # type: ignore[attr-defined]
        await until(lambda: encoder.target_bitrate == 300_000 or Seen(encoder.target_bitrate),
                    "the publisher's encoder capped")
    finally:
        await rig.close()
