"""What the interpretation domain needs to know about a booth's configuration.

A Protocol, not an import: interpretation is a leaf and may not import rooms.model, whose
BoothSpec satisfies this structurally.
"""

from __future__ import annotations

from typing import Protocol


class BoothSpecLike(Protocol):
    @property
    def language(self) -> str: ...

    @property
    def retour(self) -> str | None: ...

    @property
    def understands(self) -> frozenset[str]: ...

    @property
    def auto_floor(self) -> bool: ...
