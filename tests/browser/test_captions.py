"""Captions on the delegate page (issue 15), in Chromium: an Arabic interpreter's voice
(espeak-ng, as the fake microphone of their browser) is captioned by the server's captioner and
the delegate listening to Arabic sees the caption, right to left. Real server process with
captions on, real browsers; every state is polled for."""

from __future__ import annotations

import re
import wave
from pathlib import Path

import numpy as np
import pytest

from tests.captions.speech import silence as quiet
from tests.captions.speech import speech
from tests.support.server import Server

from .conftest import Api, join_all, until
from .test_audio import pick_channel

pytestmark = pytest.mark.browser
ARABIC = re.compile(r"[\u0600-\u06FF]")


def arabic_wav(path: Path) -> Path:
    """Two Arabic sentences after 3 s of silence, 16-bit 48 kHz mono (looped by Chromium)."""
    x = np.concatenate([quiet(3.0), speech("ar", "اللجنة توافق على الميزانية"),
                        quiet(1.5), speech("ar", "شكرا جزيلا سيدي الرئيس"), quiet(3.0)])
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(48000)
        w.writeframes((np.clip(x, -1, 1) * 32767).astype("<i2").tobytes())
    return path


async def test_the_delegate_page_shows_the_arabic_caption_right_to_left(
        tmp_path: Path, launch, silence) -> None:  # type: ignore[no-untyped-def]
    srv = Server(tmp_path / "data", MIRP_CAPTIONS__ENABLED="true",
                 MIRP_CAPTIONS__DEFAULT_MODEL="base")
    await srv.start()
    try:
        api = Api(srv.base)
        api.organizer()
        m = api.meeting(languages=["en", "ar"], options={"captions": ["ar"]},
                        booths=[{"language": "ar", "understands": ["en"]}])
        interp, delegate = await join_all(
            launch,
            (arabic_wav(tmp_path / "ar.wav"), api.invite(m["id"], "interpreter", "Amal",
                                                         booth="ar")),
            (silence, api.invite(m["id"], "delegate", "Dev Delegate")))
        api.http.close()
        await pick_channel(delegate, "en")  # the floor's language: not captioned here
        await delegate.page.wait_for_selector("#captions-text .caption-none")
        assert "No captions" in await delegate.page.inner_text("#captions-text")
        await pick_channel(delegate, "ar")
        await interp.page.click("#onair")

        async def shown() -> str | None:
            line = delegate.page.locator("#captions-text p.caption-line").last
            if await line.count() == 0:
                return None
            text = await line.inner_text()
            return text if ARABIC.search(text) else None

        text = await until(shown, "an Arabic caption on the delegate page", 150)
        line = delegate.page.locator("#captions-text p.caption-line").last
        assert await line.get_attribute("dir") == "rtl", text
        assert await line.get_attribute("lang") == "ar"
        assert await line.evaluate("e => getComputedStyle(e).direction") == "rtl"
        # on/off: the button hides the text and brings it back
        await delegate.page.click("#captions-toggle")
        assert await delegate.page.is_hidden("#captions-text")
        await delegate.page.click("#captions-toggle")
        assert await delegate.page.is_visible("#captions-text")
    finally:
        srv.close()
