"""`python -m bench`: run every scenario, write bench/results/latest.json and latest.md.

The server and the simulated clients run in separate processes (bench/server.py,
bench/clients.py); this orchestrator only starts them, asks for counters and does the arithmetic.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
import time
import traceback
from typing import Any

from bench import report, scenarios
from bench.harness import pin_orchestrator

log = logging.getLogger("bench")

ALL = ("fanout", "naive", "latency", "e2e", "storm", "wsstorm", "api_load", "restore",
       "cluster")
DEFAULT_OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")


async def run(which: tuple[str, ...], sizes: scenarios.Sizes,
              quick: bool = False) -> dict[str, Any]:
    raw: dict[str, Any] = {"notes": [], "errors": {}}

    async def attempt(name: str, coro: Any) -> Any:
        t = time.monotonic()
        log.info("== %s", name)
        try:
            return await coro
        except Exception as exc:
            log.error("%s failed: %s", name, traceback.format_exc())
            raw["errors"][name] = repr(exc)
            raw["notes"].append(f"scenario {name} failed: {exc!r}")
            return None
        finally:
            log.info("== %s took %.1f s", name, time.monotonic() - t)

    if "fanout" in which:
        raw["fanout_fixed"] = list(sizes.fanout_steps)
        raw["fanout"] = await attempt("fanout", scenarios.ramp(
            "engine", sizes.fanout_steps, sizes.fanout_more, sizes)) or []
    if "naive" in which:
        raw["naive"] = await attempt("naive", scenarios.ramp(
            "naive", sizes.naive_steps, (), sizes)) or []
    if "latency" in which:
        raw["latency"] = await attempt("latency", scenarios.latency_and_switch(sizes))
    if "e2e" in which:
        from bench.e2e import run_e2e

        raw["e2e"] = await attempt("e2e", run_e2e(sizes.pulses * sizes.rounds, sizes.switches,
                                                  sizes.switch_wait_s, sizes.settle_s))
    if "storm" in which:
        raw["storm"] = await attempt("storm", scenarios.join_storm(sizes.storm))
    if "wsstorm" in which:  # 2,000 hellos through /ws (bench/join_storm.py; alone: -m that)
        from bench import join_storm

        hellos = 60 if quick else join_storm.HELLOS
        raw["wsstorm"] = await attempt("wsstorm", join_storm.measure(hellos))
    if "api_load" in which:  # bench/api_load.py: tick jitter while the API works hard
        from bench import api_load

        quick = sizes.storm < 100  # Sizes.quick(): the smoke run
        listeners, rows, rounds = (5, 200, 1) if quick else (100, api_load.ROWS, 3)
        raw["api_load"] = await attempt("api_load", api_load.scenario(listeners, rows, rounds))
    if "restore" in which:  # bench/restore.py: kill -9 with 50 clients, back how soon, lost what
        from bench import restore

        raw["restore"] = await attempt("restore", restore.run(12 if quick else restore.CLIENTS))
    if "cluster" in which:  # bench/cluster.py: an origin and 2 edges; origin SIGKILL heard
        from bench import cluster

        raw["cluster"] = await attempt("cluster", asyncio.to_thread(
            cluster.measure, 20 if quick else 200, 2.0 if quick else 10.0))
    return raw


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true",
                        help="tiny sizes (smoke test): the numbers mean nothing")
    parser.add_argument("--only", default=",".join(ALL),
                        help=f"comma-separated subset of {','.join(ALL)}")
    parser.add_argument("--out", default=DEFAULT_OUT, help="directory for latest.json/latest.md")
    parser.add_argument("--steps", help="fan-out listener counts, e.g. 50,100,200,400")
    parser.add_argument("--more", help="counts tried after --steps until one loses packets")
    parser.add_argument("--naive-steps", help="listener counts of the naive server, e.g. 10,20")
    parser.add_argument("--window", type=float, help="seconds of each steady measuring window")
    parser.add_argument("--storm", type=int, help="peers in the join storm")
    parser.add_argument("--profile", type=int, metavar="LISTENERS",
                        help="sample the server with py-spy after this fan-out step")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose or not args.quick else logging.WARNING,
                        format="%(asctime)s %(message)s", stream=sys.stderr)
    for noisy in ("aioice", "aiortc", "websockets", "uvicorn"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    which = tuple(w for w in args.only.split(",") if w)
    unknown = set(which) - set(ALL)
    if unknown:
        parser.error(f"unknown scenario(s): {', '.join(sorted(unknown))}")
    pin_orchestrator()
    sizes = scenarios.Sizes.quick() if args.quick else scenarios.Sizes.full()
    sizes = sizes.replaced(args.steps, args.more, args.naive_steps, args.window, args.storm,
                           args.profile)
    t0 = time.monotonic()
    raw = asyncio.run(run(which, sizes, args.quick))
    command = "python -m bench" + (" --quick" if args.quick else "")
    for flag in ("only", "steps", "more", "naive_steps", "window", "storm", "profile"):
        value = getattr(args, flag)
        if value is not None and not (flag == "only" and value == ",".join(ALL)):
            command += f" --{flag.replace('_', '-')} {value}"
    result = report.build(raw, command, args.quick)
    result["duration_s"] = round(time.monotonic() - t0, 1)
    result["errors"] = raw["errors"]
    if raw.get("wsstorm"):
        from bench import join_storm

        result.update(join_storm.keys(raw["wsstorm"]))
    if raw.get("restore"):
        result.update({"restart_restore_s": raw["restore"]["restart_restore_s"],
                       "records_lost_on_kill": raw["restore"]["records_lost_on_kill"],
                       "restore_detail": raw["restore"]})
    if raw.get("cluster"):
        result.update(raw["cluster"])
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "latest.json"), "w") as f:
        json.dump(result, f, indent=2)
        f.write("\n")
    with open(os.path.join(args.out, "latest.md"), "w") as f:
        f.write(report.markdown(result))
    print(report.markdown(result))
    return 1 if raw["errors"] else 0
