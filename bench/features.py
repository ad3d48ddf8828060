"""The feature benchmarks' keys in latest.json: one table of what each issue asked to measure.

The hybrid, webcast, captions and video benchmarks each write their own results file (they run
alone, each in a minute or two, at different times). `python -m bench.report` copies the keys
their issues name from those files into bench/results/latest.json (the other keys kept), with
where and when each came from, and rewrites latest.md, whose table has a row per key with its
goal (report.markdown takes them from `rows`). It measures nothing itself: run the benchmarks
first (bench/README.md says how).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


@dataclass(frozen=True)
class Key:
    """One key an issue asked for: where its value is, what it means and its goal."""

    area: str  # the results file, results/<area>.json, and the benchmark `python -m bench.<area>`
    name: str
    label: str
    goal: str
    met: Callable[[float], bool] | None = None
    path: tuple[str, ...] = ()  # where the value sits in the file ((): at the top level)


def _within(lo: float, hi: float) -> Callable[[float], bool]:
    return lambda v: lo <= v <= hi


KEYS = (
    Key("hybrid", "whep_us_per_packet_listener", "hybrid: µs per packet per WHEP player",
        "= a browser listener's"),
    Key("hybrid", "browser_us_per_packet_listener", "hybrid: µs per packet per browser listener",
        ""),
    Key("hybrid", "room_roundtrip_ms", "hybrid: room -> remote -> room, server's share, ms",
        "<= 60", lambda v: v <= 60),
    Key("webcast", "webcast_latency_s", "webcast: tone in -> heard at the live edge, s",
        "<= 6 (stretch <= 3)", lambda v: v <= 6, ("keys",)),
    Key("webcast", "webcast_viewers_per_core", "webcast: viewers per core", ">= 5,000",
        lambda v: v >= 5000, ("keys",)),
    Key("webcast", "recording_cpu_pct_per_channel", "recording: % of a core per channel",
        "<= 1", lambda v: v <= 1, ("keys",)),
    Key("captions", "caption_latency_p95_s", "captions: end of utterance -> final caption p95, s",
        "<= 2.5", lambda v: v <= 2.5),
    Key("captions", "caption_wer", "captions: word error rate (per language and model)",
        "<= 0.25 each"),
    Key("captions", "caption_rtf", "captions: real-time factor", ""),
    Key("captions", "caption_cores_for_7_channels", "captions: cores for floor + 6 channels",
        "<= 1", lambda v: v <= 1),
    Key("video", "video_us_per_packet_viewer", "video: µs per packet per viewer",
        "<= the audio fan-out's"),
    Key("video", "video_viewers_per_core", "video: viewers per core at 500 kbit/s", ""),
    Key("video", "video_switch_ms_p95", "video: floor given -> new speaker's first frame p95, ms",
        "<= 500", lambda v: v <= 500),
    Key("video", "lipsync_ms", "video: lip sync at the receiver, ms (+ = audio first)",
        "+45 .. -125", _within(-125, 45)),
)


def _value(data: dict[str, Any], key: Key) -> Any:
    node: Any = data
    for step in (*key.path, key.name):
        if not isinstance(node, dict) or step not in node:
            return None
        node = node[step]
    return node


def _wer_met(value: Any) -> bool | None:
    """`caption_wer` is a mapping (language/model -> rate, possibly nested): met if all are."""
    rates: list[float] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for v in node.values():
                walk(v)
        elif isinstance(node, int | float) and not isinstance(node, bool):
            rates.append(float(node))

    walk(value)
    return all(r <= 0.25 for r in rates) if rates else None


def fold(results: Path = RESULTS) -> dict[str, Any]:
    """latest.json with the feature keys of every results file present, and their sources."""
    latest = results / "latest.json"
    res: dict[str, Any] = json.loads(latest.read_text()) if latest.exists() else {}
    sources: dict[str, Any] = {}
    for area in sorted({k.area for k in KEYS}):
        path = results / f"{area}.json"
        if not path.exists():
            continue
        data = json.loads(path.read_text())
        sources[area] = {"file": f"bench/results/{path.name}",
                         "command": f"python -m bench.{area}",
                         "at": data.get("at") or data.get("when")}
        for key in (k for k in KEYS if k.area == area):
            value = _value(data, key)
            if value is not None:
                res[key.name] = value
    res["features_sources"] = sources
    return res


def _fmt(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k} {_fmt(v)}" for k, v in value.items())
    if isinstance(value, float) and math.isfinite(value):
        return f"{value:g}"
    return str(value)


def rows(res: dict[str, Any]) -> list[str]:
    """latest.md's rows of the feature keys that were measured (none when none were)."""
    out = []
    for key in KEYS:
        value = res.get(key.name)
        if value is None:
            continue
        if key.name == "caption_wer":
            met: bool | None = _wer_met(value)
        elif key.met is not None and isinstance(value, int | float):
            met = key.met(float(value))
        else:
            met = None
        mark = "" if met is None else ("yes" if met else "**no**")
        out.append(f"| {key.label} | {_fmt(value)} | {key.goal} | {mark} |")
    return out
