"""The fault script: a real `mirp serve` process killed with SIGKILL right after each kind of
acknowledged decision, and a PostgreSQL outage during a live meeting.

    .venv/bin/python -m bench.faults                 # 20 kills of each kind, SQLite
    .venv/bin/python -m bench.faults --kills 3 --restore-clients 20 --pg-outage 0

What "nothing lost" means here (docs/operations.md):
- `remove`: the chair's `participant_remove` is acked, the server is killed; after the restart
  the removed delegate's `hello` is refused (4403).
- `close`: the chair's `meeting_close` is acked, the server is killed; after the restart a
  `hello` with an old token is refused, and the REST meeting says `closed`.
- `floor`: `floor_give` acked, killed; after the restart the chair's welcome shows the same
  floor holder.
- `list`: two delegates' `floor_request`s acked, killed; the welcome shows the same list.
- `on_air`: the interpreter's `on_air` acked, killed; the welcome shows the booth on air.
- `turn`: `floor_give` + `floor_take` acked, killed; after the restart (and the journal
  drained) the organizer's report has that speaking turn: a missing one counts in
  `records_lost_on_kill`.
`restart_restore_s`: N clients on several channels and a speakers list; kill -9; the time from
the kill until every client, reconnected with its token, has a welcome showing its own channel
and the same speakers list (server start included).
`pg_outage`: PostgreSQL stopped for S seconds while the chair gives and takes the floor; every
speaking turn acked during the outage must reach the report once PostgreSQL is back.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from tests.integration.conftest import WsClient
from tests.support.factory import MeetingFixture, make_meeting_http
from tests.support.procs import free_port

KINDS = ("remove", "close", "floor", "list", "on_air", "turn")
CHANNELS = ("floor", "en", "fr", "zh", "ar")


class Server:
    """One `mirp serve` process on a fixed port and data directory, restartable."""

    def __init__(self, data_dir: Path, database_url: str | None = None) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.database_url = database_url
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = open(data_dir / "server.log", "ab")  # kept open across restarts

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    def spawn(self) -> None:
        env = dict(os.environ, MIRP_DATA_DIR=str(self.data_dir), MIRP_PORT=str(self.port),
                   MIRP_HOST="127.0.0.1", MIRP_SIGNUP="open", MIRP_LOG_LEVEL="warning")
        if self.database_url:
            env["MIRP_DATABASE_URL"] = self.database_url
        self.proc = subprocess.Popen([sys.executable, "-m", "mirp", "serve"], env=env,
                                     stdout=self.log, stderr=self.log,
                                     start_new_session=True)

    async def start(self) -> None:
        """Start the process (in a session of its own, so a kill takes its children too) and
        wait until /readyz answers 200."""
        self.spawn()
        async with httpx.AsyncClient(base_url=self.base, timeout=2.0) as client:
            async def up() -> bool:
                assert self.proc is not None and self.proc.poll() is None, "server exited"
                with contextlib.suppress(httpx.HTTPError):
                    return (await client.get("/readyz")).status_code == 200
                return False

            deadline = time.monotonic() + 60
            while not await up():
                if time.monotonic() > deadline:
                    raise RuntimeError(f"server did not start; see {self.data_dir}/server.log")
                await asyncio.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL the whole process group (the media process too), and reap."""
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()


@dataclass
class Tally:
    kills: dict[str, int] = field(default_factory=dict)
    lost: dict[str, int] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    records_expected: int = 0
    records_lost: int = 0

    def count(self, kind: str, ok: bool, why: str = "") -> None:
        self.kills[kind] = self.kills.get(kind, 0) + 1
        if not ok:
            self.lost[kind] = self.lost.get(kind, 0) + 1
            self.failures.append(f"{kind}: {why}"[:300])


async def meeting(server: Server, delegates: int = 2) -> MeetingFixture:
    async with httpx.AsyncClient(base_url=server.base, timeout=30.0) as client:
        return await make_meeting_http(client, delegates=delegates,
                                       interpreters={"fr": 1}, observer=False)


async def hello(server: Server, fx: MeetingFixture, key: str) -> WsClient:
    ws = await WsClient.open(server.ws, key)
    await ws.hello(fx.tokens[key])
    return ws


async def report(server: Server, fx: MeetingFixture) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=server.base, timeout=10.0) as client:
        r = await client.get(f"/api/meetings/{fx.meeting_id}/report",
                             headers={"Authorization": f"Bearer {fx.organizer_token}"})
        r.raise_for_status()
        return dict(r.json())


def turns_of(rep: dict[str, Any], pid: str, key: str = "speaking") -> int:
    return sum(e["turns"] for e in rep.get(key, []) if e["participant_id"] == pid)


async def decide_and_kill(server: Server, kind: str, tally: Tally) -> None:
    """One iteration: a fresh meeting, one acked decision, SIGKILL, restart, check."""
    fx = await meeting(server)
    chair = await hello(server, fx, "chair")
    d1, d2 = (fx.people[f"delegate{i}"].participant_id for i in (1, 2))
    others: list[WsClient] = []
    check: Callable[[], Any]
    if kind == "remove":
        others.append(await hello(server, fx, "delegate1"))
        await chair.ok("participant_remove", participant_id=d1)
    elif kind == "close":
        await chair.ok("meeting_close")
    elif kind == "floor":
        others.append(await hello(server, fx, "delegate1"))
        await chair.ok("floor_give", participant_id=d1)
    elif kind == "list":
        for key in ("delegate1", "delegate2"):
            ws = await hello(server, fx, key)
            others.append(ws)
            await ws.ok("floor_request", kind="speak")
    elif kind == "on_air":
        interp = await hello(server, fx, "interpreter_fr1")
        others.append(interp)
        await interp.ok("on_air", on=True)
    elif kind == "turn":
        others.append(await hello(server, fx, "delegate1"))
        await chair.ok("floor_give", participant_id=d1)
        await chair.ok("floor_take", participant_id=d1)
    server.kill()
    for ws in [chair, *others]:
        await ws.close()
    await server.start()

    if kind in ("remove", "close"):
        key = "delegate1" if kind == "remove" else "delegate2"
        ws = await WsClient.open(server.ws, key)
        got = await ws.hello(fx.tokens[key])
        await ws.close()
        refused = got.get("type") != "welcome"
        status = "closed"
        if kind == "close":
            async with httpx.AsyncClient(base_url=server.base, timeout=10.0) as client:
                r = await client.get(f"/api/meetings/{fx.meeting_id}",
                                     headers={"Authorization": f"Bearer {fx.organizer_token}"})
                status = r.json().get("status")
        tally.count(kind, refused and status == "closed",
                    f"hello after restart got {got.get('type')}, meeting {status}")
        return
    key = "interpreter_fr1" if kind == "on_air" else "chair"
    ws = await hello(server, fx, key)
    room = (ws.welcome or {}).get("room", {})
    await ws.close()
    floor = room.get("floor", {})
    if kind == "floor":
        check = lambda: d1 in floor.get("holders", [])  # noqa: E731
    elif kind == "list":
        check = lambda: [s["participant_id"] for s in floor.get("speakers", [])] == [d1, d2]  # noqa: E731
    elif kind == "on_air":
        me = fx.people["interpreter_fr1"].participant_id
        check = lambda: any(b.get("language") == "fr" and b.get("on_air") == me  # noqa: E731
                            for b in room.get("booths", []))
    else:  # turn: the record must reach the database
        tally.records_expected += 1
        deadline = time.monotonic() + 30
        found = 0
        while time.monotonic() < deadline:
            found = turns_of(await report(server, fx), d1)
            if found:
                break
            await asyncio.sleep(0.2)
        if not found:
            tally.records_lost += 1
        tally.count(kind, bool(found), "speaking turn missing from the report")
        return
    tally.count(kind, bool(check()), f"welcome after restart: floor={floor}")


async def restore(server: Server, clients: int) -> float:
    """Kill -9 with `clients` sessions on several channels and a speakers list: seconds until all
    are back with their channel and the same list."""
    delegates = max(2, clients - 3)
    fx = await meeting(server, delegates=delegates)
    keys = [k for k, p in fx.people.items() if p.role in ("delegate", "chair")][:clients]
    sessions = await asyncio.gather(*(hello(server, fx, k) for k in keys))
    want: dict[str, str] = {}
    for i, (key, ws) in enumerate(zip(keys, sessions, strict=True)):
        channel = CHANNELS[i % len(CHANNELS)]
        await ws.ok("subscribe", channel=channel, floor_under=None)
        want[key] = channel
    speakers = [k for k in keys if k.startswith("delegate")][:5]
    for key in speakers:
        await sessions[keys.index(key)].ok("floor_request", kind="speak")
    order = [fx.people[k].participant_id for k in speakers]
    resumes = {k: (ws.welcome or {}).get("resume") for k, ws in zip(keys, sessions, strict=True)}
    t0 = time.monotonic()
    server.kill()
    for ws in sessions:
        await ws.close()
    await server.start()

    async def back(key: str) -> None:
        while True:
            ws = await WsClient.open(server.ws, key)
            got = await ws.hello(fx.tokens[key], resume=resumes[key])
            room = got.get("room", {}) if got.get("type") == "welcome" else {}
            await ws.close()
            ok_channel = room.get("subscription", {}).get("channel") == want[key]
            ok_list = [s["participant_id"] for s in room.get("floor", {}).get("speakers", [])]
            if ok_channel and ok_list == order:
                return
            if time.monotonic() - t0 > 60:
                raise RuntimeError(f"{key} not restored: {room.get('subscription')}, "
                                   f"speakers {ok_list} != {order}")
            await asyncio.sleep(0.1)

    await asyncio.gather(*(back(k) for k in keys))
    return time.monotonic() - t0


async def pg_outage(seconds: float, turns: int) -> dict[str, Any]:
    """PostgreSQL stopped `seconds` while the chair gives and takes the floor `turns` times."""
    from tests.support.postgres import start_postgres

    with tempfile.TemporaryDirectory(prefix="mirp-faults-pg-") as tmp, \
            contextlib.contextmanager(start_postgres)() as pg:
        server = Server(Path(tmp), pg.url(pg.create_database()))
        await server.start()
        try:
            fx = await meeting(server)
            chair = await hello(server, fx, "chair")
            d1 = fx.people["delegate1"].participant_id
            pg.stop()
            t_stop = time.monotonic()
            acked = 0
            while time.monotonic() - t_stop < seconds or acked < turns:
                give = await chair.request("floor_give", participant_id=d1)
                take = await chair.request("floor_take", participant_id=d1)
                if give.get("type") == "ack" and take.get("type") == "ack":
                    acked += 1
                await asyncio.sleep(max(0.0, seconds / max(1, turns) - 0.05))
            pg.start()
            await chair.close()
            deadline = time.monotonic() + 120
            found = 0
            while time.monotonic() < deadline:
                with contextlib.suppress(httpx.HTTPError):
                    found = turns_of(await report(server, fx), d1)
                    if found >= acked:
                        break
                await asyncio.sleep(0.5)
            return {"outage_s": seconds, "turns_acked": acked, "turns_written": found,
                    "records_lost": max(0, acked - found)}
        finally:
            server.stop()


async def run_faults(kills: int, kinds: tuple[str, ...], restore_clients: int,
                     pg_seconds: float) -> dict[str, Any]:
    tally = Tally()
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="mirp-faults-") as tmp:
        server = Server(Path(tmp))
        await server.start()
        try:
            for kind in kinds:
                for _ in range(kills):
                    try:
                        await decide_and_kill(server, kind, tally)
                    except Exception as exc:  # a broken iteration is a loss, said plainly
                        tally.count(kind, False, repr(exc))
                        if server.proc is None or server.proc.poll() is not None:
                            await server.start()
            if restore_clients:
                out["restart_restore_clients"] = restore_clients
                try:
                    out["restart_restore_s"] = round(await restore(server, restore_clients), 2)
                except Exception as exc:
                    out["restart_restore_s"] = None
                    tally.failures.append(f"restore: {exc}")
        finally:
            server.stop()
    out["kills"] = tally.kills
    out["decisions_lost"] = tally.lost
    out["records_expected"] = tally.records_expected
    out["records_lost_on_kill"] = tally.records_lost
    out["failures"] = tally.failures[:20]
    if pg_seconds:
        out["pg_outage"] = await pg_outage(pg_seconds, turns=10)
        out["records_lost_on_kill"] += out["pg_outage"]["records_lost"]
    return out


def markdown(out: dict[str, Any]) -> str:
    rows = ["| kind | kills | lost |", "|---|---|---|"]
    for kind, n in out["kills"].items():
        rows.append(f"| {kind} | {n} | {out['decisions_lost'].get(kind, 0)} |")
    lines = [*rows, ""]
    if "restart_restore_s" in out:
        lines.append(f"restart_restore_s ({out['restart_restore_clients']} clients): "
                     f"{out['restart_restore_s']} (goal ≤ 5)")
    lines.append(f"records_lost_on_kill: {out['records_lost_on_kill']} of "
                 f"{out['records_expected']} kill-time records (goal 0)")
    if "pg_outage" in out:
        lines.append(f"pg_outage: {json.dumps(out['pg_outage'])}")
    for f in out["failures"]:
        lines.append(f"- {f}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.faults", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kills", type=int, default=20, help="kills per kind of decision")
    parser.add_argument("--kinds", default=",".join(KINDS))
    parser.add_argument("--restore-clients", type=int, default=50)
    parser.add_argument("--pg-outage", type=float, default=30.0,
                        help="seconds PostgreSQL is stopped (0: skip)")
    parser.add_argument("--json", help="write the result here too")
    args = parser.parse_args(argv)
    kinds = tuple(k for k in args.kinds.split(",") if k)
    if set(kinds) - set(KINDS):
        parser.error(f"kinds are {', '.join(KINDS)}")
    out = asyncio.run(run_faults(args.kills, kinds, args.restore_clients, args.pg_outage))
    print(markdown(out))
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2) + "\n")
    lost = sum(out["decisions_lost"].values()) + out["records_lost_on_kill"]
    return 1 if lost else 0


if __name__ == "__main__":
    sys.exit(main())
