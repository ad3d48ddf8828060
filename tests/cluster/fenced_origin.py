"""A stand-in origin in a process of its own, for the paused-then-resumed test: it holds a
meeting's lease through a Keeper and publishes fenced events every 10 ms until it learns it
lost the lease. `careful`: it publishes only while `Keeper.holds()` vouches for the lease (the
design); `reckless`: with the lease it once had, whatever its clock says (only the fence in
Redis stands in the way).

`python -m tests.cluster.fenced_origin URL PREFIX MEETING careful|reckless`
"""

from __future__ import annotations

import asyncio
import sys

from mirp.cluster.bus import Envelope, Kind
from mirp.cluster.directory import Lease, NodeInfo
from mirp.cluster.keeper import Keeper
from mirp.cluster.redis_bus import RedisBus
from mirp.cluster.redis_directory import RedisDirectory
from mirp.errors import Conflict, MirpError

TTL_S = 0.6


async def main(url: str, prefix: str, meeting: str, mode: str) -> None:
    directory = RedisDirectory(url, prefix=prefix, bound_s=1.0)
    bus = RedisBus(url, node_id="a", prefix=prefix, bound_s=1.0)
    lost = asyncio.Event()

    def on_lost(lease: Lease, why: MirpError) -> None:
        print("lost", lease.epoch, why.code, flush=True)
        lost.set()

    keeper = Keeper(directory, lambda: NodeInfo("a", "127.0.0.1:1"), ttl_s=TTL_S,
                    on_lost=on_lost)
    lease = await keeper.acquire(meeting)
    keeper.start()
    print("holding", lease.epoch, flush=True)
    seq = 0
    while not lost.is_set():
        held = keeper.holds(meeting) if mode == "careful" else lease
        if held is not None:
            seq += 1
            try:
                await bus.publish(f"room.{meeting}.events",
                                  Envelope(Kind.EVENT, "a", b"", epoch=held.epoch, seq=seq),
                                  fence=held)
            except Conflict:
                print("refused", seq, flush=True)
                break
        await asyncio.sleep(0.01)  # the stand-in's event rate
    print("closing keeper", flush=True)
    await keeper.stop(leave=False)
    print("closing bus", flush=True)
    await bus.aclose()
    print("closing directory", flush=True)
    await directory.aclose()
    print("stopped", flush=True)


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:5]))
