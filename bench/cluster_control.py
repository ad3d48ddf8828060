"""The control path of a cluster (docs/cluster-sessions.md): what a command costs when its
Session is on an edge rather than on the meeting's origin.

`python -m bench.cluster_control [--rounds 300]` starts a redis-server of its own and runs two
nodes in this process (the real RoomRegistry, Room and RoomRuntime; the recording plane and
store of tests/rooms/test_runtime.py; no journal), as tests/cluster/test_sessions_anywhere.py
does, once with LocalDirectory/LocalBus and once with Redis. A chair gives and withdraws the
floor `rounds` times, awaiting each command and then its `floor` event, once on the origin and
once on the edge: `command_to_event_ms` (median, p95) is the time from the command to its event
at the chair's Session. Writes bench/results/cluster_control.json. Takes a few seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from pathlib import Path
from typing import Any

from tests.cluster.conftest import Cluster
from tests.cluster.test_sessions_anywhere import Node
from tests.rooms.test_runtime import Store
from tests.support.redis import start_redis

from mirp.rooms import commands as c

RESULTS = Path(__file__).parent / "results" / "cluster_control.json"


async def _rounds(node: Node, rounds: int) -> dict[str, float]:
    room, chair = await node.enter("chair")
    times = []
    for i in range(rounds):
        cmd = c.FloorGive("p_chair") if i % 2 == 0 else c.FloorWithdraw()
        seen = len(chair.of("floor"))
        start = time.perf_counter()
        await room.command("p_chair", chair, cmd, {"type": "ack", "id": i})
        # one loop turn at a time: the event is seen the turn it lands (an Event would need a
        # Session of its own; this one is the tests')
        while len(chair.of("floor")) == seen:  # noqa: ASYNC110
            await asyncio.sleep(0)
        times.append(time.perf_counter() - start)
    await room.leave_session("p_chair", chair)
    times.sort()
    return {"median_ms": round(statistics.median(times) * 1e3, 3),
            "p95_ms": round(times[int(len(times) * 0.95)] * 1e3, 3)}


async def _run(kind: str, url: str | None, rounds: int) -> dict[str, Any]:
    cluster, store = Cluster(kind, url), Store()
    origin = await Node(cluster, "origin", store, load=0).start()
    edge = await Node(cluster, "edge", store, load=1000).start()
    try:
        return {"origin": await _rounds(origin, rounds), "edge": await _rounds(edge, rounds)}
    finally:
        await edge.stop()
        await origin.stop()
        await cluster.aclose()


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.cluster_control")
    ap.add_argument("--rounds", type=int, default=300)
    args = ap.parse_args()
    results: dict[str, Any] = {"rounds": args.rounds, "command_to_event_ms": {}}
    with start_redis() as redis:
        for kind, url in (("local", None), ("redis", redis.url)):
            results["command_to_event_ms"][kind] = asyncio.run(_run(kind, url, args.rounds))
    print(json.dumps(results, indent=2))
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
