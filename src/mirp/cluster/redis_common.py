"""What RedisDirectory and RedisBus share: the bounded client, the error translation, the key
names and the lease's stored form (the fenced publish checks the very key the Directory writes).

Every call to Redis is bounded twice: by the socket timeouts of the client (connect, read) and
by an outer `asyncio.timeout`, so a Redis that is away *or hung* (SIGSTOP, a full network
buffer) raises `Unavailable` to the caller within `bound_s`, never blocks it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import redis.asyncio as redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from mirp.cluster.directory import Lease
from mirp.errors import Unavailable

DEFAULT_BOUND_S = 2.0  # one Redis call, connect included; Redis on a LAN answers in < 1 ms

AWAY = (RedisConnectionError, RedisTimeoutError, OSError, TimeoutError)


def connect(url: str, bound_s: float = DEFAULT_BOUND_S) -> redis.Redis:
    """A client that fails fast: no retry of its own (the caller decides), socket timeouts
    at the bound."""
    return redis.Redis.from_url(
        url, socket_connect_timeout=bound_s, socket_timeout=bound_s,
        retry=Retry(NoBackoff(), 0), health_check_interval=0)


@asynccontextmanager
async def bounded(what: str, bound_s: float) -> AsyncIterator[None]:
    """Runs a block of Redis calls within `bound_s`; Redis away or hung -> `Unavailable`."""
    try:
        async with asyncio.timeout(bound_s):
            yield
    except AWAY as exc:
        raise Unavailable(f"redis unavailable during {what}: {type(exc).__name__}: {exc}",
                          {"what": what}) from exc


@dataclass(frozen=True, slots=True)
class Keys:
    """Key and channel names, all under one prefix (several clusters may share one Redis)."""

    prefix: str = "mirp"

    @property
    def nodes(self) -> str:
        return f"{self.prefix}:nodes"

    def node(self, node_id: str) -> str:
        return f"{self.prefix}:node:{node_id}"

    @property
    def node_prefix(self) -> str:
        return f"{self.prefix}:node:"

    def lease(self, meeting: str) -> str:
        return f"{self.prefix}:lease:{meeting}"

    def epoch(self, meeting: str) -> str:
        """Never expires: the epoch must grow even across an expired lease."""
        return f"{self.prefix}:epoch:{meeting}"

    def channel(self, topic: str) -> str:
        return f"{self.prefix}:bus:{topic}"


def lease_value(lease: Lease) -> str:
    """The stored form of a live lease: "<epoch> <node>" (one GET answers both)."""
    return f"{lease.epoch} {lease.node_id}"


def parse_lease(meeting: str, value: bytes | str | None) -> Lease | None:
    if value is None:
        return None
    text = value.decode() if isinstance(value, bytes) else value
    epoch, node_id = text.split(" ", 1)
    return Lease(meeting, node_id, int(epoch))
