"""The fast-path fan-out heard by a real browser: Debian's Chromium, recvonly, over loopback.

aiortc's own client accepts a lot; Chromium is the receiver that matters. This checks that the
RTP we write by hand (header, mid extension, payload type from the browser's offer, SRTP, RTCP
sender reports from aiortc's task) is decoded and played, and that a switch shows in its FFT.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from mirp.media.fanout import Fanout
from mirp.media.peer import PeerFactory
from tests.media.test_fanout import FLOOR, FRENCH, TONES, Clock
from tests.support.wait import Seen, until

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.timeout(90),
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed"),
]

# Playwright passes its own --disable-features first and Chromium keeps only the last one: repeat
# Playwright's list (1.65) plus WebRtcHideLocalIpsWithMdns (no .local candidates).
_DISABLED = ",".join([
    "AvoidUnnecessaryBeforeUnloadCheckSync", "DestroyProfileOnBrowserClose", "HttpsUpgrades",
    "HttpsFirstBalancedModeAutoEnable", "LensOverlay", "MediaRouter", "PaintHolding",
    "ThirdPartyStoragePartitioning", "AvoidCorsURLLoaderRestartOnRedirect",
    "TcpPortRandomizationWin", "OptimizationHints", "NetworkTimeServiceQuerying", "AimEnabled",
    "PreconnectToSearch", "WebRtcHideLocalIpsWithMdns",
])

OFFER_JS = """async () => {
  const pc = new RTCPeerConnection({iceServers: [], bundlePolicy: "max-bundle"});
  window.pc = pc;
  pc.addTransceiver("audio", {direction: "recvonly"});
  pc.ontrack = (ev) => {
    const stream = new MediaStream([ev.track]);
    const audio = new Audio(); audio.srcObject = stream; audio.play().catch(() => {});
    window.audio = audio;
    const ctx = new AudioContext({sampleRate: 48000});
    const src = ctx.createMediaStreamSource(stream);
    const an = ctx.createAnalyser(); an.fftSize = 8192; an.smoothingTimeConstant = 0;
    src.connect(an); window.analyser = an; window.ctx = ctx;
  };
  await pc.setLocalDescription(await pc.createOffer());
  await new Promise((ok) => {
    if (pc.iceGatheringState === "complete") return ok();
    pc.onicegatheringstatechange = () => pc.iceGatheringState === "complete" && ok();
    setTimeout(ok, 3000);
  });
  return pc.localDescription.sdp;
}"""

PEAK_JS = """() => {
  const an = window.analyser; if (!an) return null;
  const bins = new Float32Array(an.frequencyBinCount); an.getFloatFrequencyData(bins);
  let best = 0; for (let i = 1; i < bins.length; i++) if (bins[i] > bins[best]) best = i;
  return {hz: best * window.ctx.sampleRate / an.fftSize, db: bins[best]};
}"""

STATS_JS = """async () => {
  const out = {};
  (await window.pc.getStats()).forEach((s) => {
    if (s.type === "inbound-rtp") Object.assign(out, {received: s.packetsReceived,
      lost: s.packetsLost, samples: s.totalSamplesReceived, concealed: s.concealedSamples,
      level: s.audioLevel, codec: s.codecId});
    if (s.type === "codec") out["codec:" + s.id] = s.mimeType;
    if (s.type === "remote-outbound-rtp") out.sr_packets = s.packetsSent;
  });
  out.state = window.pc.connectionState;
  return out;
}"""


@pytest.fixture
async def page() -> AsyncIterator[Any]:
    playwright_api = pytest.importorskip("playwright.async_api")
    args = ["--allow-loopback-in-peer-connection", f"--disable-features={_DISABLED}",
            "--autoplay-policy=no-user-gesture-required", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run",
            "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1 , EXCLUDE localhost"]
    if os.geteuid() == 0:
        args.append("--no-sandbox")
    async with playwright_api.async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=args)
        try:
            yield await browser.new_page()
        finally:
            await browser.close()


async def wait_peak(page: Any, hz: float, within_s: float = 15.0) -> None:
    hits = 0

    async def heard() -> Any:
        nonlocal hits
        last = await page.evaluate(PEAK_JS)
        hits = hits + 1 if last and last["db"] > -60 and abs(last["hz"] - hz) < 15 else 0
        return hits >= 3 or Seen(last)  # three readings in a row: not a transient

    await until(heard, f"Chromium hears {hz} Hz (last: its FFT peak)", within_s, step=0.1)


async def test_chromium_hears_the_fast_path_and_its_switch(page: Any) -> None:
    factory = PeerFactory(loopback_only=True)
    fanout = Fanout()
    clock = Clock(fanout, TONES)
    clock.start()
    try:
        session = factory.create_peer("chromium")
        answer = await session.accept_offer(await page.evaluate(OFFER_JS))
        await page.evaluate("(sdp) => window.pc.setRemoteDescription({type: 'answer', sdp})",
                            answer)
        assert session.sender is not None
        fanout.add("chromium", session.sender, FLOOR)
        await session.wait_connected(15)
        await wait_peak(page, 440)
        assert fanout.stats()["fast"] == 1
        fanout.switch("chromium", FRENCH)
        await wait_peak(page, 660)
        stats = await page.evaluate(STATS_JS)
        assert stats["state"] == "connected" and stats["received"] > 20, stats
        assert stats["lost"] == 0, stats
        assert stats.get("codec:" + str(stats["codec"]), "").lower() == "audio/opus", stats
        # Chromium read our RTCP sender reports (aiortc's task, fed by the fan-out's counters)
        async def sender_reports() -> Any:
            now = await page.evaluate(STATS_JS)
            return now.get("sr_packets", 0) > 0 or Seen(now)

        await until(sender_reports, "Chromium's remote-outbound-rtp", 10, step=0.2)
        await session.close()
    finally:
        await clock.stop()
        await factory.close()
