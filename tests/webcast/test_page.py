"""The webcast page in Debian's Chromium: hls.js plays the meeting's HLS, the language picker
switches rendition, and what plays is checked in the page through WebAudio (the page's own
analyser, FFT peak). The microphones are aiortc peers in a real meeting (as in test_e2e.py):
delegate1 300 Hz on the floor, interpreter_fr1 700 Hz on air into French."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import Harness
from tests.support.factory import ServedApp, make_meeting, served_app, standard_meeting_body
from tests.support.wait import Seen, until

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.rtc]

PEAK_JS = """() => {
  const a = window.mirpWebcast && window.mirpWebcast.analyser;
  const audio = document.querySelector('#wc-audio');
  if (!a) return {hz: 0, db: -999, t: 0};
  const bins = new Float32Array(a.frequencyBinCount);
  a.getFloatFrequencyData(bins);
  let best = 0;
  for (let i = 1; i < bins.length; i++) if (bins[i] > bins[best]) best = i;
  return {hz: best * a.context.sampleRate / a.fftSize, db: bins[best], t: audio.currentTime,
          live: document.querySelector('#wc-live').dataset.state,
          decoded: audio.webkitAudioDecodedByteCount, track: window.mirpWebcast.hls.audioTrack,
          buffered: audio.buffered.length ? audio.buffered.end(audio.buffered.length - 1) : 0,
          channels: [...document.querySelectorAll('#wc-channel option')].map(o => o.textContent),
          status: document.querySelector('#wc-status').textContent};
}"""


@pytest.fixture
async def served(tmp_path: Path, chromium_path: str) -> AsyncIterator[ServedApp]:
    async with served_app(tmp_path) as s:
        yield s


@pytest.fixture
async def harness(served: ServedApp) -> AsyncIterator[Harness]:
    body = standard_meeting_body(options={"webcast": "public", "recording": False})
    h = Harness(served, await make_meeting(served.app, body=body))
    try:
        yield h
    finally:
        await h.close()


async def plays(page: Any, hz: float) -> dict[str, Any]:
    async def check() -> dict[str, Any] | Seen:
        now = dict(await page.evaluate(PEAK_JS))
        if abs(now["hz"] - hz) <= 15 and now["db"] > -60:
            return now
        return Seen(str(now))

    result: dict[str, Any] = await until(check, f"the page plays {hz} Hz", 40, step=0.25,
                                         tolerate=())
    return result


async def test_the_page_plays_the_floor_and_switches_to_french(harness: Harness,
                                                               page: Any) -> None:
    h = harness
    chair = await h.attend("chair")
    d1 = await h.attend("delegate1", 300)
    fr1 = await h.attend("interpreter_fr1", 700)
    await chair.ws.ok("floor_give", participant_id=d1.id)
    await fr1.ws.ok("on_air", on=True)
    await page.goto(f"{h.served.base_url}/webcast.html#m={h.meeting.meeting_id}")
    await page.wait_for_selector("#wc-play:not([disabled])", timeout=30000)
    await page.click("#wc-play")
    now = await plays(page, 300)  # the floor is the default
    assert "Français" in now["channels"] and "中文" in now["channels"]
    await page.select_option("#wc-channel", label="Français")
    await plays(page, 700)
    await page.select_option("#wc-channel", label="Floor")
    await plays(page, 300)

    async def at_edge() -> bool | Seen:
        state = dict(await page.evaluate(PEAK_JS))
        return True if state["live"] == "on" else Seen(str(state))

    await until(at_edge, "the live badge lit", 20, step=0.25, tolerate=())


async def test_the_page_says_when_there_is_no_webcast(served: ServedApp, page: Any) -> None:
    await page.goto(f"{served.base_url}/webcast.html#m=m_unknown")

    async def told() -> str | Seen:
        text = str(await page.text_content("#wc-status"))
        return text if "no webcast" in text else Seen(text)

    await until(told, "the page says there is no webcast", 20, step=0.25, tolerate=())


async def test_the_organizer_sets_the_options_and_downloads_a_recording(served: ServedApp,
                                                                       page: Any) -> None:
    import time as clock

    from mirp.webcast.record import Recording
    from tests.support.audio import opus_packets, tone

    fx = await make_meeting(served.app, body=standard_meeting_body())
    rec = Recording(served.app.state.settings.data_dir / "recordings" / fx.meeting_id /
                    "20261129T030000Z", fx.meeting_id, "20261129T030000Z")
    for p in opus_packets(tone(300, 0.5)):
        rec.add("fr", p, clock.time())
    rec.close(clock.time())
    await page.goto(f"{served.base_url}/left.html")  # a page of the origin, to set its storage
    await page.evaluate("t => localStorage.setItem('mirp.organizer', JSON.stringify({token: t}))",
                        fx.organizer_token)
    await page.goto(f"{served.base_url}/meeting.html#id={fx.meeting_id}")
    await page.wait_for_selector("#webcast-card:not([hidden])", timeout=20000)
    await page.select_option("#wc-mode", "public")
    await page.check("#wc-recording")
    await page.fill("#wc-retention", "30")
    await page.click("#wc-save")
    await page.wait_for_selector("#wc-link a[href^='/webcast.html#m=']", timeout=20000)

    async def saved() -> bool | Seen:
        async with served.app.state.db.session() as session:
            from mirp.store import repo
            m = await repo.load_meeting(session, fx.meeting_id)
            state = (m.webcast, m.recording, m.retention_days)
        return True if state == ("public", True, 30) else Seen(str(state))

    await until(saved, "the options saved", 20, tolerate=())
    async with page.expect_download() as info:
        await page.click("#wc-recordings button[lang='fr']")
    download = await info.value
    path = await download.path()
    assert (await asyncio.to_thread(Path(path).read_bytes))[:4] == b"OggS"
    assert download.suggested_filename.endswith("-fr.opus")


async def test_participants_see_that_the_meeting_is_recorded(served: ServedApp,
                                                             page: Any) -> None:
    import httpx

    from tests.browser.conftest import LIVE_PAGE

    body = standard_meeting_body(options={"recording": True})
    fx = await make_meeting(served.app, body=body, delegates=0, interpreters={}, chair=False)
    async with httpx.AsyncClient(base_url=served.base_url) as http:
        r = await http.post(f"/api/meetings/{fx.meeting_id}/invitations",
                            headers={"Authorization": f"Bearer {fx.organizer_token}"},
                            json={"role": "observer", "name": "Olive"})
        assert r.status_code == 201, r.text
        url = r.json()["join_url"]
    await page.goto(url)
    await page.wait_for_selector("#join-form:not([hidden])", timeout=15000)
    await page.click("#join-btn")
    await page.wait_for_url(LIVE_PAGE, timeout=15000)
    await page.wait_for_selector("#bar-rec:not([hidden])", timeout=20000)
