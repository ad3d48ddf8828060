"""The report's connection quality, refused joins and delegations' countries (store/reports.py
reads the rows; these fold them, in its worker).

Percentiles are nearest-rank (the smallest value with at least p % of the samples at or below
it): exact, reproducible by hand, and the same on any database since Python computes them.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from typing import Any

from pydantic import BaseModel

RTT_EDGES_MS = (50.0, 100.0, 200.0, 400.0)  # histogram buckets: <= 50, <= 100, ..., > 400
LOSS_EDGES = (0.01, 0.03, 0.1)  # <= 1 %, <= 3 %, <= 10 %, > 10 %
GRADES = ("good", "fair", "poor", "unknown")


class QualityByRole(BaseModel):
    """The samples of one role: how many, the grades, RTT (ms) and loss (fraction)
    percentiles (None: no sample measured it)."""

    role: str
    participants: int
    samples: int
    good: int
    fair: int
    poor: int
    unknown: int
    rtt_ms_p50: float | None
    rtt_ms_p90: float | None
    rtt_ms_p99: float | None
    loss_p50: float | None
    loss_p90: float | None
    loss_p99: float | None


class QualityBucket(BaseModel):
    """One histogram bar: samples of a role whose `metric` is at most `upper` and above the
    previous bucket's (`upper` None: above the last edge)."""

    role: str
    metric: str  # rtt_ms | loss
    upper: float | None
    samples: int


class FailedJoinCount(BaseModel):
    reason: str
    count: int


class DelegationCountry(BaseModel):
    delegation: str
    country: str | None  # ISO 3166-1 alpha-2 from its invitation(s); None: not given
    participants: int


def percentile(sorted_values: list[float], p: float) -> float | None:
    if not sorted_values:
        return None
    k = max(0, math.ceil(p / 100 * len(sorted_values)) - 1)
    return round(sorted_values[k], 4)


def _histogram(role: str, metric: str, values: list[float],
               edges: tuple[float, ...]) -> list[dict[str, Any]]:
    counts = [0] * (len(edges) + 1)
    for v in values:
        counts[next((i for i, e in enumerate(edges) if v <= e), len(edges))] += 1
    uppers: list[float | None] = [*edges, None]
    return [{"role": role, "metric": metric, "upper": u, "samples": n}
            for u, n in zip(uppers, counts, strict=True)]


def fold_quality(samples: list[Any]) -> dict[str, list[dict[str, Any]]]:
    """`quality` (per role) and `quality_histogram` (per role and metric)."""
    by_role: dict[str, list[Any]] = defaultdict(list)
    for s in samples:
        by_role[s.role].append(s)
    quality, histogram = [], []
    for role, rows in sorted(by_role.items()):
        grades = Counter(r.grade for r in rows)
        rtt = sorted(r.rtt_ms for r in rows if r.rtt_ms is not None)
        loss = sorted(r.loss for r in rows if r.loss is not None)
        quality.append({
            "role": role, "participants": len({r.participant_id for r in rows}),
            "samples": len(rows), **{g: grades.get(g, 0) for g in GRADES},
            **{f"rtt_ms_p{p}": percentile(rtt, p) for p in (50, 90, 99)},
            **{f"loss_p{p}": percentile(loss, p) for p in (50, 90, 99)}})
        histogram += _histogram(role, "rtt_ms", rtt, RTT_EDGES_MS)
        histogram += _histogram(role, "loss", loss, LOSS_EDGES)
    return {"quality": quality, "quality_histogram": histogram}


def fold_failed_joins(rows: list[Any]) -> list[dict[str, Any]]:
    counts = Counter(r.reason for r in rows)
    return [{"reason": reason, "count": n}
            for reason, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]


def fold_delegations(participants: list[Any], countries: dict[str, str | None]
                     ) -> list[dict[str, Any]]:
    """Participants per delegation, with the country of the invitations they came by (when
    invitations of one delegation disagree: that of its earliest participant who has one)."""
    out: dict[str, dict[str, Any]] = {}
    for p in participants:
        if not p.delegation:
            continue
        e = out.setdefault(p.delegation, {"delegation": p.delegation, "country": None,
                                          "participants": 0})
        e["participants"] += 1
        if e["country"] is None and p.invitation_id is not None:
            e["country"] = countries.get(p.invitation_id)
    return sorted(out.values(), key=lambda e: e["delegation"])


def fold_connections(samples: list[Any], failed: list[Any], participants: list[Any],
                     countries: dict[str, str | None]) -> dict[str, list[dict[str, Any]]]:
    """The report's parts this module owns, from the meeting's rows (pure: runs in a worker)."""
    return {**fold_quality(samples), "failed_joins": fold_failed_joins(failed),
            "delegations": fold_delegations(participants, countries)}
