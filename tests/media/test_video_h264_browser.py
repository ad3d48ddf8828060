"""Chromium as the viewer of a floor that switches between an H.264 and a VP8 camera.

aiortc's own receiver decodes whatever payload type arrives; Chromium is the receiver that
matters. Its video m-line negotiates VP8 and H.264 (its own order), the plane forwards an aiortc
H.264 publisher, then a VP8 one, on one SSRC, the payload type switched with the keyframe
(media/video.py). The page draws each decoded frame into a canvas; the test reads the
publisher's tag back (tests/media/video_peer.py) and the codec Chromium says it decodes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import numpy as np
import pytest

from mirp.media.local import LocalPlane
from mirp.media.plan import MixPlan
from mirp.media.plane import PlaneConfig
from mirp.media.video_rtp import H264, VP8
from tests.media.test_fanout_browser import CHROMIUM, page  # noqa: F401 - the page fixture
from tests.media.test_video_h264 import prefer
from tests.media.video_peer import HEIGHT, WIDTH, VideoPeer, read
from tests.support.wait import Seen, until

pytestmark = [
    pytest.mark.browser,
    pytest.mark.timeout(120),
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed"),
]

OFFER_JS = """async () => {
  const caps = RTCRtpReceiver.getCapabilities("video").codecs.map((c) => c.mimeType.toLowerCase());
  if (!caps.includes("video/h264")) return null;
  const pc = new RTCPeerConnection({iceServers: [], bundlePolicy: "max-bundle"});
  window.pc = pc;
  pc.addTransceiver("audio", {direction: "recvonly"});
  pc.addTransceiver("video", {direction: "recvonly"});
  pc.ontrack = (ev) => {
    if (ev.track.kind !== "video") return;
    const v = document.createElement("video");
    v.muted = true; v.autoplay = true; v.playsInline = true;
    v.srcObject = new MediaStream([ev.track]);
    document.body.append(v); v.play().catch(() => {});
    window.video = v;
  };
  await pc.setLocalDescription(await pc.createOffer());
  await new Promise((ok) => {
    if (pc.iceGatheringState === "complete") return ok();
    pc.onicegatheringstatechange = () => pc.iceGatheringState === "complete" && ok();
    setTimeout(ok, 3000);
  });
  return pc.localDescription.sdp;
}"""

# the current frame, gray, at the publishers' size (R of RGBA: the frames are gray)
FRAME_JS = f"""() => {{
  const v = window.video;
  if (!v || !v.videoWidth) return null;
  const c = document.createElement("canvas");
  c.width = {WIDTH}; c.height = {HEIGHT};
  const g = c.getContext("2d");
  g.drawImage(v, 0, 0, {WIDTH}, {HEIGHT});
  const d = g.getImageData(0, 0, {WIDTH}, {HEIGHT}).data;
  const out = new Array({WIDTH * HEIGHT});
  for (let i = 0; i < out.length; i++) out[i] = d[i * 4];
  return out;
}}"""

CODEC_JS = """async () => {
  const out = {};
  const codecs = {};
  (await window.pc.getStats()).forEach((s) => {
    if (s.type === "codec") codecs[s.id] = s.mimeType.toLowerCase();
    if (s.type === "inbound-rtp" && s.kind === "video") Object.assign(out, {
      codec: s.codecId, decoded: s.framesDecoded, keyframes: s.keyFramesDecoded});
  });
  out.codec = codecs[out.codec] || null;
  return out;
}"""


@pytest.fixture
async def plane() -> AsyncIterator[LocalPlane]:
    p = LocalPlane(PlaneConfig(loopback_only=True))
    await p.start()
    try:
        yield p
    finally:
        await p.close()


async def shows(tab: Any, tag: int, codec: str) -> Any:
    frame = await tab.evaluate(FRAME_JS)
    stats = await tab.evaluate(CODEC_JS)
    if frame is None:
        return Seen(stats)
    seen, _counter = read(np.array(frame, dtype=np.uint8).reshape(HEIGHT, WIDTH))
    return (seen == tag and stats.get("codec") == codec) or Seen({"tag": seen, **stats})


async def test_chromium_follows_the_floor_from_an_h264_to_a_vp8_camera(
        page: Any, plane: LocalPlane) -> None:  # noqa: F811 - the page fixture
    offer = await page.evaluate(OFFER_JS)
    if offer is None:
        pytest.skip("this Chromium has no H.264")
    publishers = []
    for peer_id, tag, codec in (("h", 6, H264), ("v", 9, VP8)):
        peer = VideoPeer(camera_tag=tag, name=peer_id)
        prefer(peer, codec)
        publishers.append(peer)
        await peer.connect(lambda sdp, pid=peer_id: plane.offer(pid, sdp))
    try:
        answer = await plane.offer("chromium", offer)
        await page.evaluate("(sdp) => window.pc.setRemoteDescription({type: 'answer', sdp})",
                            answer)
        for peer in publishers:
            await peer.wait_connected()
        line = plane.factory.peers["chromium"].video_line
        assert line is not None and {VP8, H264} <= set(line.payload_types), line

        plane.apply(MixPlan.of(video={"chromium": "h"}))
        await until(lambda: shows(page, 6, H264), "Chromium shows the H.264 camera", 30)
        plane.apply(MixPlan.of(video={"chromium": "v"}))
        await until(lambda: shows(page, 9, VP8), "Chromium shows the VP8 camera", 30)
        plane.apply(MixPlan.of(video={"chromium": "h"}))
        await until(lambda: shows(page, 6, H264), "Chromium shows the H.264 camera again", 30)
        stats = await page.evaluate(CODEC_JS)
        print(f"\nChromium: {stats}; forwarder: {plane.video.stats()}")
    finally:
        for peer in publishers:
            await peer.close()
