"""Turns the scenarios' raw results into latest.json (the issue's keys) and a markdown table."""

from __future__ import annotations

import datetime as dt
import os
import platform
from typing import Any

from bench import features
from bench.common import percentile

GOALS = {
    "fanout_us_per_packet_listener": "<= 30",
    "listeners_per_core_zero_loss": ">= 800",
    "added_latency_ms_p95": "<= 30",
    "switch_ms_p95": "<= 60",
    "join_storm_s": "<= 15 (300 peers)",
    "rss_kb_per_listener": "<= 200",
}


def machine() -> dict[str, Any]:
    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    import aiortc

    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "python": platform.python_version(),
        "aiortc": aiortc.__version__,
    }


def _slope(xs: list[float], ys: list[float]) -> float | None:
    if len(xs) < 2:
        return None
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / den if den else None


def _r(x: float | None, nd: int = 2) -> float | None:
    return None if x is None else round(x, nd)


def build(raw: dict[str, Any], command: str, quick: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "command": command,
        "quick": quick,
        "machine": machine(),
    }
    steps = [s for s in raw.get("fanout", []) if s["listeners"] > 0]
    if steps:
        fixed = raw["fanout_fixed"]
        out["fanout_us_per_packet_listener"] = {
            str(s["listeners"]): s["us_per_packet_listener"] for s in steps
            if s["listeners"] in fixed
        }
        good = [s for s in steps if s["zero_loss"]]
        out["listeners_per_core_zero_loss"] = max((s["listeners"] for s in good), default=0)
        # marginal cost: slope of server CPU over listener-packets/s across the steps
        xs = [s["listeners"] * 50.0 for s in steps]
        ys = [s["server_cpu_pct"] / 100.0 * 1e6 for s in steps]
        slope = _slope(xs, ys)
        out["fanout_marginal_us_per_packet_listener"] = _r(slope)
        base = raw["fanout"][0]
        out["fanout_baseline_cpu_pct"] = base["server_cpu_pct"]
        out["listeners_per_core_projected"] = (
            int((1e6 - base["server_cpu_pct"] * 1e4) / (50.0 * slope)) if slope and slope > 0
            else None
        )
        largest = steps[-1]
        out["encoders"] = largest["server"].get("encoders")
        out["feeds"] = largest["server"].get("feeds")
        out["encoders_by_step"] = {str(s["listeners"]): s["server"].get("encoders") for s in steps}
        rss = _slope([float(s["listeners"]) for s in steps], [float(s["server_rss_kb"])
                                                              for s in steps])
        out["rss_kb_per_listener"] = _r(rss, 1)
        out["fanout_steps"] = raw["fanout"]
        prof = [s for s in steps if "profile" in s]
        if prof:
            out["profile"] = {"listeners": prof[0]["listeners"], **prof[0]["profile"]}
    lat = raw.get("latency")
    if lat:
        out["added_latency_ms_p50"] = {k: _r(percentile(v, 50)) for k, v in
                                       lat["latency_ms"].items()}
        out["added_latency_ms_p95"] = {k: _r(percentile(v, 95)) for k, v in
                                       lat["latency_ms"].items()}
        out["switch_ms_p50"] = _r(percentile(lat["switch_ms"], 50))
        out["switch_ms_p95"] = _r(percentile(lat["switch_ms"], 95))
        out["switch_audible_ms_p50"] = _r(percentile(lat["switch_audible_ms"], 50))
        out["switch_audible_ms_p95"] = _r(percentile(lat["switch_audible_ms"], 95))
        out["latency_detail"] = lat
    e2e = raw.get("e2e")
    if e2e:
        out["e2e"] = {
            "added_latency_ms_p50": {k: _r(percentile(v, 50)) for k, v in
                                     e2e["latency_ms"].items()},
            "added_latency_ms_p95": {k: _r(percentile(v, 95)) for k, v in
                                     e2e["latency_ms"].items()},
            "switch_ms_p50": _r(percentile(e2e["switch_ms"], 50)),
            "switch_ms_p95": _r(percentile(e2e["switch_ms"], 95)),
            "detail": e2e,
        }
    storm = raw.get("storm")
    if storm:
        out["join_storm_s"] = storm["seconds"]
        out["join_storm_detail"] = storm
    naive = raw.get("naive")
    if naive:
        nsteps = [s for s in naive if s["listeners"] > 0]
        out["naive"] = {
            "design": "aiortc stock: MediaRelay().subscribe(decoded tone) per listener, "
                      "each RTCRtpSender encodes",
            "us_per_packet_listener": {str(s["listeners"]): s["us_per_packet_listener"]
                                       for s in nsteps},
            "encoders": nsteps[-1]["server"].get("encoders") if nsteps else None,
            "steps": naive,
        }
        nx = [s["listeners"] * 50.0 for s in naive]
        ny = [s["server_cpu_pct"] / 100.0 * 1e6 for s in naive]
        n_slope = _slope(nx, ny)
        out["naive"]["marginal_us_per_packet_listener"] = _r(n_slope)
        eng = out.get("fanout_us_per_packet_listener", {})
        if nsteps and eng:
            n = str(nsteps[-1]["listeners"])
            n_us = nsteps[-1]["us_per_packet_listener"]
            e_us = eng.get(n)
            out["naive"]["ratio_same_listeners"] = (
                {"listeners": int(n), "naive": n_us, "engine": e_us,
                 "ratio": _r(n_us / e_us, 1)} if n_us and e_us else None)
            m = out.get("fanout_marginal_us_per_packet_listener")
            out["naive"]["ratio_marginal"] = _r(n_slope / m, 1) if n_slope and m else None
    from bench import api_load

    out.update(api_load.report_keys(raw))
    out["goals"] = {**GOALS, **api_load.GOALS}
    out["goals_met"] = {**goals_met(out), **api_load.goals_met(out)}
    out["notes"] = raw.get("notes", [])
    return out


def goals_met(res: dict[str, Any]) -> dict[str, bool | None]:
    """Each goal of the issue against what was measured (None: not measured)."""

    def worst(d: Any) -> float | None:
        vals = [v for v in (d or {}).values() if v is not None] if isinstance(d, dict) else []
        return max(vals) if vals else None

    fan = res.get("fanout_us_per_packet_listener") or {}
    at_largest = fan[max(fan, key=int)] if fan else None
    checks: dict[str, tuple[float | None, float, bool]] = {
        # (measured, bound, higher is better)
        "fanout_us_per_packet_listener": (at_largest, 30.0, False),
        "listeners_per_core_zero_loss": (res.get("listeners_per_core_zero_loss"), 800.0, True),
        "added_latency_ms_p95": (worst(res.get("added_latency_ms_p95")), 30.0, False),
        "switch_ms_p95": (res.get("switch_ms_p95"), 60.0, False),
        "join_storm_s": (res.get("join_storm_s"), 15.0, False),
        "rss_kb_per_listener": (res.get("rss_kb_per_listener"), 200.0, False),
    }
    return {k: None if v is None else (v >= b if up else v <= b)
            for k, (v, b, up) in checks.items()}


def _yes(v: bool | None) -> str:
    return "n/a" if v is None else ("yes" if v else "**no**")


def _fmt(v: Any) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, dict):
        return ", ".join(f"{k}: {_fmt(x)}" for k, x in v.items())
    return str(v)


def markdown(res: dict[str, Any]) -> str:
    m = res["machine"]
    lines = [
        f"# MIRP bench results ({res['date']})",
        "",
        f"Command: `{res['command']}`{' (quick smoke run)' if res['quick'] else ''}. "
        f"Machine: {m['cpus']} cores, {m['cpu_model']}, Python {m['python']}, "
        f"aiortc {m['aiortc']}. Server pinned to one core, clients on the other.",
        "",
        "| metric | measured | goal | met |",
        "|---|---|---|---|",
    ]
    rows = [
        ("fan-out µs per packet per listener (by listeners)", "fanout_us_per_packet_listener"),
        ("fan-out marginal µs per packet per listener", "fanout_marginal_us_per_packet_listener"),
        ("listeners per core at zero loss (measured)", "listeners_per_core_zero_loss"),
        ("listeners per core (projected from marginal cost)", "listeners_per_core_projected"),
        ("encoders / feeds at the largest step", None),
        ("added latency p50 ms", "added_latency_ms_p50"),
        ("added latency p95 ms", "added_latency_ms_p95"),
        ("switch ms p50 / p95 (request in -> first packet of the new channel out)", None),
        ("switch ms p50 / p95, heard (request sent -> first audible frame)", "audible"),
        ("join storm s", "join_storm_s"),
        ("RSS kB per listener", "rss_kb_per_listener"),
    ]
    for label, key in rows:
        if key is None and label.startswith("encoders"):
            val = f"{_fmt(res.get('encoders'))} / {_fmt(res.get('feeds'))}"
            goal = "equal, independent of listeners"
            by_step = set((res.get("encoders_by_step") or {}).values())
            met = _yes(res.get("encoders") == res.get("feeds") and len(by_step) == 1
                       if res.get("encoders") is not None else None)
        elif key == "audible":
            val = (f"{_fmt(res.get('switch_audible_ms_p50'))} / "
                   f"{_fmt(res.get('switch_audible_ms_p95'))}")
            goal, met = "", ""
        elif key is None:
            val = f"{_fmt(res.get('switch_ms_p50'))} / {_fmt(res.get('switch_ms_p95'))}"
            goal = GOALS["switch_ms_p95"]
            met = _yes(res.get("goals_met", {}).get("switch_ms_p95"))
        else:
            val = _fmt(res.get(key))
            goal = GOALS.get(key, "")
            met = _yes(res.get("goals_met", {}).get(key)) if key in GOALS else ""
        lines.append(f"| {label} | {val} | {goal} | {met} |")
    from bench import api_load

    lines += api_load.markdown_rows(res)
    e2e = res.get("e2e")
    if e2e:
        lines.append(f"| end to end through /ws and the Room: latency p50 / p95 ms | "
                     f"{_fmt(e2e['added_latency_ms_p50'])} / {_fmt(e2e['added_latency_ms_p95'])}"
                     f" | {GOALS['added_latency_ms_p95']} (p95) | |")
        lines.append(f"| end to end: switch (`subscribe`) ms p50 / p95 | "
                     f"{_fmt(e2e['switch_ms_p50'])} / {_fmt(e2e['switch_ms_p95'])} | "
                     f"{GOALS['switch_ms_p95']} (p95) | |")
    ws = res.get("join_storm_ws")
    if ws:  # bench/join_storm.py
        key = res.get("join_storm_ws_2000_s")
        lines.append(f"| join storm through /ws: {ws['hellos']} hellos, {ws['concurrency']} at a "
                     f"time, s (welcomed) | {_fmt(ws['duration_s'])} ({ws['welcomed']}) | "
                     f"<= 30 (2000, all welcome) | {_yes(key is not None and key <= 30)} |")
    rs = res.get("restore_detail")
    if rs:  # bench/restore.py
        lines.append(f"| kill -9 with {rs['clients']} clients: all back on their channel with the "
                     f"same floor and list, s | {_fmt(rs['restart_restore_s'])} (state ok: "
                     f"{rs['restore_state_ok']}) | <= 5 | "
                     f"{_yes(rs['restore_state_ok'] and rs['restart_restore_s'] <= 5)} |")
        lines.append(f"| acknowledged records lost on that kill | {rs['records_lost_on_kill']} | 0 "
                     f"| {_yes(rs['records_lost_on_kill'] == 0)} |")
    lines += cluster_rows(res)
    lines += features.rows(res)
    naive = res.get("naive")
    if naive:
        same = naive.get("ratio_same_listeners") or {}
        lines.append(f"| naive (aiortc stock) µs per packet per listener | "
                     f"{_fmt(naive['us_per_packet_listener'])}; marginal "
                     f"{_fmt(naive.get('marginal_us_per_packet_listener'))} | "
                     f"naive ÷ engine: {_fmt(same.get('ratio'))} at {_fmt(same.get('listeners'))}"
                     f" listeners, {_fmt(naive.get('ratio_marginal'))} marginal | |")
    steps = res.get("fanout_steps")
    if steps:
        lines += ["", "## Fan-out steps (one channel)", "",
                  "| listeners | server CPU % | µs/pkt/listener | pps min | lost | client CPU % "
                  "| others CPU % | RSS kB | encoders |", "|---|---|---|---|---|---|---|---|---|"]
        for s in steps:
            lines.append(
                f"| {s['listeners']} | {s['server_cpu_pct']} | {_fmt(s['us_per_packet_listener'])}"
                f" | {_fmt(s['pps_min'])} | {s['lost']}+{s['short_listeners']} short "
                f"| {s['client_cpu_pct']} | {s.get('others_cpu_pct')} | {s['server_rss_kb']} | "
                f"{_fmt(s['server'].get('encoders'))} |")
    prof = res.get("profile")
    if prof and prof.get("samples"):
        lines += ["", f"## Where the server's time goes at {prof['listeners']} listeners "
                  f"(py-spy, {prof['samples']} samples, {prof['idle_pct']} % idle in epoll)", "",
                  "| inclusive % | function | | self % | function |", "|---|---|---|---|---|"]
        for a, b in zip(prof["inclusive_pct"][:15], prof["self_pct"][:15], strict=False):
            lines.append(f"| {a[1]} | `{a[0]}` | | {b[1]} | `{b[0]}` |")
    if res.get("notes"):
        lines += ["", "## Notes", ""] + [f"- {n}" for n in res["notes"]]
    return "\n".join(lines) + "\n"


CLUSTER_GOALS = {"cluster_edge_vs_single_pct": "<= +10 %",
                 "cluster_hop_added_latency_ms_p95": "<= 5", "cluster_failover_s": "<= 5"}


def cluster_rows(res: dict[str, Any]) -> list[str]:
    """latest.md's rows of the cluster keys (none when they were not measured)."""
    if res.get("cluster_edge_us_per_packet_listener") is None:
        return []
    pct, hop, fo = (res.get("cluster_edge_vs_single_pct"),
                    res.get("cluster_hop_added_latency_ms_p95"), res.get("cluster_failover_s"))
    return [
        f"| cluster: edge µs per packet per listener (single process, same round) | "
        f"{res['cluster_edge_us_per_packet_listener']} "
        f"({res.get('cluster_single_process_us_per_packet_listener')}; {pct:+} %) | "
        f"{CLUSTER_GOALS['cluster_edge_vs_single_pct']} | {_yes(pct is not None and pct <= 10)} |"
        if pct is not None else "| cluster: edge µs per packet per listener | n/a | | |",
        f"| cluster: hop's added latency p95 ms (origin -> edge, loopback) | {hop} | "
        f"{CLUSTER_GOALS['cluster_hop_added_latency_ms_p95']} | "
        f"{_yes(None if hop is None else hop <= 5)} |",
        f"| cluster: origin CPU % per relayed feed | "
        f"{res.get('cluster_origin_cpu_pct_per_feed')} | | |",
        f"| cluster: origin SIGKILL -> every edge listener hears its channel again, s | {fo} | "
        f"{CLUSTER_GOALS['cluster_failover_s']} | {_yes(None if fo is None else fo <= 5)} |",
    ]


def main() -> None:
    """`python -m bench.report`: fold the feature benchmarks' keys into latest.json and .md."""
    import json
    from pathlib import Path

    res = features.fold()
    results = Path(__file__).resolve().parent / "results"
    (results / "latest.json").write_text(json.dumps(res, indent=2) + "\n")
    if "machine" in res:
        (results / "latest.md").write_text(markdown(res))
    print("| metric | measured | goal | met |\n|---|---|---|---|")
    print("\n".join(features.rows(res)))


if __name__ == "__main__":
    main()
