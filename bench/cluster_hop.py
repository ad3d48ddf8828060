"""The hop between two processes of a cluster: what carrying encoded Opus packets from an origin
to an edge adds, by Redis pub/sub or by a direct socket (issue 11: choose the media transport).

`python -m bench.cluster_hop [--seconds 4] [--feeds 7,50]` starts a redis-server of its own
(loopback, no persistence), then for each feed count and transport runs a receiver process
(this module with `--receive`) and sends from this process: every 20 ms, one packet of 100-160
random bytes per feed, stamped with CLOCK_MONOTONIC (one clock for both processes on Linux).
The receiver reports the added latency (receive time - stamp) and its CPU time; the sender its
own CPU time (process time over the sending phase); redis-server's CPU time is read from /proc
(it is spent whatever the transport, but only pub/sub makes it work). Transports:
- redis: RedisBus.publish per packet (awaited in turn), one topic per feed, RedisBus subscribers;
- redis-batch: one pipeline per tick carrying every feed's packet (the origin's natural batch);
- udp: one datagram per packet to the edge's port;
- tcp: one stream, length-prefixed frames, one write per tick.
Prints a table and writes bench/results/cluster_hop.json. The machine's load (other work on
its cores) shows in the tails: compare transports within one run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from mirp.cluster.bus import Envelope, Kind
from mirp.cluster.redis_bus import RedisBus
from mirp.cluster.redis_common import Keys, connect

TRANSPORTS = ("redis", "redis-batch", "udp", "tcp")
TICK_S = 0.020
STAMP = struct.Struct(">HIQ")  # feed, seq, monotonic ns (then the payload)
RESULTS = Path(__file__).parent / "results" / "cluster_hop.json"


def _free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _topic(feed: int) -> str:
    return f"media.bench.{feed}"


# --- receiver (its own process) -------------------------------------------------------------

class _Sink:
    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.lat_us: list[float] = []
        self.done = asyncio.Event()
        self.first: float | None = None

    def take(self, data: bytes) -> None:
        now = time.monotonic_ns()
        _, _, sent = STAMP.unpack_from(data)
        self.lat_us.append((now - sent) / 1000)
        if len(self.lat_us) >= self.expected:
            self.done.set()


async def _receive(transport: str, port: int, redis_url: str, feeds: int, expected: int,
                   idle_s: float) -> dict[str, Any]:
    sink = _Sink(expected)
    closers: list[Any] = []
    if transport.startswith("redis"):
        bus = RedisBus(redis_url, node_id="edge")
        closers.append(bus.aclose)
        subs = [await bus.subscribe(_topic(f), maxsize=100_000) for f in range(feeds)]

        async def drain(sub: Any) -> None:
            async for env in sub:
                sink.take(env.body)

        tasks = [asyncio.create_task(drain(s)) for s in subs]
    elif transport == "udp":
        class Proto(asyncio.DatagramProtocol):
            def datagram_received(self, data: bytes, addr: Any) -> None:
                sink.take(data)

        udp, _ = await asyncio.get_running_loop().create_datagram_endpoint(
            Proto, local_addr=("127.0.0.1", port))
        udp.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        closers.append(udp.close)
        tasks = []
    else:
        async def on_conn(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                while True:
                    (n,) = struct.unpack(">H", await reader.readexactly(2))
                    sink.take(await reader.readexactly(n))
            except (asyncio.IncompleteReadError, asyncio.CancelledError):
                pass  # the sender closed, or the run is over

        server = await asyncio.start_server(on_conn, "127.0.0.1", port)
        closers.append(server.close)
        tasks = []
    print("ready", flush=True)
    cpu0 = time.process_time()
    try:
        await asyncio.wait_for(sink.done.wait(), timeout=idle_s)
    except TimeoutError:
        pass  # losses: report what arrived
    cpu = time.process_time() - cpu0
    for t in tasks:
        t.cancel()
    for close in closers:
        r = close()
        if asyncio.iscoroutine(r):
            await r
    return {"received": len(sink.lat_us), "lat_us": sink.lat_us, "cpu_s": cpu}


# --- sender (this process) ------------------------------------------------------------------

async def _send(transport: str, port: int, redis_url: str, feeds: int, ticks: int) -> float:
    rng = random.Random(1)
    payloads = [rng.randbytes(rng.randint(100, 160)) for _ in range(64)]
    keys = Keys()
    bus = RedisBus(redis_url, node_id="origin") if transport.startswith("redis") else None
    raw = connect(redis_url) if transport == "redis-batch" else None
    udp = tcp = None
    if transport == "udp":
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
        udp.connect(("127.0.0.1", port))
    elif transport == "tcp":
        _, tcp = await asyncio.open_connection("127.0.0.1", port)
        tcp.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    loop = asyncio.get_running_loop()
    cpu0 = time.process_time()
    next_at = loop.time()
    for seq in range(ticks):
        frames = []
        for feed in range(feeds):
            body = STAMP.pack(feed, seq, time.monotonic_ns()) + payloads[(seq + feed) % 64]
            frames.append((feed, body))
        if transport == "redis" and bus is not None:
            for feed, body in frames:
                await bus.publish(_topic(feed), Envelope(Kind.MEDIA, "origin", body, seq=seq))
        elif raw is not None:
            async with raw.pipeline(transaction=False) as p:
                for feed, body in frames:
                    p.publish(keys.channel(_topic(feed)),
                              Envelope(Kind.MEDIA, "origin", body, seq=seq).encode())
                await p.execute()
        elif udp is not None:
            for _, body in frames:
                udp.send(body)
        elif tcp is not None:
            tcp.write(b"".join(struct.pack(">H", len(b)) + b for _, b in frames))
            await tcp.drain()
        next_at += TICK_S
        await asyncio.sleep(max(0.0, next_at - loop.time()))
    cpu = time.process_time() - cpu0
    if bus is not None:
        await bus.aclose()
    if raw is not None:
        await raw.aclose()
    if udp is not None:
        udp.close()
    if tcp is not None:
        tcp.close()
    return cpu


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


def _cpu_s(pid: int) -> float:
    """A process's CPU time so far (user + system), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _case(transport: str, feeds: int, seconds: float, redis_url: str,
                redis_pid: int) -> dict[str, Any]:
    ticks = int(seconds / TICK_S)
    port = _free_port(socket.SOCK_DGRAM if transport == "udp" else socket.SOCK_STREAM)
    expected = ticks * feeds
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.cluster_hop", "--receive", transport, "--port", str(port),
        "--redis", redis_url, "--feeds", str(feeds), "--expected", str(expected),
        "--idle", str(seconds + 10), stdout=asyncio.subprocess.PIPE)
    assert proc.stdout is not None
    line = await asyncio.wait_for(proc.stdout.readline(), 30)
    if line.strip() != b"ready":
        raise RuntimeError(f"receiver did not start: {line!r}")
    redis0 = _cpu_s(redis_pid)
    send_cpu = await _send(transport, port, redis_url, feeds, ticks)
    out, _ = await asyncio.wait_for(proc.communicate(), seconds + 30)
    redis_cpu = _cpu_s(redis_pid) - redis0
    got = json.loads(out)
    lat_ms = [x / 1000 for x in got["lat_us"]]
    sent = expected
    return {
        "transport": transport, "feeds": feeds, "packets": sent, "received": got["received"],
        "loss_pct": round(100 * (sent - got["received"]) / sent, 3),
        "p50_ms": round(_pct(lat_ms, 0.50), 3), "p95_ms": round(_pct(lat_ms, 0.95), 3),
        "p99_ms": round(_pct(lat_ms, 0.99), 3),
        "send_us_per_packet": round(1e6 * send_cpu / sent, 2),
        "recv_us_per_packet": round(1e6 * got["cpu_s"] / max(1, got["received"]), 2),
        "redis_us_per_packet": round(1e6 * redis_cpu / sent, 2),
    }


def _start_redis() -> tuple[subprocess.Popen[bytes], str, str]:
    port = _free_port()
    workdir = tempfile.mkdtemp(prefix="mirp-bench-redis-")
    proc = subprocess.Popen(
        [shutil.which("redis-server") or "/usr/bin/redis-server", "--port", str(port), "--bind",
         "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", workdir],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 15
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                if s.recv(64).startswith(b"+PONG"):
                    break
        except OSError:
            pass
        if time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError("redis-server did not start")
        time.sleep(0.05)
    return proc, f"redis://127.0.0.1:{port}/0", workdir


def main() -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.cluster_hop")
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--feeds", default="7,50")
    ap.add_argument("--transports", default=",".join(TRANSPORTS))
    ap.add_argument("--receive", choices=TRANSPORTS)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--redis", default="")
    ap.add_argument("--expected", type=int, default=0)
    ap.add_argument("--idle", type=float, default=15.0)
    args = ap.parse_args()
    if args.receive:
        result = asyncio.run(_receive(args.receive, args.port, args.redis,
                                      int(args.feeds), args.expected, args.idle))
        print(json.dumps(result))
        return 0
    proc, url, workdir = _start_redis()
    rows = []
    try:
        for feeds in [int(f) for f in args.feeds.split(",")]:
            for transport in args.transports.split(","):
                rows.append(asyncio.run(_case(transport, feeds, args.seconds, url, proc.pid)))
                r = rows[-1]
                print(f"{r['transport']:<12}{r['feeds']:>6}{r['received']:>9}"
                      f"{r['loss_pct']:>8}{r['p50_ms']:>9}{r['p95_ms']:>9}{r['p99_ms']:>9}"
                      f"{r['send_us_per_packet']:>10}{r['recv_us_per_packet']:>10}"
                      f"{r['redis_us_per_packet']:>10}", flush=True)
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(workdir, ignore_errors=True)
    print("columns: transport feeds received loss% p50_ms p95_ms p99_ms "
          "send_us/pkt recv_us/pkt redis_us/pkt (CPU time per packet sent)")
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps({
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "cpus": os.cpu_count(), "seconds": args.seconds, "tick_ms": TICK_S * 1000,
        "payload_bytes": "100-160", "rows": rows}, indent=1) + "\n")
    print(f"written: {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
