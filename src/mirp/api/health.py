"""/healthz: the process answers. /readyz: the database (and Redis when configured) answer.

/readyz also shows `media`: the media plane's start-up self-check (media/compat.py): the aiortc
and aioice versions, and each fast path over their internals on or off with the reason. A fast
path that is off does not make the server unready (the public-API fallback works, at several
times the CPU), but it must be seen: `media.fast_path` is "off" then, and the log said so.

/readyz runs its checks concurrently, each within CHECK_TIMEOUT_S, so it answers (red) within
about that time even when a dependency hangs rather than refuses: an orchestrator polling it
must learn of a hung database, not hang with it.

In a cluster (MIRP_REDIS_URL) it also shows `cluster`: this node's id, whether its topics are
served and its heartbeat reaches Redis, and its leases ("held", "unproven" while Redis is away,
"none"). Redis away makes the node 503 with `details.status` "degraded": the meetings already
running keep their Sessions and media (their origin keeps mixing, edges keep fanning out), but no
meeting can be placed, no Session can join and no command can cross nodes until Redis is back
(docs/scaling.md, "Redis away").
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter

from mirp.api.deps import AppSettings, Cluster, LiveRooms, Rooms, StartedDb
from mirp.cluster.ping import redis_ping
from mirp.errors import Unavailable

router = APIRouter(tags=["health"])

CHECK_TIMEOUT_S = 1.5  # per check; the checks run at once, so /readyz answers within ~2 s


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


async def _check(probe: Callable[[], Awaitable[object]]) -> str:
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_S):
            await probe()
    except TimeoutError:
        return f"error: no answer within {CHECK_TIMEOUT_S} s"
    except Exception as exc:
        return f"error: {type(exc).__name__}: {exc}"[:300]
    return "ok"


@router.get("/readyz")
async def readyz(db: StartedDb, settings: AppSettings, rooms: Rooms,
                 cluster: Cluster) -> dict[str, Any]:
    """503 (the error shape, `details.checks`) when a dependency does not answer."""
    probes: dict[str, Callable[[], Awaitable[object]]] = {}

    async def database() -> None:
        if db is None:
            raise RuntimeError("not started")
        await db.ping(CHECK_TIMEOUT_S)

    probes["database"] = database
    url = settings.redis_url
    if url:
        probes["redis"] = lambda: redis_ping(url, CHECK_TIMEOUT_S)
    results = await asyncio.gather(*(_check(p) for p in probes.values()))
    checks = dict(zip(probes, results, strict=True))
    media = await _media(rooms)
    journal = rooms.health()
    if journal is not None and journal["journal"] != "ok":
        checks["journal"] = "error: the journal file cannot be written"
    extra: dict[str, Any] = {}
    if cluster is not None:
        node = cluster.cluster_readout()
        extra["cluster"] = {"node_id": node.node_id, "serving": node.serving,
                            "node_alive": node.node_alive, "bus_live": node.bus_live,
                            "leases": node.leases(),
                            "origin_of": node.leases_held + node.leases_unproven,
                            "edge_of": node.edge_rooms}
    failed = [name for name, state in checks.items() if state != "ok"]
    if failed:
        # only Redis away: what runs goes on (degraded); the database away: nothing new works
        status = "degraded" if failed == ["redis"] and cluster is not None else "unready"
        raise Unavailable(f"not ready: {', '.join(failed)} unreachable",
                          {"status": status, "checks": checks, "journal": journal,
                           "media": media, **extra})
    # journal: records not yet in the database (depth) and the oldest one's age in seconds
    return {"status": "ready", "checks": checks, "journal": journal, "media": media, **extra}


async def _media(rooms: LiveRooms) -> dict[str, Any] | str | None:
    """The media plane's self-check (None: no media plane; a string: it did not answer)."""
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_S):
            return await rooms.media_check()
    except TimeoutError:
        return f"error: no answer within {CHECK_TIMEOUT_S} s"
    except Exception as exc:
        return f"error: {type(exc).__name__}: {exc}"[:300]
