"""`python -m bench.webcast`: what the webcast costs (issue 14's keys).

- `webcast_viewers_per_core`: a real `mirp serve` (SQLite, temporary directory) serves one
  public meeting's HLS (7 channels, 1 s segments written live by this process into the server's
  data directory, as the worker would) to simulated viewers: each viewer is one keep-alive
  HTTP/1.1 connection that fetches the master playlist and init segment once, then polls its
  channel's playlist once per segment and fetches each new segment, like hls.js at the live
  edge. The server process's CPU time (/proc, its own pid:
  the app, not its media child) over a window gives CPU-seconds per second; viewers per core =
  viewers / that. Every viewer must get every segment (`missed` says otherwise).
- `recording_cpu_pct_per_channel` and `webcast_cpu_pct_per_channel`: the worker's CPU
  (webcast/receiver.py) per channel, fed the relay's real datagrams (a MediaEngine encoding 7
  tones, media/relay.py) for 20 s of audio, recording only and webcast only; % of one core.
- `webcast_extra_encoders` and `webcast_media_cpu_pct` (`--media` for these alone): the media
  plane's encoders and CPU (a MediaEngine's `run_tick`, % of one core) for a meeting of 5
  channels, 4 booths on air and a listener on each, webcast on minus webcast off. The per-channel
  keys are aliases (media/plan.py): both should be ~0 (before aliases: 5 encoders, ~1.3 %).
- `webcast_latency_s` (`--latency`; needs loopback-only networking for its WebRTC peers:
  `unshare -n -- bash -c 'ip link set lo up && python -m bench.webcast --latency'`): the app
  served in this process, a delegate's aiortc peer sending 300 Hz, Debian's Chromium playing the
  webcast page at the live edge; the chair gives the floor at t0 and the page's WebAudio
  analyser (polled every 50 ms) hears 300 Hz at t1; t1 - t0, a few rounds (the floor taken back
  and silence heard in between).

Writes bench/results/webcast.json and prints a table. About a minute.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from tests.support.audio import opus_packets, tone
from tests.support.factory import make_meeting_http, standard_meeting_body
from tests.support.server import Server

from bench.common import percentile, proc_cpu_seconds

RESULTS = Path(__file__).resolve().parent / "results" / "webcast.json"
CHANNELS = ("floor", "en", "fr", "es", "zh", "ar", "ru")


# ------------------------------------------------------------------ viewers
class Viewer:
    """One player: a keep-alive connection, its playlist polled once a segment, new segments
    fetched."""

    def __init__(self, host: str, port: int, path: str) -> None:
        self.host, self.port, self.path = host, port, path
        self.segments = self.requests = self.errors = 0
        self.latency_ms: list[float] = []
        self.missed = 0

    async def get(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                  path: str) -> tuple[int, bytes]:
        t0 = time.perf_counter()
        writer.write(f"GET {path} HTTP/1.1\r\nHost: {self.host}\r\n\r\n".encode())
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        body = await reader.readexactly(length)
        self.requests += 1
        self.latency_ms.append((time.perf_counter() - t0) * 1000)
        return status, body

    async def run(self, until: float, period: float) -> None:
        """As hls.js at the live edge: the master playlist and the init segment once, then the
        rendition's playlist every `period` (its target duration) and every segment new in it,
        in order. A segment number skipped (it left the window before this viewer asked) is
        `missed`: every viewer must get every segment."""
        reader, writer = await asyncio.open_connection(self.host, self.port)
        base = self.path.rsplit("/", 1)[0]
        last: int | None = None  # the newest segment number fetched
        try:
            for first in (f"{base.rsplit('/', 1)[0]}/master.m3u8", f"{base}/init.mp4"):
                if (await self.get(reader, writer, first))[0] != 200:
                    self.errors += 1
            while time.monotonic() < until:
                started = time.monotonic()
                status, body = await self.get(reader, writer, self.path)
                if status != 200:
                    self.errors += 1
                else:
                    names = [ln for ln in body.decode().splitlines()
                             if ln and not ln.startswith("#")]
                    numbered = [(int(n.rsplit("-", 1)[1].split(".")[0]), n) for n in names]
                    if last is None:  # joining: start at the live edge, as a player does
                        numbered = numbered[-1:]
                    for n, name in numbered:
                        if last is not None and n <= last:
                            continue
                        if last is not None and n > last + 1:
                            self.missed += n - last - 1
                        s, _ = await self.get(reader, writer, f"{base}/{name}")
                        if s == 200:
                            self.segments += 1
                        else:
                            self.errors += 1
                        last = n
                await asyncio.sleep(max(0.0, period - (time.monotonic() - started)))
        finally:
            writer.close()


async def live_writer(root: Path, stop: asyncio.Event) -> None:
    """Seven renditions written in real time (50 packets a second each), as the worker does."""
    from mirp.webcast.hls import MASTER, Rendition, master_playlist, write_atomic

    packets = opus_packets(tone(440, 4.0))
    renditions = [Rendition(root / ch, "b") for ch in CHANNELS]
    write_atomic(root / MASTER, master_playlist(list(CHANNELS)).encode())
    loop = asyncio.get_running_loop()
    t0, i = loop.time(), 0
    while not stop.is_set():
        for r in renditions:
            r.add(packets[i % len(packets)])
        i += 1
        await asyncio.sleep(max(0.0, t0 + i * 0.02 - loop.time()))


async def viewers_bench(viewers: int, seconds: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="mirp-webcast-") as tmp:
        srv = Server(Path(tmp))
        srv.env["MIRP_LOG_LEVEL"] = "warning"
        await srv.start()
        stop = asyncio.Event()
        try:
            async with httpx.AsyncClient(base_url=srv.base, timeout=60) as http:
                body = standard_meeting_body(options={"webcast": "public"})
                fx = await make_meeting_http(http, body=body, delegates=0, interpreters={},
                                             observer=False)
            writer = asyncio.create_task(live_writer(Path(tmp) / "webcast" / fx.meeting_id, stop))
            await asyncio.sleep(3.5)  # a few segments in the window
            host, port = "127.0.0.1", srv.port
            crowd = [Viewer(host, port, f"/webcast/{fx.meeting_id}/"
                            f"{CHANNELS[i % len(CHANNELS)]}/index.m3u8") for i in range(viewers)]
            assert srv.proc is not None
            pid = srv.proc.pid
            warm = time.monotonic() + 2.0
            end = warm + seconds
            tasks = [asyncio.create_task(v.run(end, 1.0)) for v in crowd]
            await asyncio.sleep(max(0.0, warm - time.monotonic()))
            cpu0, t0 = proc_cpu_seconds(pid), time.monotonic()
            requests0 = sum(v.requests for v in crowd)
            await asyncio.gather(*tasks)
            cpu1, t1 = proc_cpu_seconds(pid), time.monotonic()
            stop.set()
            await writer
        finally:
            srv.close()
    latencies = [x for v in crowd for x in v.latency_ms]
    cpu_share = (cpu1 - cpu0) / (t1 - t0)
    requests = sum(v.requests for v in crowd) - requests0
    return {
        "viewers": viewers, "window_s": round(t1 - t0, 2),
        "server_cpu_share": round(cpu_share, 4),
        "requests_per_s": round(requests / (t1 - t0), 1),
        "us_per_request": round(cpu1 - cpu0, 6) * 1e6 / max(1, requests),
        "latency_ms_p50": percentile(latencies, 50), "latency_ms_p95": percentile(latencies, 95),
        "errors": sum(v.errors for v in crowd), "missed": sum(v.missed for v in crowd),
        "webcast_viewers_per_core": round(viewers / cpu_share) if cpu_share > 0 else None,
    }


# ------------------------------------------------------------------ the worker's CPU
def worker_bench(seconds: float, webcast: bool, recording: bool) -> dict[str, Any]:
    from tests.media.fake_fanout import FakeFanout

    from mirp.media.engine import MediaEngine
    from mirp.media.mixer import FRAME_SAMPLES
    from mirp.media.plan import FeedKey, MixPlan
    from mirp.media.relay import Relay
    from mirp.webcast.receiver import MeetingConfig, Receiver

    keys = [FeedKey(f"m/{ch}") for ch in CHANNELS]
    datagrams: list[bytes] = []

    async def produce() -> None:  # the origin's datagrams, made once, replayed below
        engine = MediaEngine(FakeFanout())
        relay = Relay(engine, send=lambda addr, data: datagrams.append(data))
        engine.relay = relay
        signals = {}
        for i, key in enumerate(keys):
            engine.add_source(key.channel)
            signals[key.channel] = tone(300 + 100 * i, 4.0)
        engine.apply(MixPlan.of({k: ((k.channel, 1.0),) for k in keys}))
        relay.relay_to("w", ("127.0.0.1", 9), keys, 0)
        for tick in range(int(seconds * 50)):
            for sid, sig in signals.items():
                at = (tick * FRAME_SAMPLES) % (len(sig) - FRAME_SAMPLES)
                engine.push_pcm(sid, sig[at:at + FRAME_SAMPLES])
            engine.run_tick()
        await engine.close()

    asyncio.run(produce())
    with tempfile.TemporaryDirectory(prefix="mirp-webcast-worker-") as tmp:
        receiver = Receiver(Path(tmp) / "webcast", Path(tmp) / "recordings")
        receiver.configure(MeetingConfig("m", tuple((k.channel[2:], k) for k in keys),
                                         webcast, recording))
        receiver.pump()
        t0 = time.process_time()
        for data in datagrams:
            receiver.received(data)
        receiver.finish()
        cpu = time.process_time() - t0
    pct = cpu / seconds / len(CHANNELS) * 100
    return {"channels": len(CHANNELS), "audio_s": seconds, "cpu_s": round(cpu, 4),
            "cpu_pct_per_channel": round(pct, 3)}


# ------------------------------------------------------------------ the media plane's share
def media_bench(ticks: int = 1500) -> dict[str, Any]:
    """What turning the webcast on adds to the origin's media plane (see the docstring)."""
    import numpy as np
    from tests.media.fake_fanout import FakeFanout

    from mirp.interpretation.routing import Route
    from mirp.media.engine import MediaEngine
    from mirp.media.mixer import FRAME_SAMPLES
    from mirp.rooms.mixing import Subscription, broadcast_key, build_plan, key_for

    langs = ("en", "fr", "zh", "ar")
    routes = {"floor": Route("floor", "floor"),
              **{lg: Route(lg, "interpretation", f"b{lg}", f"i{lg}", True) for lg in langs}}
    subs = {f"l-{ch}": Subscription(ch) for ch in ("floor", *langs)}
    floor = (("d1", 1.0),)
    channels = ("floor", *langs)
    frame = (0.1 * np.sin(np.arange(FRAME_SAMPLES) * 0.05)).astype(np.float32)

    class Link:  # the webcast's relay link: its keys encoded without a listener
        def __init__(self, keys: frozenset[Any]) -> None:
            self.keys = keys

        def keys_out(self) -> frozenset[Any]:
            return self.keys

        def keys_in(self) -> frozenset[Any]:
            return frozenset()

        def publish(self, pts: int, packets: Any) -> None:
            pass

    def run(webcast: bool) -> tuple[int, float]:
        engine = MediaEngine(FakeFanout())
        for sid in ("d1", *(f"i{lg}" for lg in langs)):
            engine.add_source(sid)
        engine.apply(build_plan(subs, routes, floor, (), channels if webcast else ()))
        if webcast:
            engine.relay = Link(frozenset(broadcast_key(ch) for ch in channels))
        for pid, sub in subs.items():
            engine.add_listener(pid, None, key_for(pid, sub, routes, floor))
        busy = 0.0
        for _ in range(ticks):
            for sid in ("d1", *(f"i{lg}" for lg in langs)):
                engine.push_pcm(sid, frame)
            t0 = time.perf_counter()
            engine.run_tick()
            busy += time.perf_counter() - t0
        encoders = engine.stats().encoders
        asyncio.run(engine.close())
        return encoders, busy / (ticks * 0.020) * 100

    off, on = run(False), run(True)
    return {"channels": len(channels), "ticks": ticks, "encoders_off": off[0],
            "encoders_on": on[0], "cpu_pct_off": round(off[1], 3), "cpu_pct_on": round(on[1], 3),
            "webcast_extra_encoders": on[0] - off[0],
            "webcast_media_cpu_pct": round(on[1] - off[1], 3)}


# ------------------------------------------------------------------ latency
async def latency_bench(rounds: int) -> dict[str, Any]:
    from playwright.async_api import async_playwright
    from tests.browser.conftest import CHROMIUM, chromium_args
    from tests.integration.conftest import Harness
    from tests.support.factory import make_meeting, served_app
    from tests.webcast.test_page import PEAK_JS

    async def heard(page: Any, want: bool, within: float = 30.0) -> float:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            now = await page.evaluate(PEAK_JS)
            loud = abs(now["hz"] - 300) <= 15 and now["db"] > -60
            if loud == want:
                return time.monotonic()
            await asyncio.sleep(0.05)
        raise RuntimeError(f"the page never {'heard' if want else 'lost'} 300 Hz")

    samples: list[float] = []
    stalls, played = 0, 0.0
    with tempfile.TemporaryDirectory(prefix="mirp-webcast-latency-") as tmp:
        async with served_app(Path(tmp)) as served:
            body = standard_meeting_body(options={"webcast": "public"})
            h = Harness(served, await make_meeting(served.app, body=body))
            try:
                chair = await h.attend("chair")
                d1 = await h.attend("delegate1", 300)
                async with async_playwright() as pw:
                    browser = await pw.chromium.launch(executable_path=CHROMIUM,
                                                       args=chromium_args(None))
                    page = await browser.new_page()
                    await page.goto(f"{served.base_url}/webcast.html#m={h.meeting.meeting_id}")
                    await page.wait_for_selector("#wc-play:not([disabled])", timeout=30000)
                    await page.click("#wc-play")
                    await asyncio.sleep(4.0)  # playing (silence) at the live edge
                    for _ in range(rounds):
                        await heard(page, False)
                        t0 = time.monotonic()
                        await chair.ws.ok("floor_give", participant_id=d1.id)
                        samples.append(await heard(page, True) - t0)
                        await chair.ws.ok("floor_take", participant_id=d1.id)
                    stalls = int(await page.evaluate("() => window.mirpWebcast.stalls"))
                    played = float(await page.evaluate(
                        "() => document.querySelector('#wc-audio').currentTime"))
                    await browser.close()
            finally:
                await h.close()
    return {"rounds": rounds, "samples_s": [round(x, 2) for x in samples], "stalls": stalls,
            "played_s": round(played, 1),
            "webcast_latency_s": round(sorted(samples)[len(samples) // 2], 2)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--viewers", type=int, nargs="+", default=[100, 300])
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--latency", action="store_true",
                        help="only webcast_latency_s (needs unshare -n, see above)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--media", action="store_true",
                        help="only webcast_extra_encoders and webcast_media_cpu_pct")
    args = parser.parse_args(argv)
    if args.media:
        media = media_bench()
        print(json.dumps(media))
        if RESULTS.exists():
            saved = json.loads(RESULTS.read_text())
            saved["media"] = media
            for key in ("webcast_extra_encoders", "webcast_media_cpu_pct"):
                saved["keys"][key] = media[key]
            RESULTS.write_text(json.dumps(saved, indent=2) + "\n")
        return 0
    if args.latency:
        found = asyncio.run(latency_bench(args.rounds))
        print(json.dumps(found))
        if RESULTS.exists():
            saved = json.loads(RESULTS.read_text())
            saved["latency"] = found
            saved["keys"]["webcast_latency_s"] = found["webcast_latency_s"]
            RESULTS.write_text(json.dumps(saved, indent=2) + "\n")
        return 0
    results: dict[str, Any] = {"recording": worker_bench(20.0, False, True),
                               "webcast": worker_bench(20.0, True, False),
                               "both": worker_bench(20.0, True, True), "viewers": [],
                               "media": media_bench()}
    for n in args.viewers:
        results["viewers"].append(asyncio.run(viewers_bench(n, args.seconds)))
    best = [r["webcast_viewers_per_core"] for r in results["viewers"]
            if r["webcast_viewers_per_core"] and not r["errors"] and not r["missed"]]
    previous = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    if "latency" in previous:
        results["latency"] = previous["latency"]
    results["keys"] = {
        "webcast_viewers_per_core": min(best) if best else None,
        "recording_cpu_pct_per_channel": results["recording"]["cpu_pct_per_channel"],
        "webcast_cpu_pct_per_channel": results["webcast"]["cpu_pct_per_channel"],
        "webcast_latency_s": results.get("latency", {}).get("webcast_latency_s"),
        "webcast_extra_encoders": results["media"]["webcast_extra_encoders"],
        "webcast_media_cpu_pct": results["media"]["webcast_media_cpu_pct"],
    }
    results["at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print("| viewers | server CPU (cores) | req/s | µs/request | p50 / p95 ms | errors | missed "
          "| viewers per core |")
    print("|---|---|---|---|---|---|---|---|")
    for r in results["viewers"]:
        print(f"| {r['viewers']} | {r['server_cpu_share']:.3f} | {r['requests_per_s']} | "
              f"{r['us_per_request']:.0f} | {r['latency_ms_p50']:.1f} / "
              f"{r['latency_ms_p95']:.1f} | {r['errors']} | {r['missed']} | "
              f"{r['webcast_viewers_per_core']} |")
    for what in ("recording", "webcast", "both"):
        r = results[what]
        print(f"worker, {what}: {r['cpu_pct_per_channel']} % of a core per channel "
              f"({r['cpu_s']} s CPU for {r['channels']} channels × {r['audio_s']} s)")
    print(json.dumps(results["keys"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
