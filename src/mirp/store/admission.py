"""PLACEHOLDER, replaced by the store (issue 2)."""

from __future__ import annotations

from typing import Any


class Admission:
    def __init__(self, db: Any, settings: Any) -> None:
        self.db = db
        self.settings = settings
