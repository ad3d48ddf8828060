"""The cluster's keys of latest.json (issue 11), from its two measurements.

`python -m bench.cluster` (about two minutes) runs
- bench/cluster_edge.py (`--rounds 1`, a process of its own): an origin and 2 edges, 200
  listeners split between the edges: `cluster_edge_us_per_packet_listener` (and the
  single-process figure of the same round, `cluster_edge_vs_single_pct`),
  `cluster_hop_added_latency_ms_p95`, `cluster_origin_cpu_pct_per_feed`;
- bench/cluster_failover_media.py (`--runs 1`): three real `mirp serve` processes, the origin
  SIGKILLed: `cluster_failover_s`, every listener on the edges hearing its channel again;
then merges those keys into bench/results/latest.json (the other keys kept) and rewrites
latest.md. `python -m bench --only cluster` measures the same within a full run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench import cluster_edge, cluster_failover_media, report

RESULTS = Path(__file__).parent / "results"


def _edge(listeners: int, window: float) -> dict[str, Any]:
    """cluster_edge.py in a process of its own (it pins its servers and itself to cores)."""
    subprocess.run([sys.executable, "-m", "bench.cluster_edge", "--rounds", "1",
                    "--listeners", str(listeners), "--window", str(window)],
                   check=True, env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    result: dict[str, Any] = json.loads(cluster_edge.RESULTS.read_text())
    return result


def measure(listeners: int = 200, window: float = 10.0, failover_runs: int = 1
            ) -> dict[str, Any]:
    edge = _edge(listeners, window)
    s = edge["summary"]
    failover = asyncio.run(cluster_failover_media.run(failover_runs, 4))
    cluster_failover_media.RESULTS.write_text(json.dumps(failover, indent=2) + "\n")
    return {
        "cluster_edge_us_per_packet_listener": s["median_cluster_edge_us_per_packet_listener"],
        "cluster_single_process_us_per_packet_listener":
            s["median_single_process_us_per_packet_listener"],
        "cluster_edge_vs_single_pct": s["cluster_edge_vs_single_pct"][0],
        "cluster_hop_added_latency_ms_p95": max(s["cluster_hop_added_latency_ms_p95"]),
        "cluster_origin_cpu_pct_per_feed": max(s["cluster_origin_cpu_pct_per_feed"]),
        "cluster_failover_s": failover["cluster_failover_s"],
        "cluster_detail": {"edge": {k: v for k, v in edge.items() if k != "machine"},
                           "failover": failover},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listeners", type=int, default=200)
    parser.add_argument("--window", type=float, default=10.0)
    parser.add_argument("--failover-runs", type=int, default=1)
    args = parser.parse_args()
    keys = measure(args.listeners, args.window, args.failover_runs)
    latest = RESULTS / "latest.json"
    res: dict[str, Any] = json.loads(latest.read_text()) if latest.exists() else {}
    res.update(keys)
    res["cluster_command"] = "python -m bench.cluster"
    latest.write_text(json.dumps(res, indent=2) + "\n")
    if "machine" in res:
        (RESULTS / "latest.md").write_text(report.markdown(res))
    print("\n".join(report.cluster_rows(res)))


if __name__ == "__main__":
    main()
