"""Ending the cluster's background tasks (the Keeper's rounds, the RedisBus pump)."""

from __future__ import annotations

import asyncio
import logging

log = logging.getLogger(__name__)


async def end_of(task: asyncio.Task[None]) -> None:
    """Waits for a task that was just cancelled. Not `try: await task; except CancelledError`:
    that would also swallow a cancellation of the caller itself."""
    await asyncio.wait({task})
    if not task.cancelled() and task.exception() is not None:
        log.error("cluster: %s ended with %r", task.get_name(), task.exception())
