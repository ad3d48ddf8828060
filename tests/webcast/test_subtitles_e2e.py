"""Captions into the webcast through the app's own wiring: a served app with the captioner on
(its worker given a model that does not exist, so no Whisper runs: the subject is delivery),
a real meeting webcast by the real Webcaster and worker thread, and a caption final given to
the app's own `deliver` (what the captioner's reader calls): it reaches the subtitles
renditions (the floor's, and French's marked while its booth is off air) and, as before, the
transcript."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from mirp.captions.service import Heard
from tests.integration.conftest import Harness
from tests.support.factory import ServedApp, make_meeting, served_app, standard_meeting_body
from tests.support.wait import Seen, until
from tests.webcast.support import playlist_segments

pytestmark = [pytest.mark.rtc, pytest.mark.process]


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    missing = str(tmp_path / "no-such-model")
    captions = {"enabled": True, "models": {}, "default_model": missing}
    async with served_app(tmp_path, captions=captions) as served:
        body = standard_meeting_body(options={"webcast": "public", "recording": False,
                                              "captions": ["fr", "ar"]})
        h = Harness(served, await make_meeting(served.app, body=body, delegates=1))
        try:
            yield h
        finally:
            await h.close()


def vtt_text(directory: Path) -> str:
    try:
        names = playlist_segments((directory / "subs.m3u8").read_text())
        return "".join((directory / n).read_text() for n in names)
    except FileNotFoundError:
        return ""


async def test_a_caption_final_reaches_the_webcast_through_the_app(harness: Harness) -> None:
    h = harness
    served: ServedApp = h.served
    await h.attend("chair", media=False)
    mid = h.meeting.meeting_id
    base: Path = served.app.state.settings.data_dir / "webcast" / mid

    def master() -> str | Seen:
        try:
            text = (base / "master.m3u8").read_text()
        except FileNotFoundError:
            return Seen("no master playlist yet")
        return text if 'TYPE=SUBTITLES' in text else Seen(text)

    text = await until(master, "the master playlist with its subtitles", 30)
    subs = [line for line in text.splitlines() if "TYPE=SUBTITLES" in line]
    assert [line.split('LANGUAGE="')[1].split('"')[0] for line in subs] == ["mul", "fr", "ar"]

    async def audio() -> bool | Seen:
        status = served.app.state.webcast.status(mid)
        return bool(status and status.packets.get("floor")) or Seen(status)

    await until(audio, "the webcast hears the floor", 30)
    now = time.time()
    await served.app.state.captions.deliver(
        Heard(mid, "floor", "Order, please.", "en", now - 0.6, now - 0.1))

    def shown() -> tuple[str, str, str] | Seen:
        floor, fr, ar = (vtt_text(base / ch) for ch in ("floor", "fr", "ar"))
        if all("Order, please." in text for text in (floor, fr, ar)):
            return floor, fr, ar
        return Seen((floor[-300:], fr[-300:], ar[-300:]))

    floor, fr, ar = await until(shown, "the caption in the floor's, French and Arabic subtitles",
                                30)
    # no booth is on air: French and Arabic carry the floor, so its captions, marked
    assert "<c.floor>Order, please.</c>" in fr and "<c.floor>Order, please.</c>" in ar
    assert "<c.floor>" not in floor
    assert not (base / "en" / "subs.m3u8").exists()  # English is not captioned
    # ... and into the transcript, as before
    async with httpx.AsyncClient(base_url=served.base_url) as http:
        r = await http.get(f"/api/meetings/{mid}/transcript", params={"format": "json"},
                           headers={"Authorization": f"Bearer {h.meeting.organizer_token}"})
    assert r.status_code == 200, r.text
    assert "Order, please." in r.text
