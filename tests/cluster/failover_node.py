"""A cluster node in a process of its own, to be killed (SIGKILL) as a crashed origin: a
RoomRegistry behind a ClusterDoor with Redis (Directory, Bus, shared snapshots), the test
store and plane of tests/rooms/test_runtime.py. It says "ready" once it is in the Directory,
then serves until killed, and "deposed" when it stops serving a meeting (a paused origin
resumed after another node took its meeting over).

`python -m tests.cluster.failover_node URL PREFIX NAME LOAD TTL_S`
"""

from __future__ import annotations

import asyncio
import sys

from tests.cluster.conftest import Cluster
from tests.cluster.failover_support import Node
from tests.rooms.test_runtime import Store


async def main(url: str, prefix: str, name: str, load: str, ttl_s: str) -> None:
    cluster = Cluster("redis", url)
    cluster.prefix = prefix
    node = await Node(cluster, name, Store(), int(load), ttl_s=float(ttl_s)).start()
    print("ready", flush=True)
    served = False
    try:
        while True:  # says when it stopped serving a meeting it served (deposed)
            if node.door.hosts:
                served = True
            elif served:
                print("deposed", flush=True)
                served = False
            await asyncio.sleep(0.05)
    finally:
        await node.stop()
        await cluster.aclose()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:6]))
