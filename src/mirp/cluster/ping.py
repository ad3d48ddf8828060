"""A Redis reachability check for /readyz (the cluster's Redis parts live beside it)."""

from __future__ import annotations

import asyncio


async def redis_ping(url: str, timeout_s: float = 2.0) -> None:
    """Raises when Redis at `url` does not answer PING within `timeout_s` seconds."""
    import redis.asyncio as redis

    client = redis.from_url(url, socket_connect_timeout=timeout_s, socket_timeout=timeout_s)
    try:
        async with asyncio.timeout(timeout_s + 0.5):
            if not await client.ping():
                raise ConnectionError("redis did not answer PING")
    finally:
        await client.aclose()
