"""The webcast page shows the captions of the language heard, in Debian's Chromium.

The meeting's webcast is written by a webcast worker (Receiver) fed in real time by a media
engine through the real Relay, as the app's would be (one tone per channel); caption finals are
handed to the worker directly, as app.py does with the captioner's (no Whisper: the subject is
delivery). hls.js fetches the WebVTT rendition of the language picked; the page draws its cues:
Arabic right to left, the floor's captions on a channel carrying the floor marked, on/off."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mirp.media.engine import MediaEngine
from mirp.media.mixer import FRAME_SAMPLES
from mirp.media.plan import FeedKey, MixPlan
from mirp.media.relay import Relay
from mirp.webcast.receiver import MeetingConfig, Receiver
from mirp.webcast.subtitles import Said
from tests.media.fake_fanout import FakeFanout
from tests.support.audio import tone
from tests.support.factory import ServedApp, make_meeting, served_app, standard_meeting_body
from tests.support.wait import Seen, until

pytestmark = [pytest.mark.browser]

TONES = {"floor": 300, "en": 500, "fr": 700, "zh": 900, "ar": 1100}
ARABIC = "مرحبا بكم في هذه الجلسة"
FRENCH = "Bonjour à toutes et à tous"

CAPTIONS_JS = """() => {
  const box = document.querySelector('#wc-captions');
  const w = window.mirpWebcast;
  const lines = [...box.querySelectorAll('p.wc-caption')];
  return {hidden: box.hidden, row: !document.querySelector('#wc-cc-row').hidden,
          text: lines.map(p => p.textContent).join(' | '),
          dirs: lines.map(p => getComputedStyle(p).direction),
          floor: lines.filter(p => p.classList.contains('wc-caption-floor'))
                      .map(p => p.textContent),
          size: box.dataset.size, none: box.textContent,
          track: w.hls && w.hls.subtitleTrack, heard: w.captions.lang,
          time: document.querySelector('#wc-audio').currentTime,
          cues: [...w.captions.cues].map(([l, m]) => [l, [...m.values()].map(c => c.start)]),
          status: document.querySelector('#wc-status').textContent};
}"""


TIMING_JS = """() => {
  const w = window.mirpWebcast;
  const audio = document.querySelector('#wc-audio');
  const a = w.analyser;
  if (!a) return null;
  // the newest 2048 samples (43 ms), unsmoothed: the frequency data is averaged over calls
  const data = new Float32Array(a.fftSize);
  a.getFloatTimeDomainData(data);
  let peak = 0;
  for (let i = data.length - 2048; i < data.length; i++) peak = Math.max(peak, Math.abs(data[i]));
  const cues = w.captions.cues.get(w.captions.lang);
  return {t: audio.currentTime, playing: !audio.paused && audio.readyState >= 3, peak,
          shown: document.querySelector('#wc-captions').textContent,
          cues: cues ? [...cues.values()].map(c => [c.start, c.end]) : []};
}"""


class Webcast:
    """A meeting's webcast written live: 20 ms ticks on the loop's clock, captions every
    second (each from the last 0.8 s, so each lands in the segment being made)."""

    def __init__(self, receiver: Receiver, meeting_id: str) -> None:
        self.receiver = receiver
        self.meeting_id = meeting_id
        self.engine = MediaEngine(FakeFanout())
        self.relay = Relay(self.engine, send=lambda addr, data: receiver.received(data))
        self.engine.relay = self.relay
        self.keys = {ch: FeedKey(f"{meeting_id}/{ch}") for ch in TONES}
        for ch in TONES:
            self.engine.add_source(ch)
        self.signals = {ch: tone(hz, 2.0) for ch, hz in TONES.items()}
        self.engine.apply(MixPlan.of({k: ((ch, 1.0),) for ch, k in self.keys.items()}))
        self.captions: list[tuple[str, str, bool]] = []  # (channel, text, floor) said each second
        self.tick = 0
        self.bursts = False  # the floor: 1 s of tone every 2 s, each captioned "Burst" exactly

    def burst(self) -> None:
        sig = np.zeros(100 * FRAME_SAMPLES + FRAME_SAMPLES, dtype=np.float32)
        sig[:50 * FRAME_SAMPLES] = tone(TONES["floor"], 1.0)
        self.signals["floor"] = sig
        self.bursts = True

    def start(self) -> None:
        self.receiver.subtitled = lambda mid: ("floor", "fr", "ar")
        self.receiver.configure(MeetingConfig(self.meeting_id, tuple(self.keys.items()), True,
                                              False))
        self.receiver.pump()
        self.relay.relay_to(f"webcast:{self.meeting_id}", ("127.0.0.1", 9),
                            list(self.keys.values()), epoch=0)

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        next_tick = loop.time()
        next_caption = next_tick
        while True:
            while loop.time() >= next_tick:  # a tick every 20 ms (a late loop catches up)
                for ch, sig in self.signals.items():
                    at = (self.tick * FRAME_SAMPLES) % (len(sig) - FRAME_SAMPLES)
                    self.engine.push_pcm(ch, sig[at:at + FRAME_SAMPLES])
                self.engine.run_tick()
                if self.bursts and self.tick % 100 == 0:  # a burst's first packet: sent now
                    now = time.time()
                    self.receiver.caption(Said(self.meeting_id, "floor", "Burst", now, now + 1.0,
                                               False))
                self.tick += 1
                next_tick += 0.02
            if loop.time() >= next_caption:
                next_caption += 1.0
                now = time.time()
                for ch, text, floor in self.captions:
                    self.receiver.caption(Said(self.meeting_id, ch, text, now - 0.8, now, floor))
            self.receiver.pump()
            await asyncio.sleep(max(0.0, next_tick - loop.time()))  # the next tick's time


@pytest.fixture
async def served(tmp_path: Path, chromium_path: str) -> AsyncIterator[ServedApp]:
    async with served_app(tmp_path) as s:
        yield s


@pytest.fixture
async def webcast(served: ServedApp) -> AsyncIterator[Webcast]:
    body = standard_meeting_body(options={"webcast": "public", "recording": False,
                                          "captions": ["floor", "fr", "ar"]})
    fx = await make_meeting(served.app, body=body, delegates=0, interpreters={}, chair=False)
    data_dir: Path = served.app.state.settings.data_dir
    receiver = Receiver(data_dir / "webcast", data_dir / "recordings")
    w = Webcast(receiver, fx.meeting_id)
    w.start()
    task = asyncio.create_task(w.run())
    try:
        yield w
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        receiver.finish()
        await w.engine.close()


async def shows(page: Any, what: str, ok: Any) -> dict[str, Any]:
    async def check() -> dict[str, Any] | Seen:
        now = dict(await page.evaluate(CAPTIONS_JS))
        return now if ok(now) else Seen(str(now))

    result: dict[str, Any] = await until(check, what, 40, step=0.25, tolerate=())
    return result


async def test_the_page_shows_the_captions_of_the_language_heard(
        served: ServedApp, webcast: Webcast, page: Any) -> None:
    webcast.captions = [("ar", ARABIC, False), ("fr", "Order, please", True),
                        ("floor", "Order, please", False)]
    await page.goto(f"{served.base_url}/webcast.html#m={webcast.meeting_id}")
    await page.wait_for_selector("#wc-play:not([disabled])", timeout=30000)
    await page.click("#wc-play")
    # the floor (heard by default): its captions, unmarked
    await shows(page, "the floor's caption", lambda s: "Order, please" in s["text"]
                and not s["floor"] and s["row"])
    await page.select_option("#wc-channel", label="العربية")
    now = await shows(page, "the Arabic caption", lambda s: ARABIC in s["text"])
    assert set(now["dirs"]) == {"rtl"}, now
    # French carries the floor (its booth is off air): the floor's caption, marked
    await page.select_option("#wc-channel", label="Français")
    now = await shows(page, "the floor's caption marked on French",
                      lambda s: any("Order, please" in f for f in s["floor"]))
    assert "ltr" in now["dirs"] and ARABIC not in now["text"]
    # a channel without captions says so
    await page.select_option("#wc-channel", label="English")
    await shows(page, "no captions in English", lambda s: s["none"] and not s["text"]
                and s["track"] == -1)
    # off, then on again; and bigger
    await page.select_option("#wc-channel", label="العربية")
    await shows(page, "the Arabic caption again", lambda s: ARABIC in s["text"])
    await page.click("#wc-cc")
    await shows(page, "captions off", lambda s: s["hidden"] and s["track"] == -1)
    await page.click("#wc-cc")
    await page.click("#wc-cc-size")
    await shows(page, "captions on and large", lambda s: ARABIC in s["text"]
                and s["size"] == "large")


async def test_a_caption_shows_while_its_words_play(served: ServedApp, webcast: Webcast,
                                                     page: Any) -> None:
    """The floor plays 1 s of tone every 2 s, each burst captioned with its own times: the page
    shows the caption while the tone plays, and none in the silences (the cues are on the audio's
    timeline in the player, not just in the files)."""
    webcast.burst()
    await page.goto(f"{served.base_url}/webcast.html#m={webcast.meeting_id}")
    await page.wait_for_selector("#wc-play:not([disabled])", timeout=30000)
    await page.click("#wc-play")
    during: list[bool] = []  # the tone heard while a caption shows (away from its edges)
    between: list[bool] = []  # silence heard while none shows (away from any cue)
    margin = 0.25  # the output's latency, a poll's own duration

    async def enough() -> bool | Seen:
        s = await page.evaluate(TIMING_JS)
        if not s or not s["playing"]:
            return Seen(s)
        tone_on = s["peak"] > 0.03  # the tone; silence is decoded as zeros
        near = [c for c in s["cues"] if c[0] - margin <= s["t"] <= c[1] + margin]
        inside = [c for c in s["cues"] if c[0] + margin <= s["t"] <= c[1] - margin]
        if inside and "Burst" in s["shown"]:
            during.append(tone_on)
        elif not near and "Burst" not in s["shown"] and any(
                c[1] < s["t"] < c[0] + 2.0 - margin for c in s["cues"]):  # before the next burst
            between.append(not tone_on)
        return (len(during) >= 8 and len(between) >= 8) or Seen((during, between, s))

    await until(enough, "samples while captions show and while none does", 60, step=0.1,
                tolerate=())
    # a cue off the audio by half a second or more would be wrong about half the time
    assert sum(during) >= 0.9 * len(during), during
    assert sum(between) >= 0.9 * len(between), between
