"""`python -m bench.faults`: the fault script of issue 9 (docs/operations.md, "What survives").

    .venv/bin/python -m bench.faults                   # 20 rounds, a 30 s PostgreSQL outage
    .venv/bin/python -m bench.faults --rounds 3 --pg-outage 5

1. **Kills.** `--rounds` rounds of tests/integration/test_fault_kills.py's `one_round` over one
   data directory, each on a fresh meeting: SIGKILL the moment `meeting_open` is acked (then a
   delegate is welcome), the moment `participant_remove` is acked (then the removed delegate is
   refused), the moment `floor_give` is acked with a speakers list and a channel (then they come
   back), the moment `meeting_close` is acked (then nobody is welcome): 4 kills a round. Then
   every record of every round must be in the organizer's report.
2. **A PostgreSQL outage.** A live meeting on a real PostgreSQL (tests/support/postgres.py);
   PostgreSQL is stopped for `--pg-outage` seconds while the chair gives and takes the floor
   (acked: the records wait in the journal); once it is back, every speaking turn acked during
   the outage must be in the report.
3. **Restore** (bench/restore.py): 50 clients, kill -9, `restart_restore_s`.

Prints a table; writes bench/results/faults.json; exits 1 if anything acknowledged was lost.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

import httpx
from tests.integration.test_durability import connect, report
from tests.integration.test_fault_kills import one_round, records_lost
from tests.support.factory import make_meeting_http
from tests.support.server import Server

from bench import restore

RESULTS = Path(__file__).resolve().parent / "results" / "faults.json"


async def kills(rounds: int) -> dict[str, Any]:
    """`rounds` rounds of 4 kills each; a round whose checks fail counts as a loss."""
    failed: list[str] = []
    with tempfile.TemporaryDirectory(prefix="mirp-faults-") as tmp:
        srv = Server(Path(tmp))
        await srv.start()
        meetings = []
        try:
            for i in range(rounds):
                try:
                    meetings.append(await one_round(srv))
                except Exception as exc:
                    failed.append(f"round {i}: {exc!r}"[:300])
                    if srv.proc is None or srv.proc.poll() is not None:
                        await srv.start()
            lost = await records_lost(srv, meetings)
        finally:
            srv.close()
    return {"rounds": rounds, "kills": 4 * rounds, "rounds_failed": failed,
            "meetings_with_records_lost": len(lost), "records_missing": lost}


async def pg_outage(seconds: float) -> dict[str, Any]:
    """PostgreSQL stopped `seconds` while the chair gives and takes the floor."""
    from tests.support.postgres import start_postgres

    with contextlib.ExitStack() as stack:
        pg = stack.enter_context(start_postgres())
        tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="mirp-faults-pg-"))
        srv = Server(Path(tmp), pg.create_database())
        await srv.start()
        try:
            async with httpx.AsyncClient(base_url=srv.base, timeout=30) as http:
                fx = await make_meeting_http(http, delegates=1, interpreters={},
                                             observer=False)
            chair = await connect(srv, fx, "chair")
            d1 = await connect(srv, fx, "delegate1")
            pid = fx.people["delegate1"].participant_id
            pg.stop()
            stopped = time.monotonic()
            acked = refused = 0
            while time.monotonic() - stopped < seconds:
                give = await chair.request("floor_give", participant_id=pid)
                take = await chair.request("floor_take", participant_id=pid)
                if give.get("type") == "ack" and take.get("type") == "ack":
                    acked += 1
                else:
                    refused += 1
                await asyncio.sleep(0.5)
            pg.start()
            back = time.monotonic()
            written, written_after_s = 0, None
            while time.monotonic() - back < 120:
                with contextlib.suppress(Exception):
                    rep = await report(srv, fx)
                    written = sum(s["turns"] for s in rep["speaking"]
                                  if s["participant_id"] == pid)
                    if written >= acked:
                        written_after_s = round(time.monotonic() - back, 2)
                        break
                await asyncio.sleep(0.5)
            await chair.close()
            await d1.close()
        finally:
            srv.close()
    return {"outage_s": seconds, "turns_acked": acked, "turns_refused": refused,
            "turns_written": written, "written_after_s": written_after_s,
            "records_lost": max(0, acked - written)}


async def run(rounds: int, pg_seconds: float, with_restore: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"errors": {}}
    steps: list[tuple[str, Any]] = [("kills", kills(rounds))]
    if pg_seconds:
        steps.append(("pg_outage", pg_outage(pg_seconds)))
    if with_restore:
        steps.append(("restore", restore.run()))
    for name, coro in steps:
        try:
            out[name] = await coro
        except Exception as exc:
            out["errors"][name] = repr(exc)
            traceback.print_exc()
    lost = out.get("kills", {}).get("meetings_with_records_lost", 0)
    lost += out.get("pg_outage", {}).get("records_lost", 0)
    lost += out.get("restore", {}).get("records_lost_on_kill", 0)
    out["records_lost_on_kill"] = lost
    if "restore" in out:
        out["restart_restore_s"] = out["restore"]["restart_restore_s"]
    return out


def markdown(out: dict[str, Any]) -> str:
    k = out.get("kills", {})
    pg = out.get("pg_outage", {})
    rows = [
        "| what | result | goal |", "|---|---|---|",
        f"| SIGKILL right after an acked open / remove / floor_give / close | "
        f"{k.get('kills', '-')} kills, {len(k.get('rounds_failed', []))} rounds failed, "
        f"{k.get('meetings_with_records_lost', '-')} meetings with records lost | 0 lost |",
    ]
    if pg:
        rows.append(f"| PostgreSQL stopped {pg['outage_s']} s in a live meeting | "
                    f"{pg['turns_acked']} turns acked, {pg['turns_written']} written "
                    f"{pg['written_after_s']} s after it came back | all written |")
    if "restart_restore_s" in out:
        r = out["restore"]
        rows.append(f"| restart_restore_s ({r['clients']} clients) | {r['restart_restore_s']} "
                    f"(state ok: {r['restore_state_ok']}) | ≤ 5 |")
    rows.append(f"| records_lost_on_kill | {out['records_lost_on_kill']} | 0 |")
    notes = [f"- {f}" for f in k.get("rounds_failed", [])]
    notes += [f"- {name} failed: {err}" for name, err in out["errors"].items()]
    return "\n".join(rows + notes) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.faults", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=20, help="rounds of 4 kills")
    parser.add_argument("--pg-outage", type=float, default=30.0,
                        help="seconds PostgreSQL is stopped (0: skip)")
    parser.add_argument("--no-restore", action="store_true", help="skip bench/restore.py")
    args = parser.parse_args(argv)
    out = asyncio.run(run(args.rounds, args.pg_outage, not args.no_restore))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(out, indent=2) + "\n")
    print(markdown(out))
    failed = out["records_lost_on_kill"] or out["errors"] or out["kills"]["rounds_failed"]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
