"""PLACEHOLDER, replaced by the media engine (issue 3)."""

from __future__ import annotations

from typing import Any


class PeerFactory:
    def __init__(self, ice_servers: Any, loopback_only: bool = False) -> None:
        self.ice_servers = ice_servers
        self.loopback_only = loopback_only
