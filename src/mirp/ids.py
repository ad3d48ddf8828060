"""Identifiers: short, random, URL-safe."""

from __future__ import annotations

import secrets


def new_id(prefix: str = "") -> str:
    return f"{prefix}{secrets.token_urlsafe(9)}"
