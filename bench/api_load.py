"""Tick jitter under API load: does the control side delay the media clock?

A real server process (the whole app: `create_app()` under uvicorn, SQLite, media plane in its
own process unless `--in-process`), 100 real aiortc listeners on one channel (the floor, a real
source peer speaking a tone), then the API gets the work that stalled the single-loop build for
seconds: a 5000-row bulk CSV of invitations, then the 5000-invitation listing. Measured over
exactly that window, from the engine's cumulative tick-lateness histogram (two snapshots,
diffed): p50/p99/max of how late each tick started, and the listener packets never sent because
ticks were skipped. The listeners count sequence gaps and timestamp jumps on their side as well.

Server side: `python -m bench.api_load --serve [--in-process]` (prints `READY {json}`, then
answers `stats` / `quit` JSON lines on stdin). Orchestrator side: `run_api_load()`. The server is
not pinned to a core: the media process must get its share from the kernel as in production.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import LineRpc, answer_stdin, cpu_seconds, raise_fd_limit
from bench.harness import _child_env, _reap

log = logging.getLogger("bench")

ROWS = 5000


# ---------------------------------------------------------------- server process
async def serve(in_process: bool, listeners: int) -> None:
    from tests.support.factory import join_token, make_meeting, served_app

    with tempfile.TemporaryDirectory(prefix="mirp-bench-load-") as tmp:
        async with served_app(Path(tmp), media_process=not in_process) as served:
            fx = await make_meeting(served.app, delegates=1, interpreters={}, observer=False)
            ears = [await join_token(served.app, fx, "observer", key=f"ear{i}")
                    for i in range(listeners)]
            info = {"ws_url": served.ws_url + "/ws", "base_url": served.base_url,
                    "meeting_id": fx.meeting_id, "organizer": fx.organizer_token,
                    "chair": fx.tokens["chair"], "speaker": fx.tokens["delegate1"],
                    "speaker_id": fx.people["delegate1"].participant_id,
                    "ears": [p.token for p in ears]}
            print("READY " + json.dumps(info), flush=True)

            async def stats() -> dict[str, Any]:
                stats = await served.app.state.media.stats()
                return {"cpu": cpu_seconds(), "ticks": stats.engine.ticks,
                        "counts": list(stats.engine.lateness_counts),
                        "skipped_ticks": stats.engine.skipped_ticks,
                        "packets_skipped": stats.engine.packets_skipped,
                        "listeners": stats.engine.listeners}

            await answer_stdin(stats)
    os._exit(0)


# ---------------------------------------------------------------- orchestrator side
class Ear:
    """A recvonly listener that counts packets, sequence gaps and skipped frames from the RTP
    header (after SRTP), without decoding."""

    def __init__(self) -> None:
        from aiortc import RTCConfiguration, RTCPeerConnection

        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.transceiver = self.pc.addTransceiver("audio", direction="recvonly")
        self.counting = False
        self.packets = self.gaps = self.jumps = 0
        self._last: tuple[int, int] | None = None

        async def count(packet: Any, arrival_time_ms: int) -> None:
            last, self._last = self._last, (packet.sequence_number, packet.timestamp)
            if not self.counting or last is None:
                return
            self.packets += 1
            dseq = (packet.sequence_number - last[0]) % 65536
            dts = (packet.timestamp - last[1]) % 2**32
            self.gaps += dseq - 1 if 0 < dseq < 1000 else 0
            self.jumps += 1 if dts > 960 * dseq else 0

        self.transceiver.receiver._handle_rtp_packet = count


async def _session(ws_url: str, token: str) -> Any:
    import websockets

    ws = await websockets.connect(ws_url, max_size=2**22, ping_interval=None)
    await ws.send(json.dumps({"type": "hello", "id": 0, "token": token}))
    while True:
        msg = json.loads(await ws.recv())
        if msg.get("type") == "welcome":
            return ws
        if msg.get("type") == "error":
            raise RuntimeError(f"hello refused: {msg}")


async def _request(ws: Any, kind: str, **fields: Any) -> dict[str, Any]:
    """Send one request and read until its reply (these sessions receive little else)."""
    await ws.send(json.dumps({"type": kind, "id": 1, **fields}))
    while True:
        msg = json.loads(await ws.recv())
        if msg.get("id") == 1 and msg.get("type") in ("ack", "answer", "error"):
            if msg["type"] == "error":
                raise RuntimeError(f"{kind}: {msg}")
            return dict(msg)


async def _drain(ws: Any) -> None:
    with contextlib.suppress(Exception):
        async for _ in ws:
            pass


async def _connect(pc: Any, ws: Any) -> None:
    from aiortc import RTCSessionDescription

    from mirp.media.compat import loopback_gathering

    with loopback_gathering():  # 127.0.0.1 only, as the server (loopback mode) accepts
        await pc.setLocalDescription(await pc.createOffer())
    reply = await _request(ws, "offer", sdp=pc.localDescription.sdp)
    await pc.setRemoteDescription(RTCSessionDescription(sdp=reply["sdp"], type="answer"))


def _bound(edge: float) -> float | str:
    """A bucket's upper edge for JSON: the last bucket has none (">1000": over a second)."""
    from mirp.media.engine import LATENESS_EDGES_MS

    return edge if edge != float("inf") else f">{LATENESS_EDGES_MS[-2]:g}"


def _percentile(counts: list[int], q: float) -> float | str | None:
    """Upper edge of the bucket holding the q-quantile (a bound, never an underestimate)."""
    from mirp.media.engine import LATENESS_EDGES_MS

    total = sum(counts)
    if not total:
        return None
    seen = 0
    for edge, n in zip(LATENESS_EDGES_MS, counts, strict=True):
        seen += n
        if seen >= q * total:
            return _bound(edge)
    return _bound(LATENESS_EDGES_MS[-1])


async def run_api_load(listeners: int = 100, in_process: bool = False,
                       rows: int = ROWS, rounds: int = 3) -> dict[str, Any]:
    """One server, `listeners` ears on the floor, then `rounds` x (bulk CSV + listing)."""
    import httpx
    from tests.support.rtc import RtcClient

    args = ["-m", "bench.api_load", "--serve", "--listeners", str(listeners)]
    proc = await asyncio.create_subprocess_exec(
        sys.executable, *args, *(["--in-process"] if in_process else []),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, env=_child_env(),
        limit=1 << 24)
    assert proc.stdout is not None and proc.stdin is not None
    sockets: list[Any] = []
    drains: list[asyncio.Task[None]] = []
    ears: list[Ear] = []
    speaker: RtcClient | None = None
    try:
        line = await asyncio.wait_for(proc.stdout.readline(), 120)
        if not line.startswith(b"READY "):
            raise RuntimeError(f"api_load server did not start: {line!r}")
        info = json.loads(line[6:])
        rpc = LineRpc(proc.stdout, proc.stdin)
        chair = await _session(info["ws_url"], info["chair"])
        talker = await _session(info["ws_url"], info["speaker"])
        sockets += [chair, talker]
        speaker = RtcClient(1000.0, name="speaker")
        await speaker.connect(lambda sdp: _answer(talker, sdp))
        await _request(chair, "floor_give", participant_id=info["speaker_id"])
        drains += [asyncio.create_task(_drain(ws)) for ws in (chair, talker)]
        for i in range(0, listeners, 20):  # in batches, as browsers would arrive
            batch = info["ears"][i:i + 20]
            wss = await asyncio.gather(*(_session(info["ws_url"], t) for t in batch))
            new = [Ear() for _ in wss]
            await asyncio.gather(*(_connect(e.pc, ws) for e, ws in zip(new, wss, strict=True)))
            sockets += wss
            ears += new
            drains += [asyncio.create_task(_drain(ws)) for ws in wss]
        deadline = time.monotonic() + 60
        while (await rpc.call("stats"))["listeners"] < listeners + 1:
            if time.monotonic() > deadline:
                raise RuntimeError("not every listener is attached")
            await asyncio.sleep(0.5)
        await asyncio.sleep(3.0)  # settle
        if any(e.pc.connectionState != "connected" for e in ears):
            raise RuntimeError("a listener did not connect")
        for e in ears:
            e.counting = True
        before = await rpc.call("stats")
        csv = "\n".join(f"Person {i}, Delegation {i % 40}, p{i}@example.org"
                        for i in range(rows))
        auth = {"Authorization": f"Bearer {info['organizer']}"}
        url = f"{info['base_url']}/api/meetings/{info['meeting_id']}/invitations"
        bulk_s: list[float] = []
        listing_s: list[float] = []
        listed = 0
        async with httpx.AsyncClient(timeout=300) as http:
            for _ in range(rounds):
                t0 = time.monotonic()
                r = await http.post(url + "/bulk", json={"csv": csv}, headers=auth)
                t1 = time.monotonic()
                if r.status_code != 201:
                    raise RuntimeError(f"bulk: {r.status_code} {r.text[:200]}")
                listed = 0  # every invitation, in pages of 1000 (the listing's maximum)
                query: dict[str, str] = {"limit": "1000"}
                while True:
                    r = await http.get(url, params=query, headers=auth)
                    if r.status_code != 200:
                        raise RuntimeError(f"listing: {r.status_code} {r.text[:200]}")
                    listed += len(r.json())
                    if "X-Next-After" not in r.headers:
                        break
                    query["after"] = r.headers["X-Next-After"]
                t2 = time.monotonic()
                bulk_s.append(round(t1 - t0, 2))
                listing_s.append(round(t2 - t1, 2))
        after = await rpc.call("stats")
        for e in ears:
            e.counting = False
        counts = [b - a for a, b in zip(before["counts"], after["counts"], strict=True)]
        await rpc.call("quit")
        return {
            "media_process": not in_process,
            "listeners": listeners,
            "rows": rows,
            "rounds": rounds,
            "bulk_s": bulk_s,
            "listing_s": listing_s,
            "listed_last": listed,
            "ticks": after["ticks"] - before["ticks"],
            "tick_lateness_p50_ms": _percentile(counts, 0.50),
            "tick_lateness_p99_ms": _percentile(counts, 0.99),
            "tick_lateness_max_ms_bound": next(
                (_bound(edge) for edge, n in zip(_edges()[::-1], counts[::-1], strict=True)
                 if n), None),
            "skipped_ticks": after["skipped_ticks"] - before["skipped_ticks"],
            "lost_packets": after["packets_skipped"] - before["packets_skipped"],
            "listener_packets": sum(e.packets for e in ears),
            "listener_seq_gaps": sum(e.gaps for e in ears),
            "listener_ts_jumps": sum(e.jumps for e in ears),
            "server_control_cpu_s": round(after["cpu"] - before["cpu"], 2),
        }
    finally:
        for e in ears:
            with contextlib.suppress(Exception):
                await e.pc.close()
        if speaker is not None:
            await speaker.close()
        for ws in sockets:
            with contextlib.suppress(Exception):
                await ws.close()
        for task in drains:
            task.cancel()
        proc.stdin.close()  # the server's stdin ends: it stops
        await _reap(proc)


async def scenario(listeners: int, rows: int, rounds: int) -> dict[str, Any]:
    """The media process design, then (for comparison) the engine on the server's own loop."""
    out = {"media_process": await run_api_load(listeners, False, rows, rounds)}
    out["in_process"] = await run_api_load(listeners, True, rows, rounds)
    return out


GOALS = {"tick_jitter_p99_ms_under_api_load": "<= 5",
         "tick_jitter_lost_packets_under_api_load": "0"}


def report_keys(raw: dict[str, Any]) -> dict[str, Any]:
    """The keys of latest.json this scenario owns (bench/report.py merges them)."""
    res = raw.get("api_load")
    if not res:
        return {}
    main = res["media_process"]
    return {
        "tick_jitter_p99_ms_under_api_load": main["tick_lateness_p99_ms"],
        "tick_jitter_lost_packets_under_api_load": main["lost_packets"],
        "tick_jitter_under_api_load_in_process": {
            k: res["in_process"][k] for k in ("tick_lateness_p99_ms", "lost_packets",
                                              "skipped_ticks", "tick_lateness_max_ms_bound")},
        "api_load_detail": res,
    }


def goals_met(res: dict[str, Any]) -> dict[str, bool | None]:
    p99 = res.get("tick_jitter_p99_ms_under_api_load")
    lost = res.get("tick_jitter_lost_packets_under_api_load")
    if isinstance(p99, str):  # over the last bucket's edge
        p99 = float("inf")
    return {"tick_jitter_p99_ms_under_api_load": None if p99 is None else p99 <= 5.0,
            "tick_jitter_lost_packets_under_api_load": None if lost is None else lost == 0}


def markdown_rows(res: dict[str, Any]) -> list[str]:
    if "tick_jitter_p99_ms_under_api_load" not in res:
        return []
    met = res.get("goals_met", {})
    old = res.get("tick_jitter_under_api_load_in_process") or {}

    def yes(v: bool | None) -> str:
        return "n/a" if v is None else ("yes" if v else "**no**")

    return [
        f"| tick lateness p99 ms under API load (bulk CSV + listing, 100 listeners) | "
        f"{res['tick_jitter_p99_ms_under_api_load']} (engine on the server's loop: "
        f"{old.get('tick_lateness_p99_ms')}) | {GOALS['tick_jitter_p99_ms_under_api_load']} | "
        f"{yes(met.get('tick_jitter_p99_ms_under_api_load'))} |",
        f"| packets lost to skipped ticks under API load | "
        f"{res['tick_jitter_lost_packets_under_api_load']} (engine on the server's loop: "
        f"{old.get('lost_packets')}) | {GOALS['tick_jitter_lost_packets_under_api_load']} | "
        f"{yes(met.get('tick_jitter_lost_packets_under_api_load'))} |",
    ]


def _edges() -> tuple[float, ...]:
    from mirp.media.engine import LATENESS_EDGES_MS

    return LATENESS_EDGES_MS


async def _answer(ws: Any, sdp: str) -> str:
    return str((await _request(ws, "offer", sdp=sdp))["sdp"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--serve", action="store_true", help="be the server process")
    parser.add_argument("--in-process", action="store_true",
                        help="the media engine on the server's own loop (the old design)")
    parser.add_argument("--listeners", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    raise_fd_limit()
    if args.serve:
        with contextlib.suppress(AttributeError, OSError):  # not the orchestrator's one core
            os.sched_setaffinity(0, range(os.cpu_count() or 1))
        asyncio.run(serve(args.in_process, args.listeners))
    else:
        print(json.dumps(asyncio.run(run_api_load(args.listeners, args.in_process,
                                                  rounds=args.rounds)), indent=2))


if __name__ == "__main__":
    main()
