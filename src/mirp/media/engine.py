"""PLACEHOLDER, replaced by the media engine (issue 3)."""

from __future__ import annotations


class MediaEngine:
    async def start(self) -> None:
        pass

    async def close(self) -> None:
        pass
