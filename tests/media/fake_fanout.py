"""A Fanout stand-in that records what the engine publishes (the engine's tests need no network)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mirp.media.plan import FeedKey


class FakeFanout:
    def __init__(self) -> None:
        self.listeners: dict[str, FeedKey] = {}
        self.published: list[tuple[int, dict[FeedKey, bytes]]] = []
        self.closed = 0
        self.fail_publish = False

    def add(self, listener_id: str, sender: Any, key: FeedKey) -> None:
        self.listeners[listener_id] = key

    def switch(self, listener_id: str, key: FeedKey) -> None:
        if listener_id in self.listeners:
            self.listeners[listener_id] = key

    def remove(self, listener_id: str) -> None:
        self.listeners.pop(listener_id, None)

    def keys_in_use(self) -> frozenset[FeedKey]:
        return frozenset(self.listeners.values())

    def publish(self, pts: int, packets: Mapping[FeedKey, bytes]) -> None:
        if self.fail_publish:
            raise RuntimeError("publish failed (test)")
        self.published.append((pts, dict(packets)))

    def stats(self) -> dict[str, int]:
        return {"listeners": len(self.listeners)}

    async def close(self) -> None:
        self.closed += 1

    def payloads(self, key: FeedKey) -> list[bytes]:
        return [p[key] for _, p in self.published if key in p]
