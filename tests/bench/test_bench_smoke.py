"""A tiny run of the benchmark harness (`python -m bench --quick`): it must produce a well-formed
result with every key the issue asks for, measured from real processes (a server running the real
MediaEngine + PeerFactory, aiortc client processes, the naive aiortc server). No timing asserts:
the numbers of a quick run on a busy machine mean nothing, only their presence and shape do.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _num(x: object) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool)


def test_quick_bench_writes_a_complete_result(tmp_path: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--out", str(tmp_path)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=240,
    )
    assert proc.returncode == 0, f"bench failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}"
    res = json.loads((tmp_path / "latest.json").read_text())
    assert res["errors"] == {}
    assert res["quick"] is True

    # fan-out: one figure per fixed step, each from packets really counted by the clients
    fan = res["fanout_us_per_packet_listener"]
    assert set(fan) == {"3", "8"}
    assert all(_num(v) and v > 0 for v in fan.values()), fan
    steps = res["fanout_steps"]
    assert [s["listeners"] for s in steps] == [0, 3, 8]
    for s in steps[1:]:
        assert s["packets_received"] > 0, s
        assert s["server"]["fanout"]["packets_sent"] > 0, s
        assert s["server"]["listeners"] == s["listeners"], s
        assert isinstance(s["zero_loss"], bool)
    assert _num(res["listeners_per_core_zero_loss"])
    # one encoder for the one channel, whatever the listener count
    assert res["encoders"] == res["feeds"] == 1
    assert set(res["encoders_by_step"].values()) == {1}
    assert _num(res["rss_kb_per_listener"])

    # latency markers on both paths, and the switch
    for key in ("added_latency_ms_p50", "added_latency_ms_p95"):
        assert set(res[key]) == {"auto_floor", "interpreter"}
        assert all(_num(v) and v > 0 for v in res[key].values()), res[key]
    assert _num(res["switch_ms_p95"]) and res["switch_ms_p95"] > 0
    assert _num(res["switch_audible_ms_p95"]) and res["switch_audible_ms_p95"] > 0
    # both directions of each switch are seen leaving the server
    assert len(res["latency_detail"]["switch_ms"]) == 2 * res["latency_detail"]["switches_tried"]

    storm = res["join_storm_detail"]
    assert storm["receiving"] == storm["peers"] == 12 and storm["failed"] == 0, storm
    assert _num(res["join_storm_s"]) and res["join_storm_s"] > 0

    # the naive comparison: aiortc's stock path, one encoder per listener
    naive = res["naive"]
    assert _num(naive["us_per_packet_listener"]["3"]) and naive["us_per_packet_listener"]["3"] > 0
    assert naive["encoders"] == 3
    assert naive["ratio_same_listeners"]["listeners"] == 3
    assert _num(naive["ratio_same_listeners"]["ratio"])

    # end to end through the real app (/ws, Room, engine): every participant connected, the
    # floor heard on both paths
    e2e = res["e2e"]["detail"]
    assert e2e["latency_ms"]["interpreter"] and e2e["latency_ms"]["auto_floor"], e2e
    assert len(e2e["switch_ack_ms"]) == e2e["switches_tried"], e2e
    assert e2e["server"]["listeners"] == 5, e2e["server"]

    md = (tmp_path / "latest.md").read_text()
    assert "| metric | measured | goal |" in md
    assert "naive" in md
