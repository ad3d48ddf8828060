"""/healthz: the process answers. /readyz: the database (and Redis when configured) answer."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from mirp.cluster.ping import redis_ping
from mirp.errors import Unavailable

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(request: Request) -> dict[str, Any]:
    """503 (the error shape, `details.checks`) when a dependency does not answer."""
    checks: dict[str, str] = {}
    db = getattr(request.app.state, "db", None)
    try:
        if db is None:
            raise RuntimeError("not started")
        await db.ping()
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"error: {type(exc).__name__}: {exc}"[:300]
    url = request.app.state.settings.redis_url
    if url:
        try:
            await redis_ping(url)
            checks["redis"] = "ok"
        except Exception as exc:
            checks["redis"] = f"error: {type(exc).__name__}: {exc}"[:300]
    rooms = getattr(request.app.state, "rooms", None)
    journal = rooms.recorder.health() if rooms is not None else None
    if journal is not None and journal["journal"] != "ok":
        checks["journal"] = "error: the journal file cannot be written"
    failed = [name for name, state in checks.items() if state != "ok"]
    if failed:
        raise Unavailable(f"not ready: {', '.join(failed)} unreachable",
                          {"checks": checks, "journal": journal})
    # journal: records not yet in the database (depth) and the oldest one's age in seconds
    return {"status": "ready", "checks": checks, "journal": journal}
