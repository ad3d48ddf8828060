"""Issue 17's check: a meeting run by real peers (aiortc, loopback WebRTC) shows minutes per
channel and on-air minutes in its report within ± 5 % of what was played.

An interpreter (a 660 Hz tone) goes on air for about ten seconds while a listener is on the French
channel for about fourteen. "Played" is measured at the listener: the audio it received between
the acknowledgements of its two channel choices (listening), and the span over which the
interpreter's tone is in what it heard (on air), found with an FFT over 100 ms windows. The
report must say the same, ± 5 %.
"""

from __future__ import annotations

from typing import Any

import httpx
import numpy as np

from tests.integration.conftest import Harness
from tests.support.audio import RATE, level_db_at
from tests.support.wait import Seen, until

WINDOW = RATE // 10  # 100 ms: 10 Hz resolution, enough to tell 660 Hz from the floor's silence
HEARD = -30.0


def _tone_span_s(samples: np.ndarray, hz: float) -> float:
    """From the first to the last 100 ms window in which `hz` is heard."""
    on = [i for i in range(len(samples) // WINDOW)
          if level_db_at(samples[i * WINDOW:(i + 1) * WINDOW], hz) > HEARD]
    return 0.0 if not on else (on[-1] - on[0] + 1) * WINDOW / RATE


async def test_minutes_per_channel_and_on_air_within_five_percent(harness: Harness) -> None:
    h = harness
    fr1 = await h.attend("interpreter_fr1", 660)
    lfr = await h.attend("delegate3", keep_seconds=40.0)  # the harness keeps 10 s by default
    assert lfr.rtc is not None
    await lfr.ws.ok("subscribe", channel="fr", floor_under=None)
    start = lfr.rtc.recorded_seconds
    await lfr.rtc.wait_recorded(2.0, within_s=20.0)
    await fr1.ws.ok("on_air", on=True)
    await lfr.rtc.wait_recorded(10.0, within_s=40.0)
    await fr1.ws.ok("on_air", on=False)
    await lfr.rtc.wait_recorded(2.0, within_s=20.0)
    await lfr.ws.ok("subscribe", channel="floor", floor_under=None)
    listened = lfr.rtc.recorded_seconds - start
    on_air = _tone_span_s(lfr.rtc.recorded(listened), 660)
    assert on_air > 5, f"the interpreter was barely heard: {on_air:.2f} s"

    auth = {"Authorization": f"Bearer {h.meeting.organizer_token}"}
    url = f"{h.served.base_url}/api/meetings/{h.meeting.meeting_id}/report"
    async with httpx.AsyncClient(headers=auth) as http:

        async def recorded() -> dict[str, Any] | Seen:
            r = await http.get(url)
            assert r.status_code == 200, r.text
            report: dict[str, Any] = r.json()
            fr = [c for c in report["listening"] if c["channel"] == "fr"]
            return report if fr and report["booths"] else Seen(report)

        report = await until(recorded, "the listening and on-air rows", 30, step=0.1,
                             tolerate=())
    (fr,) = [c for c in report["listening"] if c["channel"] == "fr"]
    (booth,) = report["booths"]
    assert fr["listeners"] == 1
    assert abs(fr["seconds"] - listened) <= 0.05 * listened, (fr, listened)
    assert booth["booth"] == "fr" and booth["turns"] == 1
    assert abs(booth["seconds"] - on_air) <= 0.05 * on_air, (booth, on_air)
