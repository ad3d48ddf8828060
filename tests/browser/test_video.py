"""The floor video in Chromium: the console and the delegate page show the speaker's camera,
forwarded by the server (never re-encoded), and "video off" stops the packets.

Each camera plays a solid picture of its own brightness (a .y4m file); a viewer's page draws its
floor video into a canvas and the test reads the brightness, so whose video it is can be told.
Screenshots go to the screenshots folder to be looked at."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.wait import Seen

from .conftest import assert_no_refusals, join, save_screenshot_dir, until

pytestmark = pytest.mark.browser

DARK, BRIGHT = 60, 200  # luma of the chair's and the speaking delegate's cameras

BRIGHTNESS = """(box) => {
  const v = document.querySelector(box + ' video');
  if (!v || v.hidden || !v.videoWidth) return null;
  const c = document.createElement('canvas');
  c.width = 32; c.height = 18;
  const g = c.getContext('2d');
  g.drawImage(v, 0, 0, 32, 18);
  const d = g.getImageData(0, 0, 32, 18).data;
  let sum = 0;
  for (let i = 0; i < d.length; i += 4) sum += (d[i] + d[i + 1] + d[i + 2]) / 3;
  return sum / (d.length / 4);
}"""  # the mean luma of the video in `box` (test_video_partner.py too), null while none shows

VIDEO_STATS = """async () => {
  const mod = await import('/js/live.js');
  const pc = mod.liveSession()?.rtc.pc;
  if (!pc) return null;
  const out = {packets: 0, frames_decoded: 0, keyframes: 0, plis: 0, nacks: 0};
  (await pc.getStats()).forEach((s) => {
    if (s.type !== 'inbound-rtp' || s.kind !== 'video') return;
    out.packets += s.packetsReceived || 0;
    out.frames_decoded += s.framesDecoded || 0;
    out.keyframes += s.keyFramesDecoded || 0;
    out.plis += s.pliCount || 0;
    out.nacks += s.nackCount || 0;
  });
  out.ice = pc.iceConnectionState;
  return out;
}"""
VIDEO_PACKETS = "async () => ((await (" + VIDEO_STATS + ")()) || {}).packets ?? null"


def write_y4m(path: Path, luma: int, frames: int = 10) -> Path:
    """A 320x180 camera of one flat gray (a fake capture file Chromium loops)."""
    w, h = 320, 180
    frame = b"FRAME\n" + bytes([luma]) * (w * h) + bytes([128]) * (w * h // 2)
    path.write_bytes(f"YUV4MPEG2 W{w} H{h} F15:1 Ip A1:1 C420jpeg\n".encode() + frame * frames)
    return path


SHOW_S = 45.0  # a viewer needs its publisher's keyframe: on a loaded machine that may take long


async def shows(p, luma: int) -> float | Seen:
    value = await p.page.evaluate(BRIGHTNESS, '#floor-video')
    if value is not None and abs(value - luma) < 40:
        return float(value)
    return Seen({"brightness": value, "video": await p.page.evaluate(VIDEO_STATS)})


# Run after the heavier browser modules (or on a loaded machine) the delegate page, the last to
# join, used to get no video packet at all: the keyframe the server asked for it went by while
# its DTLS was still connecting, and nobody asked again (media/video.py `_ask_again_when_ready`;
# tests/media/test_video_forwarder.py has the rule without a browser).
async def test_console_and_delegate_page_show_the_speaker(server, api, launch, tones, silence,
                                                          tmp_path):
    api.organizer()
    m = api.meeting()
    dark, bright = write_y4m(tmp_path / "dark.y4m", DARK), write_y4m(tmp_path / "bright.y4m",
                                                                      BRIGHT)
    chair = await join(await launch(tones(350), camera=dark),
                       api.invite(m["id"], "chair", "Chair Person"))
    speaker = await join(await launch(tones(610), camera=bright),
                         api.invite(m["id"], "delegate", "Dev Delegate", delegation="Kenya"))
    interp = await join(await launch(silence),
                        api.invite(m["id"], "interpreter", "Ines Interprète", booth="fr"))
    listener = await join(await launch(silence),
                          api.invite(m["id"], "delegate", "Lena Listener"))

    # nobody holds the floor: the chair's camera is the floor video
    await until(lambda: shows(interp, DARK), "the console to show the chair's camera", SHOW_S)
    await until(lambda: shows(listener, DARK), "the delegate page to show the chair's camera",
                SHOW_S)

    await speaker.page.click("#request-floor")
    await chair.page.wait_for_selector("[data-give]", timeout=15000)
    await chair.page.click("[data-give]")
    await until(lambda: shows(interp, BRIGHT), "the console to show the speaker's camera", SHOW_S)
    await until(lambda: shows(listener, BRIGHT), "the delegate page to show the speaker", SHOW_S)
    shots = save_screenshot_dir()
    await interp.page.screenshot(path=str(shots / "video-console.png"))
    await listener.page.screenshot(path=str(shots / "video-delegate.png"))

    # video off: the server sends this delegate no more video packets
    await listener.page.click("#video-toggle")
    await until(lambda: listener.page.is_visible("#floor-video .video-caption"),
                "the caption saying video is off")

    state: dict[str, int] = {}

    async def stopped() -> bool:
        n = await listener.page.evaluate(VIDEO_PACKETS)
        same = state.get("n") == n and state.get("same", 0) >= 10
        state["same"] = state.get("same", 0) + 1 if state.get("n") == n else 0
        state["n"] = n
        return same
    await until(stopped, "no more video packets at the delegate with video off")
    await until(lambda: shows(interp, BRIGHT), "the console still shows the speaker", SHOW_S)
    await listener.page.screenshot(path=str(shots / "video-delegate-off.png"))
    await assert_no_refusals(chair, speaker, interp, listener)
