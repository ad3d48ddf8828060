"""PLACEHOLDER, replaced by the store (issue 2)."""

from __future__ import annotations


class Database:
    def __init__(self, url: str) -> None:
        self.url = url

    async def start(self) -> None:
        pass

    async def close(self) -> None:
        pass
