"""What media/compat.py's start-up self-check decided (plain values, so they cross the media
process's wire, `Ready` and stats, and reach /readyz without importing aiortc), and the small
shape checks it is written with."""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any

PINNED = {"aiortc": "1.16.0", "aioice": "0.13.0"}  # pyproject.toml pins the same (tested)


@dataclass(frozen=True, slots=True)
class FeatureCheck:
    name: str
    on: bool
    reason: str  # "ok", or the first internal found missing or different


@dataclass(frozen=True, slots=True)
class SelfCheck:
    """What `self_check()` decided; crosses the media process's wire as `to_wire()`."""

    versions: dict[str, str]
    pinned: bool  # the installed versions are PINNED
    features: tuple[FeatureCheck, ...]

    @property
    def all_on(self) -> bool:
        return all(f.on for f in self.features)

    def on(self, feature: str) -> bool:
        return any(f.name == feature and f.on for f in self.features)

    def to_wire(self) -> dict[str, Any]:
        """The shape /readyz shows under `media`."""
        return {"versions": dict(self.versions), "pinned": self.pinned,
                "fast_path": "on" if self.all_on else "off",
                "features": {f.name: {"on": f.on, "reason": f.reason} for f in self.features}}

    @classmethod
    def from_wire(cls, value: dict[str, Any]) -> SelfCheck:
        return cls(versions={str(k): str(v) for k, v in value["versions"].items()},
                   pinned=bool(value["pinned"]),
                   features=tuple(FeatureCheck(str(name), bool(f["on"]), str(f["reason"]))
                                  for name, f in value["features"].items()))

    def summary(self) -> str:
        parts = [f"{f.name} {'on' if f.on else 'OFF (' + f.reason + ')'}" for f in self.features]
        vs = ", ".join(f"{k} {v}" for k, v in self.versions.items())
        return f"{vs} ({'pinned' if self.pinned else 'NOT the pinned ' + str(PINNED)}): " \
               + "; ".join(parts)


# --- shape checks ---------------------------------------------------------------------------


class Missing(Exception):
    """One requirement of a feature is not met; the message says which internal."""


def need(ok: object, what: str) -> None:
    if not ok:
        raise Missing(what)


def has(obj: object, name: str, kind: type | tuple[type, ...] | None = None) -> None:
    need(hasattr(obj, name), f"{type(obj).__name__}.{name} missing")
    if kind is not None:
        need(isinstance(getattr(obj, name), kind),
             f"{type(obj).__name__}.{name} is a {type(getattr(obj, name)).__name__}")


def params(fn: object, expected: list[str], what: str) -> None:
    names = list(inspect.signature(fn).parameters)  # type: ignore[arg-type]
    need(names == expected, f"{what}{tuple(names)}, expected {tuple(expected)}")


def source_has(fn: object, snippets: tuple[str, ...], what: str) -> None:
    """Behaviour we rely on, read from the source (skipped when no source ships)."""
    try:
        text = inspect.getsource(fn)  # type: ignore[arg-type]
    except (OSError, TypeError):
        return
    for snippet in snippets:
        need(snippet in text, f"{what} no longer does `{snippet}`")
