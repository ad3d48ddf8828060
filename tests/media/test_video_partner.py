"""An interpreter's partner video with real aiortc peers over loopback: a Room decides, the
LocalPlane forwards.

Interpreters offer two video m-lines: their camera up and the floor video down on the first,
the partner video down on the second (answered `sendonly`). Every publisher draws its tag and a
frame counter into its frames; viewers decode both streams and read them back, so a frame
on the wrong stream is seen. The Room (tests/rooms/kit.py: booth `fr` holds fr1 and fr2, `de`
holds de1 alone) makes the plan, which the test hands to the plane as the runtime would.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiortc import RTCBundlePolicy
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from mirp.errors import InvalidSdp
from mirp.media.local import LocalPlane
from mirp.media.plan import partner_stream
from mirp.media.plane import PlaneConfig
from mirp.media.sdp import check_offer, video_lines
from mirp.rooms import commands as c
from tests.media.test_video_rtc import wait_tag
from tests.media.video_peer import FrameSeen, VideoPeer, read
from tests.rooms.kit import Kit
from tests.support.wait import Seen, until

pytestmark = pytest.mark.rtc

TAGS = {"d1": 3, "fr1": 1, "fr2": 2, "de1": 4}


class BoothPeer(VideoPeer):
    """A VideoPeer with a camera and a second, receive-only video m-line (the partner video):
    its RTP is counted and its frames decoded apart from the floor video's."""

    def __init__(self, name: str) -> None:
        super().__init__(camera_tag=TAGS[name], name=name)
        # on the audio's transport from the start: aiortc's default (balanced) would make it on
        # the camera's, which the answer's BUNDLE discards (media/peer.py says the same)
        config: Any = self.pc._RTCPeerConnection__configuration  # type: ignore[attr-defined]
        config.bundlePolicy = RTCBundlePolicy.MAX_BUNDLE
        self.partner = self.pc.addTransceiver("video", direction="recvonly")
        self.partner_rtp = 0
        self.partner_frames: list[FrameSeen] = []
        self._partner_reader: asyncio.Task[None] | None = None
        receiver: Any = self.partner.receiver
        original = receiver._handle_rtp_packet

        async def handle(packet: Any, arrival_time_ms: int) -> None:
            self.partner_rtp += 1
            await original(packet, arrival_time_ms=arrival_time_ms)

        receiver._handle_rtp_packet = handle

    def _on_video_track(self, track: MediaStreamTrack) -> None:
        if track is self.partner.receiver.track:
            self._partner_reader = asyncio.ensure_future(self._read_partner(track))
        else:
            super()._on_video_track(track)

    async def _read_partner(self, track: MediaStreamTrack) -> None:
        with contextlib.suppress(MediaStreamError, asyncio.CancelledError):
            while True:
                frame: Any = await track.recv()
                tag, counter = read(frame.to_ndarray(format="gray"))
                self.partner_frames.append(FrameSeen(time.monotonic(), tag, counter))

    async def close(self) -> None:
        if self._partner_reader is not None:
            self._partner_reader.cancel()
        await super().close()


class Booths:
    def __init__(self) -> None:
        self.kit = Kit()
        self.plane = LocalPlane(PlaneConfig(loopback_only=True))
        self.peers: dict[str, VideoPeer] = {}

    async def join(self, pid: str) -> Any:
        self.kit.join(pid)
        peer = BoothPeer(pid) if pid.startswith(("fr", "de")) else VideoPeer(
            camera_tag=TAGS[pid], name=pid)
        self.peers[pid] = peer
        await peer.connect(lambda sdp: self.plane.offer(pid, sdp))
        await peer.wait_connected()
        return peer

    def do(self, pid: str, command: c.Command) -> None:
        """The command, then the Room's plan to the plane (what the runtime does)."""
        self.kit.do(pid, command)
        self.plane.apply(self.kit.room.mix_plan())


@pytest.fixture
async def booths() -> AsyncIterator[Booths]:
    b = Booths()
    await b.plane.start()
    try:
        yield b
    finally:
        for peer in b.peers.values():
            await peer.close()
        await b.plane.close()


async def wait_partner(peer: BoothPeer, tag: int, frames: int = 5, since: float = 0.0) -> None:
    def seen() -> bool | Seen:
        got = [f for f in peer.partner_frames if f.tag == tag and f.arrival >= since]
        return len(got) >= frames or Seen(f"{len(got)} partner frames of {tag}; "
                                          f"last {peer.partner_frames[-1:]}")

    await until(seen, f"{peer.name}: partner frames of {tag}", 15.0)


async def test_the_partner_video_comes_small_beside_an_unchanged_floor_video(
        booths: Booths) -> None:
    booths.kit.join("ch")  # the chair, without a peer: d1 holds the floor
    await booths.join("d1")
    fr1 = await booths.join("fr1")
    fr2 = await booths.join("fr2")
    de1 = await booths.join("de1")
    booths.do("ch", c.FloorGive("d1"))
    booths.do("fr1", c.VideoSet(on=True, partner=True))
    booths.do("de1", c.VideoSet(on=True, partner=True))  # a booth of one: no partner

    await wait_partner(fr1, TAGS["fr2"])
    for peer in (fr1, fr2, de1):
        await wait_tag(peer, TAGS["d1"])
    await wait_tag(fr1, TAGS["d1"], frames=20)
    # each stream carries its own publisher only: the floor video is unaffected
    assert {f.tag for f in fr1.frames_seen} == {TAGS["d1"]}
    assert {f.tag for f in fr1.partner_frames} == {TAGS["fr2"]}
    counters = [f.counter for f in fr1.partner_frames]
    assert len(set(counters)) > 3, counters  # the partner's frames move on
    # a separate stream: its own SSRC, not the floor video's
    floor_ssrcs = {p.ssrc for p in fr1.video_rtp}
    partner_ssrc = booths.plane.video._viewers[partner_stream("fr1")].rewriter.ssrc
    assert len(floor_ssrcs) == 1 and partner_ssrc not in floor_ssrcs
    # who did not ask (fr2), and a booth of one (de1): not a packet on the partner m-line
    assert fr2.partner_rtp == 0 and de1.partner_rtp == 0
    assert booths.plane.video.viewer_packets(partner_stream("de1")) == 0
    assert de1.partner_frames == [] and fr2.partner_frames == []

    # partner off: no more packets, the floor video goes on
    booths.do("fr1", c.VideoSet(on=True, partner=False))
    sent = booths.plane.video.viewer_packets(partner_stream("fr1"))
    turned_off = time.monotonic()
    await wait_tag(fr1, TAGS["d1"], frames=15, since=turned_off)
    assert booths.plane.video.viewer_packets(partner_stream("fr1")) == sent
    assert fr1.partner_rtp <= sent

    # on again: frames from the partner's next keyframe on (the forwarder asks for one)
    again = time.monotonic()
    booths.do("fr1", c.VideoSet(on=True, partner=True))
    await wait_partner(fr1, TAGS["fr2"], since=again)
    assert {f.tag for f in fr1.frames_seen} == {TAGS["d1"]}


async def test_the_partner_m_line_is_answered_sendonly_and_a_third_video_is_refused() -> None:
    plane = LocalPlane(PlaneConfig(loopback_only=True))
    peer = BoothPeer("fr1")
    try:
        offer = await peer.offer()
        assert video_lines(offer) == 2
        third = offer + offer[offer.rindex("m=video"):]
        with pytest.raises(InvalidSdp, match="at most two video"):
            check_offer(third)
        answer = await plane.offer("fr1", offer)
        partner = answer[answer.rindex("m=video"):]
        assert "a=sendonly" in partner and "VP8" in partner
    finally:
        await peer.close()
        await plane.close()
