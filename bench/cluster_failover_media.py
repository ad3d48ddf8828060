"""Failover of a meeting's origin as its listeners hear it: origin SIGKILL -> every listener on
the surviving edges hears its channel again (tone detection), on the same peer connection.

`python -m bench.cluster_failover_media [--runs 2] [--listeners 4]` starts a redis-server of its
own and, per run, three real `mirp serve` processes (tests/support/cluster.py `ClusterProcs`,
lease TTL 2 s) sharing one SQLite file; clients as the tests make them (the WebSocket, an offer,
an aiortc peer). The meeting's first join places it; on one edge a delegate holding the floor
(300 Hz) and an interpreter on air in French (700 Hz); `listeners` listeners split over both
edges and over `floor`/`fr`. Once every listener hears its channel, the origin is SIGKILLed
and each listener is polled every 20 ms: its audio stalls, then `heard_s` is the time from the
kill to the first 0.2 s of fresh audio whose peak is its channel's tone (so it includes those
0.2 s). `cluster_failover_s` is the median over runs of the slowest listener. Writes
bench/results/cluster_failover_media.json. About 40 s a run on this machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from functools import partial
from pathlib import Path
from typing import Any

import httpx
from tests.integration.conftest import WsClient
from tests.support.audio import peak_hz
from tests.support.cluster import ClusterProcs
from tests.support.factory import make_meeting
from tests.support.redis import start_redis
from tests.support.rtc import RtcClient
from tests.support.wait import Seen, until

RESULTS = Path(__file__).parent / "results" / "cluster_failover_media.json"
FLOOR_HZ, FR_HZ = 300.0, 700.0
FRESH_S = 0.2


async def _join(procs: ClusterProcs, node: str, token: str, name: str,
                tone_hz: float | None = None, media: bool = True
                ) -> tuple[WsClient, RtcClient | None]:
    ws = await WsClient.open(procs.ws(node), name)
    welcome = await ws.hello(token)
    assert welcome.get("type") == "welcome", welcome
    if not media:
        return ws, None
    rtc = RtcClient(tone_hz, name=name)

    async def signal(sdp: str) -> str:
        reply = await ws.request("offer", sdp=sdp)
        assert reply.get("type") == "answer", reply
        return str(reply["sdp"])

    await rtc.connect(signal)
    await rtc.wait_connected(within_s=30.0)
    return ws, rtc


def _hears(rtc: RtcClient, hz: float) -> bool:
    return rtc.recorded_seconds >= FRESH_S and abs(peak_hz(rtc.recorded(FRESH_S)) - hz) < 15


def _heard(rtc: RtcClient, hz: float) -> bool | Seen:
    return _hears(rtc, hz) or Seen(f"peak {peak_hz(rtc.recorded(FRESH_S)):.0f} Hz")


async def one_run(tmp: Path, url: str, listeners: int) -> dict[str, Any]:
    procs = ClusterProcs(tmp, url)
    sockets: list[WsClient] = []
    peers: list[RtcClient] = []
    try:
        await procs.start()
        async with httpx.AsyncClient(base_url=procs.base("node-a"), timeout=30) as http:
            meeting = await make_meeting(http, delegates=1 + listeners, interpreters={"fr": 1})
        tokens = meeting.tokens
        chair, _ = await _join(procs, "node-a", tokens["chair"], "chair", media=False)
        sockets.append(chair)
        origin = await procs.origin_of(meeting.meeting_id)
        edges = [n for n in procs.names if n != origin]
        if origin == "node-a":  # the chair on an edge
            await chair.close()
            chair, _ = await _join(procs, edges[0], tokens["chair"], "chair", media=False)
            sockets.append(chair)
        d, drtc = await _join(procs, edges[1], tokens["delegate1"], "d1", FLOOR_HZ)
        fr, frtc = await _join(procs, edges[1], tokens["interpreter_fr1"], "fr1", FR_HZ)
        sockets += [d, fr]
        peers += [p for p in (drtc, frtc) if p is not None]
        await fr.ok("on_air", on=True)
        await d.ok("floor_request")
        assert d.welcome is not None
        await chair.ok("floor_give", participant_id=d.welcome["participant_id"])
        ears: list[tuple[str, RtcClient, float]] = []
        for i in range(listeners):
            key = f"delegate{i + 2}"
            ws, rtc = await _join(procs, edges[i % 2], tokens[key], key)
            assert rtc is not None
            sockets.append(ws)
            peers.append(rtc)
            hz = FR_HZ if i % 2 else FLOOR_HZ
            if hz == FR_HZ:
                await ws.ok("subscribe", channel="fr", floor_under=None)
            ears.append((key, rtc, hz))
        for key, rtc, hz in ears:
            await until(partial(_heard, rtc, hz), f"{key} hears its channel before the kill", 30)
        pcs = [rtc.pc for _, rtc, _ in ears]

        assert origin is not None
        procs.kill(origin)
        killed = time.perf_counter()
        heard: dict[str, float] = {}
        stalled = {key: False for key, _, _ in ears}
        last = {key: rtc.recorded_seconds for key, rtc, _ in ears}
        since = dict(last)
        deadline = killed + 60
        while len(heard) < len(ears) and time.perf_counter() < deadline:
            await asyncio.sleep(0.02)
            for key, rtc, hz in ears:
                if key in heard:
                    continue
                got = rtc.recorded_seconds
                if not stalled[key]:
                    if got == last[key] and time.perf_counter() - killed > 0.1:
                        stalled[key], since[key] = True, got
                elif got - since[key] >= FRESH_S and _hears(rtc, hz):
                    heard[key] = time.perf_counter() - killed
                last[key] = got
        same = all(rtc.pc is pc and rtc.pc.connectionState == "connected"
                   for (_, rtc, _), pc in zip(ears, pcs, strict=True))
        return {"origin": origin, "heard_s": {k: round(v, 3) for k, v in heard.items()},
                "all_heard": len(heard) == len(ears), "same_peers": same,
                "slowest_s": round(max(heard.values()), 3) if heard else None,
                "new_origin": await procs.origin_of(meeting.meeting_id)}
    finally:
        for rtc in peers:
            await rtc.close()
        for ws in sockets:
            await ws.close()
        procs.close()


async def run(runs: int, listeners: int) -> dict[str, Any]:
    out: dict[str, Any] = {"lease_ttl_s": 2.0, "listeners": listeners, "runs": []}
    with start_redis() as server, tempfile.TemporaryDirectory(prefix="mirp-bench-") as tmp:
        for i in range(runs):
            result = await one_run(Path(tmp) / f"run{i}", server.url, listeners)
            print(f"run {i + 1}: {result}", file=sys.stderr)
            out["runs"].append(result)
    slowest = [r["slowest_s"] for r in out["runs"] if r["all_heard"]]
    out["cluster_failover_s"] = round(statistics.median(slowest), 3) if slowest else None
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--listeners", type=int, default=4)
    args = parser.parse_args()
    results = asyncio.run(run(args.runs, args.listeners))
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
