"""What a REST read or decision costs when it is made on a node that is not the meeting's
origin (rooms/cluster_rooms.py: forwarded over the Bus to `node.<origin>.decide`).

`python -m bench.cluster_decide [--rounds 300]` starts a redis-server of its own and two wired
app nodes in this process (tests/support/cluster.py `app_nodes`: create_app with
MIRP_REDIS_URL, one SQLite file), opens a meeting with its chair connected, then asks
`ClusterRooms.live_overview` (the organizer's live page) `rounds` times on the origin and on
the other node: `overview_ms` (median, p95) per node. Writes bench/results/cluster_decide.json.
Takes about half a minute.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from tests.integration.conftest import WsClient
from tests.support.cluster import app_nodes
from tests.support.factory import make_meeting
from tests.support.redis import start_redis

RESULTS = Path(__file__).parent / "results" / "cluster_decide.json"


async def run(rounds: int) -> dict[str, Any]:
    out: dict[str, Any] = {"rounds": rounds}
    with start_redis() as redis, tempfile.TemporaryDirectory() as tmp:
        async with app_nodes(Path(tmp), redis.url, cpu_workers=0) as nodes:
            async with httpx.AsyncClient(base_url=nodes.apps["node-a"].base_url,
                                         timeout=30) as http:
                meeting = await make_meeting(http, interpreters={}, observer=False)
            chair = await WsClient.open(f"{nodes.apps['node-a'].ws_url}/ws", "chair")
            try:
                await chair.hello(meeting.tokens["chair"])
                origin = await nodes.origin_of(meeting.meeting_id)
                assert origin is not None
                edge = "node-b" if origin == "node-a" else "node-a"
                for role, name in (("origin", origin), ("edge", edge)):
                    rooms = nodes.rooms(name)
                    times = []
                    for _ in range(rounds):
                        start = time.perf_counter()
                        view = await rooms.live_overview(meeting.meeting_id)
                        times.append((time.perf_counter() - start) * 1000)
                        assert view is not None
                    times.sort()
                    out[f"{role}_overview_ms_p50"] = round(times[len(times) // 2], 3)
                    out[f"{role}_overview_ms_p95"] = round(times[int(len(times) * 0.95)], 3)
            finally:
                await chair.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.cluster_decide")
    ap.add_argument("--rounds", type=int, default=300)
    results = asyncio.run(run(ap.parse_args().rounds))
    print(json.dumps(results, indent=2))
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
