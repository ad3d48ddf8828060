"""What an edge costs: listeners fed by a relayed feed vs the same listeners fed as today.

`python -m bench.cluster_edge` (about a minute; `--listeners`, `--edges`, `--window`,
`--rounds`). The issue's cluster scenario on loopback, besides the client processes:

- an **origin** (a bench server with mirp's MediaEngine and media/relay.py): a tone source,
  `--channels` feeds mixed and encoded once each, relayed over UDP to every edge;
- `--edges` **edges** (the same server, all pinned to the server core): `--listeners` real
  aiortc peers (bench/clients.py's cheap listeners) split between the edges and over the
  channels. Each edge has the same channels of its own too (the same tone, mixed and encoded
  there), so its listeners can be switched between the two without renegotiating: **local**
  (single-process, as today: the edge mixes, encodes and fans out; the origin's links idle) and
  **relayed** (the origin's packets, fanned out with no decode and no encode);
- the orchestrator, the origin and the clients on the other core.

Per window and per mode: the edges' CPU per packet per listener (their process CPU / the
packets their fan-outs sent), the hop's added latency (origin's send time in the relay header ->
the edge's receive callback, the same clock on one machine), the origin's CPU per relayed feed.
The rounds alternate local and relayed in one run on one machine; every round is reported (the
machine is shared: compare within a round). Writes bench/results/cluster_edge.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import cpu_seconds, now, percentile, pin_to_cpu, raise_fd_limit, rss_kb
from bench.engine_backend import EngineBackend, feed_key
from bench.harness import (
    Fleet,
    ServerHandle,
    cpu_plan,
    pin_orchestrator,
    start_control_server,
)
from bench.server import ControlServer
from mirp.media.mixer import FRAME_SAMPLES
from mirp.media.plan import FeedKey
from mirp.media.relay import Relay
from mirp.media.relay_format import HEADER, now_us

log = logging.getLogger("bench.cluster_edge")
RESULTS = Path(__file__).parent / "results" / "cluster_edge.json"
TONE_HZ = 440.0


def channel(prefix: str, i: int) -> FeedKey:
    return FeedKey(f"{prefix}/ch{i}")


class RelayBackend(EngineBackend):
    """The bench's engine server with the relay, a paced tone source and the hop's timing."""

    def __init__(self) -> None:
        super().__init__()
        self.relay = Relay(self.engine)
        self.engine.relay = self.relay
        self.hop_ms: list[float] = []
        received = self.relay.received

        def timed(data: bytes) -> None:
            if len(data) >= HEADER.size and data[2] == 1:  # DATA
                sent_us = HEADER.unpack_from(data)[8]
                self.hop_ms.append(((now_us() - sent_us) & 0xFFFFFFFF) / 1000.0)
            received(data)

        self.relay.received = timed  # type: ignore[method-assign]
        self._tone: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await super().start()
        self.engine.add_source("tone")
        self._tone = asyncio.create_task(self._feed_tone())

    async def _feed_tone(self) -> None:
        """A microphone: 20 ms of a sine every 20 ms, on a deadline clock."""
        t = np.arange(48_000, dtype=np.float32) / 48_000
        table = (0.25 * np.sin(2 * np.pi * TONE_HZ * t)).astype(np.float32)
        loop = asyncio.get_running_loop()
        deadline, i = loop.time(), 0
        while True:
            start = (i * FRAME_SAMPLES) % 48_000
            self.engine.push_pcm("tone", table[start:start + FRAME_SAMPLES])
            i += 1
            deadline += 0.020
            await asyncio.sleep(max(0.0, deadline - loop.time()))

    def stats(self) -> dict[str, Any]:
        out = super().stats()
        relay = self.relay.stats()
        out["relay"] = {"packets_out": relay.packets_out, "send_dropped": relay.send_dropped,
                        "received": sum(f.received for f in relay.feeds_in),
                        "lost": sum(f.lost for f in relay.feeds_in),
                        "late": sum(f.late for f in relay.feeds_in)}
        hops, self.hop_ms = self.hop_ms, []
        out["hop_ms"] = hops
        return out


class RelayControl(ControlServer):
    """bench/server.py's control, plus the relay's ops and a switch of every listener."""

    backend: RelayBackend

    async def handle(self, msg: dict[str, Any]) -> dict[str, Any]:
        op = msg.get("op")
        b = self.backend
        if op == "relay_listen":
            return {"address": list(await b.relay.listen("127.0.0.1"))}
        if op == "relay_accept":
            b.relay.relay_accept([feed_key(k) for k in msg["keys"]])
            return {}
        if op == "relay_to":
            b.relay.relay_to(msg["link"], (msg["host"], int(msg["port"])),
                             [feed_key(k) for k in msg["keys"]], int(msg["epoch"]))
            return {}
        if op == "retarget":  # every listener to `prefix`/ch<its channel>
            fanout: Any = b.engine.fanout
            for pid in list(b.sessions):
                key = fanout.key_of(pid)
                if key is not None:
                    b.engine.switch(pid, FeedKey(f"{msg['prefix']}/{key.channel.split('/')[1]}"))
            return {}
        return await super().handle(msg)


async def serve() -> None:
    backend = RelayBackend()
    await backend.start()
    control = RelayControl(backend, 100)
    server = await asyncio.start_server(control.connection, "127.0.0.1", 0, limit=1 << 22)
    print(f"READY {server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


async def start(cpu: int | None) -> ServerHandle:
    args = ["-m", "bench.cluster_edge", "--serve"]
    if cpu is not None:
        args += ["--cpu", str(cpu)]
    return await start_control_server(args)


async def window(edges: list[ServerHandle], origin: ServerHandle, seconds: float
                 ) -> dict[str, Any]:
    """One measuring window over every edge: CPU over packets sent, summed over the edges."""
    e0 = [await e.call("stats") for e in edges]
    o0 = await origin.call("stats")
    await asyncio.sleep(seconds)  # the measuring window itself
    e1 = [await e.call("stats") for e in edges]
    o1 = await origin.call("stats")
    sent = sum(b["backend"]["fanout"]["packets_sent"] - a["backend"]["fanout"]["packets_sent"]
               for a, b in zip(e0, e1, strict=True))
    cpu = sum(b["cpu"] - a["cpu"] for a, b in zip(e0, e1, strict=True))
    span = statistics.mean(b["t"] - a["t"] for a, b in zip(e0, e1, strict=True))
    hops = [h for b in e1 for h in b["backend"]["hop_ms"]]

    def relay(name: str) -> int:
        return sum(b["backend"]["relay"][name] - a["backend"]["relay"][name]
                   for a, b in zip(e0, e1, strict=True))

    return {
        "seconds": round(span, 2),
        "edge_cpu_pct": [round(100 * (b["cpu"] - a["cpu"]) / span, 1)
                         for a, b in zip(e0, e1, strict=True)],
        "packets_sent": sent,
        "us_per_packet_listener": round(1e6 * cpu / sent, 2) if sent else None,
        "edge_encoders": sum(b["backend"]["encoders"] for b in e1),
        "edge_listeners": sum(b["backend"]["listeners"] for b in e1),
        "origin_cpu_pct": round(100 * (o1["cpu"] - o0["cpu"]) / (o1["t"] - o0["t"]), 1),
        "origin_encoders": o1["backend"]["encoders"],
        "origin_datagrams": (o1["backend"]["relay"]["packets_out"]
                             - o0["backend"]["relay"]["packets_out"]),
        "hop_p50_ms": _r(percentile(hops, 50)),
        "hop_p95_ms": _r(percentile(hops, 95)),
        "hop_samples": len(hops),
        "relay_lost": relay("lost"),
        "relay_late": relay("late"),
        "edge_lateness_p99_ms": max(b["backend"]["lateness_p99_ms"] for b in e1),
        "edge_rss_kb": max(b["rss_kb"] for b in e1),
    }


def _r(v: float | None) -> float | None:
    return None if v is None else round(v, 3)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    server_cpu, client_cpu = cpu_plan()
    pin_orchestrator()
    edges = [await start(server_cpu) for _ in range(args.edges)]
    origin = await start(client_cpu)
    fleets = [Fleet(edge) for edge in edges]
    channels = range(args.channels)
    try:
        # origin: the channels mixed from its tone, nobody listening there; edges: the same
        # channels of their own (local/...), and the origin's (m/...) declared relayed
        recipe = [["tone", 1.0]]
        await origin.call("plan", feeds=[{"key": str(channel("m", i)), "recipe": recipe}
                                         for i in channels])
        relayed = [str(channel("m", i)) for i in channels]
        addresses = []
        for edge in edges:
            await edge.call("plan", feeds=[{"key": str(channel("local", i)), "recipe": recipe}
                                           for i in channels])
            await edge.call("relay_accept", keys=relayed)
            addresses.append((await edge.call("relay_listen"))["address"])
        t0 = now()
        results = await asyncio.gather(*(
            fleet.join([{"id": f"e{n}l{j}", "role": "listener",
                         "key": str(channel("local", j % args.channels))}
                        for j in range(n, args.listeners, args.edges)])
            for n, fleet in enumerate(fleets)))
        ok = sum(1 for res in results for p in res["peers"].values() if p.get("error") is None)
        print(f"{ok}/{args.listeners} listeners joined on {args.edges} edges in "
              f"{now() - t0:.1f} s", file=sys.stderr)
        rounds = []
        for r in range(args.rounds):
            row: dict[str, Any] = {}
            for mode, prefix in (("local", "local"), ("relayed", "m")):
                # local: the links idle, so each edge is exactly a single process of today
                for n, (host, port) in enumerate(addresses):
                    await origin.call("relay_to", link=f"edge{n}", host=host, port=port,
                                      keys=relayed if mode == "relayed" else [], epoch=1)
                for edge in edges:
                    await edge.call("retarget", prefix=prefix)
                await asyncio.sleep(args.settle)  # let the switch and the encoders settle
                row[mode] = await window(edges, origin, args.window)
                print(f"round {r + 1} {mode}: {row[mode]}", file=sys.stderr)
            rounds.append(row)
        return {"listeners": args.listeners, "channels": args.channels, "edges": args.edges,
                "window_s": args.window, "rounds": rounds}
    finally:
        for fleet in fleets:
            await fleet.stop()
        await asyncio.gather(origin.stop(), *(edge.stop() for edge in edges))


def summarize(result: dict[str, Any]) -> dict[str, Any]:
    rounds = result["rounds"]
    local = [r["local"]["us_per_packet_listener"] for r in rounds]
    relayed = [r["relayed"]["us_per_packet_listener"] for r in rounds]
    p95 = [r["relayed"]["hop_p95_ms"] for r in rounds]
    origin = [r["relayed"]["origin_cpu_pct"] / result["channels"] for r in rounds]
    return {
        "single_process_us_per_packet_listener": local,
        "cluster_edge_us_per_packet_listener": relayed,
        "cluster_edge_vs_single_pct": [round(100 * (b / a - 1), 1) if a and b else None
                                       for a, b in zip(local, relayed, strict=True)],
        "cluster_hop_added_latency_ms_p50": [r["relayed"]["hop_p50_ms"] for r in rounds],
        "cluster_hop_added_latency_ms_p95": p95,
        "cluster_origin_cpu_pct_per_feed": [round(x, 2) for x in origin],
        "edge_encoders_relayed": [r["relayed"]["edge_encoders"] for r in rounds],
        "median_cluster_edge_us_per_packet_listener": _r(statistics.median(relayed)),
        "median_single_process_us_per_packet_listener": _r(statistics.median(local)),
    }


def table(result: dict[str, Any]) -> str:
    lines = [f"{result['listeners']} listeners over {result['channels']} channels on "
             f"{result['edges']} edges, {result['window_s']} s windows",
             "round  mode     us/pkt/listener  edge cpu%  encoders  hop p50/p95 ms  origin cpu%",
             "-----  -------  ---------------  ---------  --------  --------------  -----------"]
    for i, r in enumerate(result["rounds"], 1):
        for mode in ("local", "relayed"):
            w = r[mode]
            hop = (f"{w['hop_p50_ms']}/{w['hop_p95_ms']}" if w["hop_p50_ms"] is not None
                   else "-")
            cpu = "+".join(str(c) for c in w["edge_cpu_pct"])
            lines.append(f"{i:<5}  {mode:<7}  {w['us_per_packet_listener']!s:>15}  "
                         f"{cpu:>9}  {w['edge_encoders']:>8}  {hop:>14}  "
                         f"{w['origin_cpu_pct']:>11}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--cpu", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--listeners", type=int, default=200)
    parser.add_argument("--channels", type=int, default=7)
    parser.add_argument("--edges", type=int, default=2, help="edge processes (one core)")
    parser.add_argument("--window", type=float, default=10.0, help="seconds per measure")
    parser.add_argument("--settle", type=float, default=2.0, help="seconds after a switch")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    if args.serve:
        pin_to_cpu(args.cpu)
        raise_fd_limit()
        asyncio.run(serve())
        return
    raise_fd_limit()
    started = time.time()
    result = asyncio.run(run(args))
    result["summary"] = summarize(result)
    result["machine"] = {"cpu_plan": list(cpu_plan()), "orchestrator_cpu_s": cpu_seconds(),
                         "orchestrator_rss_kb": rss_kb(), "started": started,
                         "duration_s": round(time.time() - started, 1)}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=1) + "\n")
    print(table(result))
    print(json.dumps(result["summary"], indent=1))


if __name__ == "__main__":
    main()
