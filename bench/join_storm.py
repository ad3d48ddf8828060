"""`join_storm_ws_2000_s`: 2,000 `hello`s through `/ws`, 200 at a time, against a real server.

    python -m bench.join_storm                  # the measure: writes its keys into latest.json
    python -m bench.join_storm --hellos 600     # smaller; --concurrency, --limits '{...}'
    python -m bench --only wsstorm              # the same, run by the bench

Two processes: the server (`python -m bench.join_storm serve`: create_app() under uvicorn,
SQLite in a temporary directory, one open meeting with as many participants as hellos) and this
orchestrator, whose clients each connect to `/ws`, send `hello`, answer pings, and close once
`welcome` arrives, 200 of them at any time. They act as the browser does (web/js/protocol.js):
a close worth retrying (1xxx: 1013 busy, 1008 no hello in time, 1001) is retried after an
exponential back-off with jitter; a 44xx close is final and counts as a failure. The time is
from the first connect to the last welcome; every hello's own time (connect → welcome, retries
included) gives the p50/p95.

`serve` is also what tests/integration/test_admission.py runs as its real server process.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import random
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

log = logging.getLogger("bench.join_storm")

HELLOS = 2000
CONCURRENCY = 200
GOAL_S = 30.0
FINAL = range(4400, 4500)


# ------------------------------------------------------------------ the server process

async def _make_people(app: Any, count: int) -> tuple[str, list[str]]:
    """One open meeting with `count` participants; their participant tokens."""
    from tests.support.factory import make_meeting, standard_meeting_body

    from mirp.store import invites, repo
    from mirp.store.schemas import InvitationIn, JoinIn

    body = standard_meeting_body(options={"under_levels_db": [-12, -18, -24],
                                          "capacity": max(count, 10)})
    fx = await make_meeting(app, body=body, delegates=0, interpreters={}, observer=False,
                            chair=False)
    db, settings = app.state.db, app.state.settings
    async with db.session() as session:
        meeting = await repo.load_meeting(session, fx.meeting_id)
        inv = await invites.add_invitation(session, settings, meeting, InvitationIn(
            role="delegate", max_uses=None))  # type: ignore[arg-type]
        inv_token = invites.invitation_token(settings, inv)
    tokens: list[str] = []
    while len(tokens) < count:
        async with db.session() as session:
            for _ in range(min(200, count - len(tokens))):
                joined = await invites.join(session, settings, JoinIn(
                    token=inv_token, name=f"Delegate {len(tokens) + 1}"))
                tokens.append(joined.participant_token)
    return fx.meeting_id, tokens


async def _serve(participants: int, limits: dict[str, Any], data_dir: Path,
                 more: dict[str, Any]) -> None:
    from tests.support.factory import served_app

    from bench.common import raise_fd_limit

    raise_fd_limit()
    settings: dict[str, Any] = {**more, "limits": limits} if limits else dict(more)
    async with served_app(data_dir, **settings) as served:
        meeting_id, tokens = await _make_people(served.app, participants)
        people = data_dir / "tokens.json"
        people.write_text(json.dumps(tokens))
        print("READY " + json.dumps({"ws_url": served.ws_url, "base_url": served.base_url,
                                     "meeting_id": meeting_id, "tokens": str(people)}),
              flush=True)
        loop = asyncio.get_running_loop()
        stdin = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdin), sys.stdin)
        await stdin.readline()  # the orchestrator closes our stdin (or says anything) to stop


class Server:
    """`serve` in a process of its own (the sources on PYTHONPATH: give another tree's `src`
    to measure its code)."""

    def __init__(self, participants: int, limits: dict[str, Any] | None = None,
                 src: str | None = None, settings: dict[str, Any] | None = None) -> None:
        self.participants = participants
        self.limits = limits or {}
        self.settings = settings or {}  # other Settings fields, e.g. database_url
        self.src = src
        self.proc: subprocess.Popen[str] | None = None
        self.tmp = tempfile.TemporaryDirectory(prefix="mirp-joinstorm-")
        self.info: dict[str, Any] = {}
        self.tokens: list[str] = []
        self.log_path = Path(self.tmp.name) / "server.log"

    def start(self, within_s: float = 180.0) -> Server:
        root = Path(__file__).resolve().parents[1]
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([self.src or str(root / "src"), str(root)])
        with self.log_path.open("w") as logf:  # the child keeps its own copy of the descriptor
            self.proc = self._spawn(env, root, logf)
        assert self.proc.stdout is not None
        deadline = time.monotonic() + within_s
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if line.startswith("READY "):
                self.info = json.loads(line[6:])
                self.tokens = json.loads(Path(self.info["tokens"]).read_text())
                return self
            if not line and self.proc.poll() is not None:
                break
        self.stop()
        raise RuntimeError(f"the server did not start: {self.log()[-2000:]}")

    def _spawn(self, env: dict[str, str], root: Path, logf: IO[str]) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "bench.join_storm", "serve",
             "--participants", str(self.participants), "--limits", json.dumps(self.limits),
             "--settings", json.dumps(self.settings),
             "--data-dir", self.tmp.name],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=logf, text=True, env=env,
            cwd=str(root))

    @property
    def ws_url(self) -> str:
        return str(self.info["ws_url"]) + "/ws"

    def log(self) -> str:
        return self.log_path.read_text() if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(Exception):
                assert self.proc.stdin is not None
                self.proc.stdin.close()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc is not None and self.proc.stdout is not None:
            self.proc.stdout.close()
        self.tmp.cleanup()


# ------------------------------------------------------------------ the clients

@dataclass
class Outcome:
    welcomed: int = 0
    retries: int = 0
    final: dict[str, int] = field(default_factory=dict)  # "code reason" -> count
    retried: dict[str, int] = field(default_factory=dict)  # close codes retried -> count
    latencies: list[float] = field(default_factory=list)
    duration_s: float = 0.0


async def _stay(ws: Any, out: Outcome) -> None:
    """A participant who stays: reads the room's events and answers pings until closed."""
    import websockets

    try:
        async for raw in ws:
            if '"ping"' in raw[:20]:
                await ws.send(json.dumps({"type": "pong", "t": json.loads(raw).get("t")}))
    except websockets.ConnectionClosed:
        pass
    finally:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(ws.close(), 2)
    if ws.close_code not in (1000, None):
        key = f"after welcome: {ws.close_code} {ws.close_reason}"
        out.final[key] = out.final.get(key, 0) + 1


async def one_hello(url: str, token: str, out: Outcome, *, retry: bool = True,
                    attempts: int = 12, within_s: float = 120.0,
                    stay: list[asyncio.Task[None]] | None = None) -> bool:
    """One participant joining as the browser does; True once welcomed. With `stay`, the
    socket stays open (a task reading it is appended to `stay`), as a participant stays."""
    import websockets

    t0 = time.monotonic()
    for attempt in range(attempts):
        code, reason = None, ""
        try:
            ws: Any = await websockets.connect(url, ping_interval=None, open_timeout=within_s,
                                          close_timeout=2, max_size=2**24)
            try:
                await ws.send(json.dumps({"type": "hello", "id": 1, "v": 1, "token": token}))
                async with asyncio.timeout(within_s):
                    async for raw in ws:
                        # a welcome can be large: known by its start, not parsed (cheap clients)
                        welcome = raw.startswith('{"type":"welcome"')
                        msg = {"type": "welcome"} if welcome else json.loads(raw)
                        if msg.get("type") == "welcome":
                            out.welcomed += 1
                            out.latencies.append(time.monotonic() - t0)
                            if stay is not None:
                                stay.append(asyncio.create_task(_stay(ws, out)))
                                ws = None
                            return True
                        if msg.get("type") == "ping":
                            await ws.send(json.dumps({"type": "pong", "t": msg.get("t")}))
                code, reason = ws.close_code, ws.close_reason or ""
            finally:
                if ws is not None:
                    await ws.close()
        except websockets.ConnectionClosed as exc:
            code, reason = (exc.rcvd.code, exc.rcvd.reason) if exc.rcvd else (1006, "")
        except (OSError, TimeoutError, websockets.InvalidHandshake) as exc:
            code, reason = 1006, type(exc).__name__
        if code in FINAL or not retry:
            key = f"{code} {reason}"
            out.final[key] = out.final.get(key, 0) + 1
            return False
        out.retries += 1
        out.retried[str(code)] = out.retried.get(str(code), 0) + 1
        delay = min(8.0, 0.3 * 2 ** min(attempt, 5)) * (0.7 + random.random() * 0.6)
        await asyncio.sleep(delay)
    out.final["gave up"] = out.final.get("gave up", 0) + 1
    return False


async def storm(url: str, tokens: list[str], concurrency: int, *,
                retry: bool = True, stay: bool = False) -> Outcome:
    """Every token says hello once, `concurrency` hellos in flight at any time. With `stay`
    (the default, as participants do) the welcomed stay connected until the storm is over."""
    out = Outcome()
    sem = asyncio.Semaphore(concurrency)
    staying: list[asyncio.Task[None]] | None = [] if stay else None

    async def client(token: str) -> None:
        async with sem:
            await one_hello(url, token, out, retry=retry, stay=staying)

    t0 = time.monotonic()
    try:
        await asyncio.gather(*(client(tok) for tok in tokens))
        out.duration_s = time.monotonic() - t0
    finally:
        for task in staying or []:
            task.cancel()
        await asyncio.gather(*(staying or []), return_exceptions=True)
    return out


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    s = sorted(values)
    return round(s[min(len(s) - 1, int(q * len(s)))], 3)


def summary(out: Outcome, hellos: int, concurrency: int) -> dict[str, Any]:
    return {
        "hellos": hellos, "concurrency": concurrency, "welcomed": out.welcomed,
        "all_welcome": out.welcomed == hellos, "duration_s": round(out.duration_s, 2),
        "hello_s_p50": _pct(out.latencies, 0.5), "hello_s_p95": _pct(out.latencies, 0.95),
        "retries": out.retries, "retried_codes": out.retried, "failed": out.final,
    }


async def measure(hellos: int = HELLOS, concurrency: int = CONCURRENCY,
                  limits: dict[str, Any] | None = None, src: str | None = None,
                  retry: bool = True, stay: bool = False) -> dict[str, Any]:
    """Start a server, run the storm, stop it; the numbers."""
    from bench.common import raise_fd_limit

    raise_fd_limit()
    server = await asyncio.to_thread(Server(hellos, limits, src).start)
    try:
        out = await storm(server.ws_url, server.tokens, concurrency, retry=retry, stay=stay)
        result = summary(out, hellos, concurrency)
        result["stay"] = stay
        text = server.log()
        result["server_tracebacks"] = text.count("Traceback")
        if "Traceback" in text:
            at = text.index("Traceback")
            result["first_traceback"] = text[at:at + 3000]
        return result
    finally:
        await asyncio.to_thread(server.stop)


def keys(result: dict[str, Any]) -> dict[str, Any]:
    """The keys of latest.json: the time only when every hello was welcomed (else null)."""
    complete = result["all_welcome"] and result["hellos"] == HELLOS
    return {"join_storm_ws_2000_s": result["duration_s"] if complete else None,
            "join_storm_ws": result, "join_storm_ws_goal_s": GOAL_S}


def write_keys(out_dir: str, values: dict[str, Any]) -> None:
    """Merge into latest.json (a run of this scenario alone keeps the other keys)."""
    path = os.path.join(out_dir, "latest.json")
    data: dict[str, Any] = {}
    if os.path.exists(path):
        with open(path) as f:
            data = json.load(f)
    data.update(values)
    os.makedirs(out_dir, exist_ok=True)
    with open(path, "w") as f:
        json.dump(data, f, indent=2)
        f.write("\n")
    if "machine" in data:  # a whole run's result: its table gets the new row too
        from bench import report

        with open(os.path.join(out_dir, "latest.md"), "w") as f:
            f.write(report.markdown(data))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.join_storm", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", nargs="?", default="measure", choices=("measure", "serve"))
    parser.add_argument("--hellos", type=int, default=HELLOS)
    parser.add_argument("--concurrency", type=int, default=CONCURRENCY)
    parser.add_argument("--limits", default="{}", help="Limits overrides for the server (JSON)")
    parser.add_argument("--src", help="measure the code of another tree (its src/ directory)")
    parser.add_argument("--no-retry", action="store_true", help="count first attempts only")
    parser.add_argument("--stay", action="store_true",
                        help="the welcomed stay connected until the storm is over")
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results"))
    parser.add_argument("--no-write", action="store_true", help="print, do not touch latest.json")
    parser.add_argument("--participants", type=int, help="serve: participants to make")
    parser.add_argument("--settings", default="{}", help="serve: other Settings fields (JSON)")
    parser.add_argument("--data-dir", help="serve: where the server keeps its data")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    limits = json.loads(args.limits)
    if args.mode == "serve":
        serve = _serve(args.participants or args.hellos, limits, Path(args.data_dir),
                       json.loads(args.settings))
        profile = os.environ.get("MIRP_BENCH_PROFILE")  # a path: cProfile the server into it
        if profile:
            import cProfile

            cProfile.runctx("asyncio.run(serve)", globals(), {"serve": serve}, profile)
        else:
            asyncio.run(serve)
        return 0
    result = asyncio.run(measure(args.hellos, args.concurrency, limits, args.src,
                                 not args.no_retry, args.stay))
    print(json.dumps(result, indent=2))
    if not args.no_write and args.src is None and args.hellos == HELLOS and not args.stay:
        write_keys(args.out, keys(result))
    return 0 if result["all_welcome"] else 1


if __name__ == "__main__":
    sys.exit(main())
