"""The partner video in Chromium: an interpreter's console shows the booth partner's camera,
small, beside the speaker's, once asked for, and nothing once hidden.

Each camera plays a solid picture of its own brightness (tests/browser/test_video.py's .y4m
files); the page draws each video into a canvas and the test reads the brightness, so whose
video is in which box can be told. Screenshots go to the screenshots folder."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.wait import Seen

from .conftest import assert_no_refusals, join, save_screenshot_dir, until
from .test_video import BRIGHTNESS, SHOW_S, write_y4m

pytestmark = pytest.mark.browser

CHAIR, PARTNER, ME = 60, 200, 130  # luma of the cameras: the chair's, fr2's, fr1's own



async def shows(p: Any, box: str, luma: int) -> float | Seen:
    value = await p.page.evaluate(BRIGHTNESS, box)
    if value is not None and abs(value - luma) < 30:
        return float(value)
    return Seen({"box": box, "brightness": value})


async def test_the_console_shows_the_booth_partner_small_when_asked(server, api, launch, tones,
                                                                    silence, tmp_path):
    api.organizer()
    m = api.meeting()
    cams = {luma: write_y4m(tmp_path / f"cam-{luma}.y4m", luma) for luma in (CHAIR, PARTNER, ME)}
    chair = await join(await launch(tones(350), camera=cams[CHAIR]),
                       api.invite(m["id"], "chair", "Chair Person"))
    fr1 = await join(await launch(silence, camera=cams[ME]),
                     api.invite(m["id"], "interpreter", "Ines Interprète", booth="fr"))
    fr2 = await join(await launch(silence, camera=cams[PARTNER]),
                     api.invite(m["id"], "interpreter", "Paul Partenaire", booth="fr"))

    await until(lambda: shows(fr1, "#floor-video", CHAIR), "the console to show the chair",
                SHOW_S)
    assert await fr1.page.is_visible("#partner-video .video-caption")  # hidden until asked
    await fr1.page.click("#partner-toggle")
    await until(lambda: shows(fr1, "#partner-video", PARTNER),
                "the console to show the booth partner, small", SHOW_S)
    assert await shows(fr1, "#floor-video", CHAIR)  # the speaker's video unchanged, large
    assert await fr1.page.get_attribute("#partner-toggle", "aria-pressed") == "true"
    assert not await fr2.page.evaluate(BRIGHTNESS, "#partner-video")  # fr2 did not ask
    shots = save_screenshot_dir()
    await fr1.page.screenshot(path=str(shots / "video-console-partner.png"))

    await fr1.page.click("#partner-toggle")
    await until(lambda: fr1.page.is_visible("#partner-video .video-caption"),
                "the caption saying the partner video is hidden")
    assert await fr1.page.evaluate(BRIGHTNESS, "#partner-video") is None
    await assert_no_refusals(chair, fr1, fr2)


NO_CAMERA = """(() => {
  const md = navigator.mediaDevices, original = md.getUserMedia.bind(md);
  md.getUserMedia = (c) => c && c.video
    ? Promise.reject(new DOMException("refused", "NotAllowedError")) : original(c);
})();"""


async def test_the_chair_sees_who_would_speak_audio_only(server, api, launch, tones, silence,
                                                         tmp_path):
    api.organizer()
    m = api.meeting()
    chair = await join(await launch(tones(350), camera=write_y4m(tmp_path / "c.y4m", CHAIR)),
                       api.invite(m["id"], "chair", "Chair Person"))
    with_cam = await join(await launch(silence, camera=write_y4m(tmp_path / "d.y4m", ME)),
                          api.invite(m["id"], "delegate", "Cam Delegate"))
    page = await launch(tones(610))
    await page.add_init_script(NO_CAMERA)  # the camera prompt refused
    without = await join(page, api.invite(m["id"], "delegate", "Nocam Delegate"))
    me = await without.state()
    other = await with_cam.state()

    async def marked() -> bool | Seen:
        ids = await chair.page.eval_on_selector_all(
            "[data-audio-only]", "els => els.map((e) => e.dataset.audioOnly)")
        return ids == [me["me"]] or Seen(ids)
    await until(marked, "the chair's list to mark the delegate without a camera, only them")
    assert other["me"] != me["me"]
    text = await chair.page.text_content(f"[data-audio-only='{me['me']}']")
    assert text and "Audio only" in text
    shots = save_screenshot_dir()
    await chair.page.screenshot(path=str(shots / "video-chair-audio-only.png"))
    await assert_no_refusals(chair, with_cam, without)
