"""Failover of a meeting's origin (docs/cluster-sessions.md, "Failover"), at the control level.

`python -m bench.cluster_failover [--runs 3] [--listeners 50] [--ttl 3]` starts a redis-server of
its own. Each run: an origin node in a process of its own (tests/cluster/failover_node.py), a
spare and an edge in this process (tests/cluster/failover_support.py); through the edge a chair,
a delegate holding the floor, one asking for it, an interpreter on air and `listeners` delegates
on the French channel. The origin is killed with SIGKILL; timed from the kill:
- `welcomed_s`: every Session on the edge welcomed again (resumed) by the new origin;
- `command_s`: then a command from the edge acked by the new origin.
`cluster_failover_s` is the median `welcomed_s` (the goal is 5 s; the lease TTL bounds most of
it: the dead origin's lease must expire first). The media part (listeners hearing their channel
again) is measured with the media path.

It also measures what the shared snapshot adds to an ack (`ack_ms`: a chair's command on the
origin, acked once its snapshot is durable, 300 rounds; without and with the Redis copy,
without and with a journal file: the fsync and the Redis write run side by side).
Writes bench/results/cluster_failover.json. Takes about `runs` x (TTL + 2) seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.cluster.conftest import Cluster
from tests.cluster.failover_support import Node, kill_the_origin
from tests.rooms.test_runtime import Store
from tests.support.redis import start_redis

from mirp.rooms import commands as c

RESULTS = Path(__file__).parent / "results" / "cluster_failover.json"


async def _acks(url: str, shared: bool, journal: Path | None,
                rounds: int) -> dict[str, float]:
    cluster = Cluster("redis", url)
    node = await Node(cluster, "origin", Store(), 0, ttl_s=3.0, shared=shared,
                      journal=journal).start()
    try:
        room, chair = await node.enter("chair")
        times = []
        for i in range(rounds):
            cmd = c.FloorGive("p_chair") if i % 2 == 0 else c.FloorWithdraw()
            start = time.perf_counter()
            await room.command("p_chair", chair, cmd, {"type": "ack", "id": i})
            times.append(time.perf_counter() - start)
        times.sort()
        return {"median_ms": round(statistics.median(times) * 1e3, 3),
                "p95_ms": round(times[int(len(times) * 0.95)] * 1e3, 3)}
    finally:
        await node.stop()
        await cluster.aclose()


async def _run(url: str, runs: int, listeners: int, ttl_s: float) -> dict[str, Any]:
    out: dict[str, Any] = {"ttl_s": ttl_s, "listeners": listeners, "runs": []}
    for _ in range(runs):
        seen = await kill_the_origin(url, ttl_s=ttl_s, listeners=listeners)
        ok = seen.resumed and seen.closed == 0 and all(a == seen.before for a in seen.after)
        out["runs"].append({"welcomed_s": round(seen.welcomed_s, 3),
                            "command_s": round(seen.command_s, 3), "state_kept": ok})
    out["cluster_failover_s"] = round(statistics.median(
        r["welcomed_s"] for r in out["runs"]), 3)
    with tempfile.TemporaryDirectory(prefix="mirp-bench-") as tmp:
        out["ack_ms"] = {
            "no_journal_file": await _acks(url, False, None, 300),
            "shared_snapshot_only": await _acks(url, True, None, 300),
            "journal_file": await _acks(url, False, Path(tmp) / "a.bin", 300),
            "journal_file_and_shared": await _acks(url, True, Path(tmp) / "b.bin", 300)}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--listeners", type=int, default=50)
    parser.add_argument("--ttl", type=float, default=3.0, help="the lease TTL, seconds")
    args = parser.parse_args()
    with start_redis() as server:
        results = asyncio.run(_run(server.url, args.runs, args.listeners, args.ttl))
    print(f"origin SIGKILL -> edge Sessions welcomed again (TTL {args.ttl:g} s, "
          f"{args.listeners} listeners + 4 on the edge)")
    print("| run | welcomed (s) | command acked (s) | state kept |")
    print("|---|---|---|---|")
    for i, r in enumerate(results["runs"], 1):
        print(f"| {i} | {r['welcomed_s']:.3f} | {r['command_s']:.3f} | {r['state_kept']} |")
    print(f"cluster_failover_s = {results['cluster_failover_s']}")
    acks = results["ack_ms"]
    print("| ack (ms) | median | p95 |\n|---|---|---|")
    for k, v in acks.items():
        print(f"| {k} | {v['median_ms']} | {v['p95_ms']} |")
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
