"""Issue 12, points 13-15 in Chromium: the pre-call audio test (a chime, then the microphone
recorded and played back), a microphone change on a live page that keeps the peer while the
server goes on hearing it, the original-audio volume slider, and "Partner (this booth)" in the
console. Frequencies by FFT (±15 Hz), levels relative to each other; every state polled for.
"""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import assert_no_refusals, join_all, until
from .test_audio import DELEGATE_HZ, FLOOR_HZ, FR2_HZ, FR_HZ, pick_channel
from .test_pages import shoot

pytestmark = pytest.mark.browser

LIVE = "import('/js/live.js').then((m) => m.liveSession())"


async def _played(page: Any, hz: float) -> dict[str, Any] | None:
    """What the audio test's own <audio> element plays, when its peak is at `hz`."""
    h = dict(await page.evaluate("() => window.mirpTest.played('#audiotest-audio', 1000)"))
    return h if abs(h["frequency"] - hz) <= 15 and h["level_db"] > -70 else None


async def test_audio_test_chimes_then_plays_back_the_microphone(server, api, launch, tones):
    api.organizer()
    m = api.meeting()
    page = await launch(tones(DELEGATE_HZ))
    await page.goto(api.invite(m["id"], "delegate", "Dev Delegate"))
    await page.wait_for_selector("#join-form:not([hidden])", timeout=15000)
    # a microphone remembered from last time that is gone now: the system's default opens
    await page.evaluate("() => localStorage.setItem('mirp.audio.mic', 'unplugged-headset')")
    await page.reload()
    await page.wait_for_selector("#join-form:not([hidden])", timeout=15000)
    await page.wait_for_selector("#mic-select option", state="attached")
    assert not await page.is_visible("#mic-error")
    # Chromium has setSinkId: the output is a choice, not the "use the system's output" note
    assert await page.is_visible("#out-select")
    assert not await page.is_visible("#out-note")

    # the speaker test: a two-note chime (660 then 880 Hz) on the chosen output
    await page.click("#test-speakers")

    async def chime() -> dict[str, Any] | None:
        h = dict(await page.evaluate("() => window.mirpTest.played('#audiotest-audio', 250)"))
        return h if min(abs(h["frequency"] - 660), abs(h["frequency"] - 880)) <= 15 else None
    await until(chime, "the chime at 660 or 880 Hz")
    await page.wait_for_selector("#test-speakers:not([disabled])")

    # record 5 s, then hear it back: the playback is the recording (a buffer, not the live
    # microphone), so it carries the fake microphone's tone
    await page.click("#test-record")
    await page.wait_for_selector("#test-status[data-phase='recording']")
    assert await page.is_disabled("#test-record")
    await page.wait_for_selector("#test-status[data-phase='playing']", timeout=15000)
    heard = await until(lambda: _played(page, DELEGATE_HZ), f"the playback at {DELEGATE_HZ} Hz")
    assert abs(heard["frequency"] - DELEGATE_HZ) <= 15
    # the playback meter moves while it plays
    width = await page.eval_on_selector("#playback-fill", "e => parseFloat(e.style.width || '0')")
    assert width > 0, width
    await page.wait_for_selector("#test-status[data-phase='done']", timeout=15000)
    assert not await page.is_disabled("#test-record")
    # the chosen microphone is remembered for this browser, and the join goes on as before
    assert await page.evaluate("() => localStorage.getItem('mirp.audio.mic')") not in (
        None, "unplugged-headset")
    await shoot(page, "audio-join")
    await page.click("#join-btn")
    await page.wait_for_url("**/delegate.html", timeout=15000)


async def test_microphone_change_keeps_the_peer_and_the_floor_hears_on(
        server, api, launch, tones, silence):
    api.organizer()
    m = api.meeting()
    chair, delegate, listener = await join_all(
        launch,
        (silence, api.invite(m["id"], "chair", "Chair Person")),
        (tones(DELEGATE_HZ), api.invite(m["id"], "delegate", "Dev Delegate")),
        (silence, api.invite(m["id"], "delegate", "Lena Listener")))
    await pick_channel(listener, "floor")
    await delegate.page.click("#request-floor")
    await chair.page.click("[data-give]")
    await delegate.page.click("#self-mute")
    await delegate.page.wait_for_selector("#mic-live:not(.muted)")
    await until(lambda: listener.hears(DELEGATE_HZ), "the listener to hear the delegate")

    page = delegate.page
    before = await page.evaluate(f"""() => {LIVE}.then((l) => {{
        window.__pc = l.rtc.pc;
        return {{track: l.rtc.mic.getAudioTracks()[0].id, session: l.state.sessionId,
                 welcomes: l.state.welcomes}};
    }})""")
    await page.click("#devices-panel > summary")
    await page.wait_for_selector("#dev-mic option", state="attached")
    options = await page.eval_on_selector_all("#dev-mic option", "os => os.map((o) => o.value)")
    current = await page.eval_on_selector("#dev-mic", "s => s.value")
    others = [o for o in options if o != current]
    assert others, f"Chromium's fake devices offer one microphone only: {options}"
    await page.select_option("#dev-mic", others[0])

    async def switched() -> dict[str, Any] | None:
        s = await page.evaluate(f"""() => {LIVE}.then((l) => {{
            const track = l.rtc.mic.getAudioTracks()[0];
            const sender = l.rtc.pc.getSenders()[0];
            return {{track: track.id, live: track.readyState, enabled: track.enabled,
                     sent: sender.track && sender.track.id, same_pc: l.rtc.pc === window.__pc,
                     session: l.state.sessionId, welcomes: l.state.welcomes,
                     device: track.getSettings().deviceId}};
        }})""")
        return s if s["track"] != before["track"] and s["sent"] == s["track"] else None
    after = await until(switched, "the new microphone's track on the same sender")
    # the same peer and the same Session: replaceTrack, no new offer, no reconnect
    assert after["same_pc"] and after["session"] == before["session"], (before, after)
    assert after["welcomes"] == before["welcomes"] and after["enabled"], after
    # the old track is stopped, so what the listener hears now comes through the new one
    await until(lambda: listener.hears(DELEGATE_HZ), "the listener to hear the new microphone")
    assert await page.evaluate("() => localStorage.getItem('mirp.audio.mic')") == others[0]
    await assert_no_refusals(chair, delegate, listener)


async def _original(p: Any) -> tuple[float, float]:
    """(interpreter, floor) levels in dB at their frequencies, on one listener's page."""
    fr = (await p.page.evaluate("hz => window.mirpTest.levelAt(hz, 1200)", FR_HZ))["level_db"]
    fl = (await p.page.evaluate("hz => window.mirpTest.levelAt(hz, 1200)", FLOOR_HZ))["level_db"]
    return fr, fl


async def test_original_volume_slider_and_the_partner_source(
        server, api, launch, tones, silence):
    api.organizer()
    m = api.meeting()
    chair, fr1, fr2, listener = await join_all(
        launch,
        (tones(FLOOR_HZ), api.invite(m["id"], "chair", "Chair Person")),
        (tones(FR_HZ), api.invite(m["id"], "interpreter", "Ines Interprète", booth="fr")),
        (tones(FR2_HZ), api.invite(m["id"], "interpreter", "Paul Partenaire", booth="fr")),
        (silence, api.invite(m["id"], "delegate", "Lena Listener")))
    await chair.page.click("#chair-speak")
    await fr1.page.click("#onair")
    await fr1.page.wait_for_selector("#onair-light.on")
    await pick_channel(listener, "fr")
    page = listener.page

    # off: the interpretation alone
    async def interp_alone() -> tuple[float, float] | None:
        fr, fl = await _original(listener)
        return (fr, fl) if fr - fl > 30 else None
    await until(interp_alone, "the interpretation without the original")
    assert await page.get_attribute("#original", "aria-valuetext") == "Off"

    # keyboard: End puts the original at its loudest step (-12 dB under the interpretation)
    await page.focus("#original")
    await page.keyboard.press("End")

    async def loudest() -> tuple[float, float] | None:
        s = await listener.state()
        if s.get("floor_under") != -12:
            return None
        fr, fl = await _original(listener)
        return (fr, fl) if abs((fr - fl) - 12) <= 4 else None
    await until(loudest, "the original 12 dB under the interpretation")
    assert await page.get_attribute("#original", "aria-valuetext") == "-12 dB"
    # one step down: -18 dB
    await page.keyboard.press("ArrowLeft")

    async def lower() -> tuple[float, float] | None:
        s = await listener.state()
        if s.get("floor_under") != -18:
            return None
        fr, fl = await _original(listener)
        return (fr, fl) if abs((fr - fl) - 18) <= 4 else None
    await until(lower, "the original 18 dB under the interpretation")
    await page.keyboard.press("Home")
    await until(interp_alone, "the original off again")
    # on the floor channel there is no original "under" anything: the slider rests
    await pick_channel(listener, "floor")
    assert await page.is_disabled("#original")
    await page.click("#devices-panel > summary")
    await page.wait_for_selector("#dev-out", state="attached")
    await shoot(page, "audio-delegate")

    # the partner off air hears their own booth (fr1's voice); fr1 on air may not pick it
    assert await fr1.page.is_disabled("[data-source='partner']")
    await fr2.page.click("[data-source='partner']")

    async def partner() -> dict[str, Any] | None:
        s = await fr2.state()
        return await fr2.hears(FR_HZ) if s.get("channel") == "fr" and not s.get("auto") else None
    await until(partner, f"the partner to hear the booth at {FR_HZ} Hz")
    assert await fr2.page.get_attribute("[data-source='partner']", "aria-checked") == "true"
    me = (await fr2.state())["me"]
    await fr2.page.wait_for_selector(f"[data-partner='{me}'] :text('Listens to the booth')")
    await fr2.page.click("#devices-panel > summary")
    await shoot(fr2.page, "audio-console")
    await assert_no_refusals(chair, fr1, fr2, listener)
