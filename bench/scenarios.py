"""The measurements: fan-out ramp, the naive comparison, latency, switch, join storm.

Each scenario starts its own server process (so one does not inherit another's peers) and its own
client processes, and returns plain dicts that bench/report.py turns into latest.json and .md.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import statistics
from dataclasses import dataclass
from typing import Any

from bench.common import machine_busy_seconds, now, percentile, proc_cpu_seconds
from bench.harness import Fleet, ServerHandle, start_server

log = logging.getLogger("bench")

PPS = 50.0  # one 20 ms packet per listener per tick
SHORT = 0.97  # a listener that got < 97 % of 50 packets/s over the window lost packets


@dataclass(frozen=True)
class Sizes:
    """How big each scenario is: `full()` for the documented run, `quick()` for the smoke test."""

    fanout_steps: tuple[int, ...]
    fanout_more: tuple[int, ...]  # tried after the fixed steps until a step loses packets
    naive_steps: tuple[int, ...]
    window_s: float
    settle_s: float
    storm: int
    pulses: int
    switches: int
    background: int
    switch_wait_s: float
    rounds: int = 4  # speaker phases in the latency scenario
    profile_at: int | None = None  # sample the server with py-spy after this fan-out step

    @staticmethod
    def full() -> Sizes:
        return Sizes((20, 50, 100, 200, 400), (600, 800, 1000, 1200), (10, 20), 5.0, 2.0,
                     300, 6, 20, 100, 0.4, 4)

    def replaced(self, steps: str | None, more: str | None, naive: str | None,
                 window_s: float | None, storm: int | None, profile_at: int | None) -> Sizes:
        def ints(text: str | None, default: tuple[int, ...]) -> tuple[int, ...]:
            return default if text is None else tuple(int(x) for x in text.split(",") if x)

        return dataclasses.replace(
            self, fanout_steps=ints(steps, self.fanout_steps), fanout_more=ints(more,
                                                                                self.fanout_more),
            naive_steps=ints(naive, self.naive_steps), window_s=window_s or self.window_s,
            storm=storm or self.storm, profile_at=profile_at)

    @staticmethod
    def quick() -> Sizes:
        return Sizes((3, 8), (), (3,), 1.0, 0.5, 12, 5, 2, 4, 1.5, 1)


async def measure(server: ServerHandle, fleet: Fleet, window_s: float,
                  listeners: list[str]) -> dict[str, Any]:
    """Server CPU, RSS and every listener's packets over one steady window."""
    s0, c0 = await asyncio.gather(server.call("stats"), fleet.snapshot())
    p0, t0, m0 = proc_cpu_seconds(server.pid), now(), machine_busy_seconds()
    await asyncio.sleep(window_s)
    s1, c1 = await asyncio.gather(server.call("stats"), fleet.snapshot())
    p1, t1, m1 = proc_cpu_seconds(server.pid), now(), machine_busy_seconds()
    wanted = set(listeners)
    rates: list[float] = []
    received = gaps = short = 0
    client_cpu = 0.0
    for a, b in zip(c0, c1, strict=True):
        dt = b["t"] - a["t"]
        client_cpu += (b["cpu"] - a["cpu"]) / dt
        for pid, row in b["peers"].items():
            if pid not in wanted or pid not in a["peers"]:
                continue
            got = row[0] - a["peers"][pid][0]
            received += got
            gaps += max(0, row[2] - a["peers"][pid][2])
            rate = got / dt
            rates.append(rate)
            if rate < SHORT * PPS:
                short += 1
    dt_s = s1["t"] - s0["t"]
    cpu = s1["cpu"] - s0["cpu"]
    return {
        "listeners": len(rates),
        "window_s": round(dt_s, 3),
        "server_cpu_pct": round(100.0 * cpu / dt_s, 1),
        # the same seen from outside (/proc, 10 ms ticks): a cross-check of getrusage
        "server_cpu_pct_proc": round(100.0 * (p1 - p0) / (t1 - t0), 1),
        "us_per_packet_listener": round(1e6 * cpu / received, 2) if received else None,
        "packets_received": received,
        "pps_min": round(min(rates), 2) if rates else None,
        "pps_median": round(statistics.median(rates), 2) if rates else None,
        "lost": gaps,
        "short_listeners": short,
        "zero_loss": bool(rates) and gaps == 0 and short == 0,
        # the clients share one core: past ~85 % of it, loss may be theirs, not the server's
        "client_limited": client_cpu > 0.85 * len(os.sched_getaffinity(0)),
        "client_cpu_pct": round(100.0 * client_cpu, 1),
        # everything else the cores did meanwhile: the kernel's loopback work (softirq) for
        # these packets, the orchestrator, and any other process on the machine (noise)
        "others_cpu_pct": round(100.0 * ((m1 - m0) - (p1 - p0)) / (t1 - t0)
                                - 100.0 * client_cpu, 1),
        "server_rss_kb": s1["rss_kb"],
        "server": s1["backend"],
    }


def listener_specs(prefix: str, start: int, n: int, key: str) -> list[dict[str, Any]]:
    return [{"id": f"{prefix}{i}", "role": "listener", "key": key} for i in range(start, start + n)]


def _failed(join: dict[str, Any]) -> list[str]:
    return [f"{pid}: {r['error']}" for pid, r in join["peers"].items() if r["error"]]


async def _with_source(server: ServerHandle, fleet: Fleet, pattern: str = "tone") -> None:
    join = await fleet.join([{"id": "src", "role": "source", "pattern": pattern}], wait_s=30,
                            own_process=True)
    if _failed(join):
        raise RuntimeError(f"source did not connect: {_failed(join)}")
    await server.call("plan", feeds=[{"key": "floor", "recipe": [["src", 1.0]]}])


async def ramp(mode: str, steps: tuple[int, ...], more: tuple[int, ...], sizes: Sizes,
               ) -> list[dict[str, Any]]:
    """Add listeners of one channel step by step; measure a steady window at each step."""
    server = await start_server(mode)
    fleet = Fleet(server)
    results: list[dict[str, Any]] = []
    try:
        if mode == "engine":
            await _with_source(server, fleet)
        ids: list[str] = []
        base = await measure(server, fleet, sizes.window_s, ids)
        base["listeners"] = 0
        results.append(base)
        for i, target in enumerate(steps + more):
            specs = listener_specs("l", len(ids), target - len(ids), "floor")
            try:
                join = await fleet.join(specs, wait_s=60)
            except Exception as exc:  # an overloaded server: keep the steps measured so far
                log.warning("%s: joining %d listeners failed: %r", mode, target, exc)
                break
            failed = _failed(join)
            ids += [s["id"] for s in specs]
            await asyncio.sleep(sizes.settle_s)
            step = await measure(server, fleet, sizes.window_s, ids)
            step["join_failed"] = len(failed)
            step["join_errors"] = failed[:3]
            if mode == "engine" and target == sizes.profile_at:
                from bench.profile import sample

                step["profile"] = await sample(server.pid, sizes.window_s)
            results.append(step)
            log.info("%s %d listeners: %s", mode, target, {k: step[k] for k in (
                "server_cpu_pct", "us_per_packet_listener", "pps_min", "lost", "client_cpu_pct")})
            if i >= len(steps) - 1 and not step["zero_loss"]:
                # past the fixed steps, stop at the first step with loss; one step back halfway
                good = [r["listeners"] for r in results if r["zero_loss"]]
                if mode == "engine" and good and target - max(good) >= 100:
                    try:
                        results.append(await _step_back(server, fleet, ids, max(good), target,
                                                        sizes))
                    except Exception as exc:  # keep what was measured
                        log.warning("step back failed: %r", exc)
                break
    finally:
        await fleet.stop()
        await server.stop()
    return results


async def _step_back(server: ServerHandle, fleet: Fleet, ids: list[str], good: int, bad: int,
                     sizes: Sizes) -> dict[str, Any]:
    """Halfway between the last good step and the first lossy one, by removing listeners."""
    mid = (good + bad) // 2 // 50 * 50 or (good + bad) // 2
    drop = ids[mid:]
    del ids[mid:]
    await server.call("remove", ids=drop)
    await fleet.leave(drop)
    await asyncio.sleep(2 * sizes.settle_s)  # let the overload's backlog clear
    step = await measure(server, fleet, sizes.window_s, ids)
    step["step_back"] = True
    log.info("engine back to %d listeners: %s", mid, {k: step[k] for k in (
        "server_cpu_pct", "us_per_packet_listener", "pps_min", "lost", "client_cpu_pct")})
    return step


def pair_latencies(sources: list[float], sinks: list[float], within_s: float) -> list[float]:
    """For each onset heard, the time since the latest onset sent before it (ms)."""
    out = []
    for t in sinks:
        before = [s for s in sources if s <= t]
        if before and t - before[-1] <= within_s:
            out.append(1000.0 * (t - before[-1]))
    return out


def _latency_plan(speaker: str) -> list[dict[str, Any]]:
    return [
        {"key": "floor", "recipe": [[speaker, 1.0]]},  # what interpreters hear
        {"key": "fr", "recipe": [[speaker, 1.0]]},  # no booth on air: auto-floor
        {"key": "de", "recipe": [["tone", 1.0]]},
        {"key": "es", "recipe": []},  # nobody: silence
    ]


async def latency_and_switch(sizes: Sizes) -> dict[str, Any]:
    """Marker listeners time tone onsets: floor -> auto-floor channel, floor -> interpreter,
    and a listener switching from a silent channel to a toned one.

    On one machine the speaker's 20 ms clock and the server's tick do not drift apart, so the
    wait for the next tick (0-20 ms) would be one random draw for a whole run: the speaker joins
    afresh for each of `rounds` rounds, each at a phase of its own.
    """
    server = await start_server("engine")
    fleet = Fleet(server)
    lat: dict[str, list[float]] = {"interpreter": [], "auto_floor": []}
    rounds: list[dict[str, Any]] = []
    sent_total = 0
    try:
        join = await fleet.join([{"id": "tone", "role": "source", "pattern": "tone"}],
                                wait_s=30, own_process=True)
        if _failed(join):
            raise RuntimeError(f"tone source did not connect: {_failed(join)}")
        speakers = fleet.clients[-1]
        await server.call("plan", feeds=_latency_plan("nobody"))
        markers = [
            {"id": "m_interp", "role": "marker", "key": "floor"},
            {"id": "m_auto", "role": "marker", "key": "fr"},
            {"id": "m_switch", "role": "marker", "key": "es"},
        ]
        join = await fleet.join(markers, wait_s=30, own_process=True)
        if _failed(join):
            raise RuntimeError(f"markers did not connect: {_failed(join)[:3]}")
        join = await fleet.join(listener_specs("bg", 0, sizes.background, "floor"), wait_s=60)
        # Joins stall the server's loop for a moment (and a jitter buffer that saw it stays
        # deeper for a while): measure the steady state, after a settling time.
        await asyncio.sleep(max(1.0, 2 * sizes.settle_s))
        for r in range(sizes.rounds):
            sid = f"spk{r}"
            join = await fleet.join([{"id": sid, "role": "source", "pattern": "pulse"}],
                                    wait_s=30, into=speakers)
            if _failed(join):
                raise RuntimeError(f"speaker did not connect: {_failed(join)}")
            await server.call("plan", feeds=_latency_plan(sid))
            await asyncio.sleep(1.0)
            t_start = now()
            # 200 ms on / 400 ms off: one onset every 0.6 s
            await asyncio.sleep(0.6 * sizes.pulses + 0.3)
            onsets = await fleet.onsets()
            sent = [t for t in onsets[sid] if t >= t_start]
            sent_total += len(sent)
            this = {
                "interpreter": pair_latencies(sent, [t for t in onsets["m_interp"]
                                                     if t >= t_start], 0.5),
                "auto_floor": pair_latencies(sent, [t for t in onsets["m_auto"]
                                                    if t >= t_start], 0.5),
            }
            for k, v in this.items():
                lat[k] += v
            rounds.append({k: percentile(v, 50) for k, v in this.items()})
            await server.call("plan", feeds=_latency_plan("nobody"))
            await server.call("remove", ids=[sid])
            await fleet.leave([sid])
        audible_ms = []
        for _ in range(sizes.switches):
            t_req = now()
            await server.call("switch", id="m_switch", key="de")
            while True:  # poll the marker until it hears the tone (or the wait is over)
                await asyncio.sleep(0.05)
                heard = [t for t in (await fleet.onsets())["m_switch"] if t >= t_req]
                if heard or now() - t_req > sizes.switch_wait_s:
                    break
            if heard and heard[0] - t_req < sizes.switch_wait_s:
                audible_ms.append(1000.0 * (heard[0] - t_req))
            await server.call("switch", id="m_switch", key="es")
            await asyncio.sleep(0.3)
        stats = (await server.call("stats"))["backend"]
    finally:
        await fleet.stop()
        await server.stop()
    return {
        "latency_ms": {k: [round(x, 2) for x in v] for k, v in lat.items()},
        "rounds_p50_ms": [{k: _round(v) for k, v in r.items()} for r in rounds],
        "onsets_sent": sent_total,
        # the measure: switch request in -> first packet of the new channel out
        "switch_ms": [round(x, 2) for x in stats.pop("switch_ms", [])],
        # and what the listener hears: request sent -> first audible frame of the new channel
        "switch_audible_ms": [round(x, 2) for x in audible_ms],
        "switches_tried": sizes.switches,
        "server": stats,
    }


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 2)


async def join_storm(n: int) -> dict[str, Any]:
    """n listeners join at once; done when every one of them receives packets."""
    server = await start_server("engine")
    fleet = Fleet(server)
    try:
        await _with_source(server, fleet)
        await fleet.ensure_room(n)  # client processes are up before the clock starts
        join = await fleet.join(listener_specs("j", 0, n, "floor"), wait_s=120, concurrency=n)
        firsts = [r["first"] for r in join["peers"].values() if r["first"] is not None]
        failed = _failed(join)
        stats = (await server.call("stats"))["backend"]
    finally:
        await fleet.stop()
        await server.stop()
    return {
        "peers": n,
        "receiving": len(firsts),
        "failed": len(failed),
        "errors": failed[:3],
        "seconds": round(max(firsts) - join["t0"], 2) if firsts and not failed else None,
        "p50_s": round(percentile([f - join["t0"] for f in firsts], 50) or 0.0, 2),
        "server": stats,
    }
