"""Admission, heartbeat and socket hygiene against a real server process (bench/join_storm.py's
`serve`: create_app() under uvicorn, SQLite, one open meeting) and `websockets` clients.

The storms stall the database on purpose: the test holds SQLite's write lock (BEGIN IMMEDIATE
from its own connection), as a database overwhelmed by a storm would, so every authorization
waits. The old code counted that wait against the client's hello timer and closed everyone
with 4401 "no hello" (which browsers take as final); now the timer stops when the hello
arrives and the storm is admitted once the database answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from bench.join_storm import Server, storm, summary

from tests.integration.conftest import WsClient
from tests.support.wait import until

pytestmark = pytest.mark.timeout(240)


@contextlib.asynccontextmanager
async def server(participants: int, **limits: Any) -> AsyncIterator[Server]:
    s = await asyncio.to_thread(Server(participants, limits).start)
    try:
        yield s
    finally:
        await asyncio.to_thread(s.stop)


@contextlib.contextmanager
def database_stalled(s: Server) -> Iterator[sqlite3.Connection]:
    """Hold SQLite's write lock: every transaction of the server waits (its busy_timeout)."""
    conn = sqlite3.connect(Path(s.tmp.name) / "mirp.sqlite3", isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    finally:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")
        conn.close()


async def test_a_storm_of_600_hellos_on_a_stalled_database_is_all_welcomed() -> None:
    """600 hellos, 200 at a time, participants staying; the database stalls for 7 s at the
    start (longer than the 5 s hello timer). The clients act as the browser does: a 1013 (busy,
    database too slow: possible when the database bounds its own waits) is retried after a
    back-off, a 44xx is final. Every one must be welcomed; nothing final (4401 above all)."""
    async with server(600, heartbeat_s=2.0) as s:  # hello timer: max(5 s, heartbeat_s)
        with database_stalled(s):
            run = asyncio.create_task(storm(s.ws_url, s.tokens, 200, retry=True, stay=True))
            await asyncio.sleep(7.0)  # how long the stall lasts: the scenario, not a wait
        out = await asyncio.wait_for(run, 180)
        result = summary(out, 600, 200)
        assert result["welcomed"] == 600 and not result["failed"], result
        assert set(result["retried_codes"]) <= {"1013"}, result
        assert "Traceback" not in s.log(), s.log()[-3000:]


async def test_a_hello_the_database_cannot_answer_closes_with_1013_and_a_retry_gets_in() -> None:
    async with server(3, authorize_timeout_s=1.0) as s:
        with database_stalled(s):
            ws = await WsClient.open(s.ws_url, "stalled")
            closed = await ws.hello(s.tokens[0])
            assert closed == {"closed": (1013, closed["closed"][1])}, closed
            error = ws.events("error")[-1]
            assert error["code"] == "unavailable" and error["fatal"], error
            assert error["details"]["retry_after_s"] > 0
        again = await WsClient.open(s.ws_url, "retry")  # the database is back: it gets in
        welcome = await again.hello(s.tokens[0])
        assert welcome.get("type") == "welcome", welcome
        await again.close()


async def test_a_client_that_only_answers_pings_stays_in_a_busy_room() -> None:
    """heartbeat_s is 0.5 s here (the default is 10 s). The quiet client answers 24 pings, each
    sent after at least one heartbeat of silence (in practice ~1.5 heartbeats: ~18 s, 36
    periods), the equivalent of 5–6 minutes at the default. Another participant makes the room
    send events all the time (floor requests and withdrawals); the quiet one answers each
    `ping` with `pong` and says nothing else. The old code pinged only when it had sent
    nothing for a heartbeat, so in a busy room it never pinged, and closed a quiet client that
    had answered once (watched) with 1001 after 3 heartbeats."""
    async with server(2, heartbeat_s=0.5) as s:
        quiet = await WsClient.open(s.ws_url, "quiet")
        assert (await quiet.hello(s.tokens[0])).get("type") == "welcome"
        busy = await WsClient.open(s.ws_url, "busy")
        assert (await busy.hello(s.tokens[1])).get("type") == "welcome"
        stop = asyncio.Event()

        async def answer_pings() -> None:
            answered = 0
            while not stop.is_set():
                pings = quiet.events("ping")
                for ping in pings[answered:]:
                    await quiet.send_raw(json.dumps({"type": "pong", "t": ping.get("t")}))
                answered = len(pings)
                await asyncio.sleep(0.05)

        async def make_noise() -> None:
            while not stop.is_set():
                for kind in ("floor_request", "floor_withdraw"):
                    await busy.send_raw(json.dumps({"type": kind}))
                    await asyncio.sleep(0.1)

        tasks = [asyncio.create_task(answer_pings())]
        try:
            # as in the issue: it answers a ping while the room is quiet (so it is watched)...
            await until(lambda: quiet.events("ping"), "a first ping", within=20.0)
            tasks.append(asyncio.create_task(make_noise()))  # ...then the room gets busy
            await until(lambda: len(quiet.events("ping")) >= 24 or quiet.closed,
                        "24 pings to the quiet client", within=60.0)
        finally:
            stop.set()
            await asyncio.gather(*tasks)
        assert quiet.closed is None, quiet.closed
        assert len(quiet.events("floor")) > 40  # the room was busy all along
        assert (await quiet.request("ping"))["type"] == "pong"
        await quiet.close()
        await busy.close()


async def test_deep_json_and_nan_get_typed_errors_and_the_session_goes_on() -> None:
    async with server(1) as s:
        ws = await WsClient.open(s.ws_url, "hygiene")
        assert (await ws.hello(s.tokens[0])).get("type") == "welcome"
        await ws.send_raw("[" * 100_000 + "]" * 100_000)  # 200 kB: over max_message_bytes
        await ws.send_raw("[" * 30_000 + "]" * 30_000)  # 60 kB: deeper than any decoder
        await ws.send_raw('{"type": "ping", "id": 7, "t": NaN}')
        await ws.send_raw('{"type": "pong", "t": Infinity}')
        await ws.send_raw('{"type": "ping", "id": 8, "t": 1e999}')  # a float that overflows
        errors = await until(lambda: len(ws.events("error")) >= 5 and ws.events("error"),
                             "5 errors")
        codes = [e["code"] for e in errors]
        assert codes == ["message_too_large"] + ["invalid_message"] * 4, errors
        assert not any(e.get("fatal") for e in errors)
        assert all(m["type"] != "pong" for m in ws.messages), "a NaN was echoed"
        pong = await ws.request("ping", t=2.5)
        assert pong["type"] == "pong" and pong["t"] == 2.5 and ws.closed is None
        await ws.close()
        assert "Traceback" not in s.log(), s.log()[-3000:]


async def test_a_flood_of_offers_from_one_address_is_rate_limited() -> None:
    async with server(2, offers_per_ip_per_s=0.05, offers_per_ip_burst=4) as s:
        clients = []
        codes: list[str] = []
        for token in s.tokens:  # two participants behind one address share its limit
            ws = await WsClient.open(s.ws_url, "offers")
            assert (await ws.hello(token)).get("type") == "welcome"
            clients.append(ws)
            for _ in range(3):
                reply = await ws.request("offer", sdp="v=0\r\n")
                codes.append(reply.get("code", reply["type"]))
        assert codes[:4] == ["invalid_sdp"] * 4 and codes[4:] == ["rate_limited"] * 2, codes
        limited = clients[1].events("error")[-1]
        assert limited["details"]["retry_after_s"] > 0 and clients[1].closed is None
        for ws in clients:
            await ws.close()


@pytest.mark.postgres
async def test_postgresql_stopped_a_hello_gets_1013_and_gets_in_once_it_is_back() -> None:
    """The issue: PostgreSQL stopped, a new hello waited 10 s and got 4401 (final). Now: 1013
    (the browser retries), and a retry after PostgreSQL is back is welcomed."""
    from tests.support.postgres import PG_BIN, _as_postgres, start_postgres

    with start_postgres() as pg:
        data = pg.workdir / "data"
        opts = (f"-p {pg.port} -k {pg.workdir} -c listen_addresses=127.0.0.1 -c fsync=off "
                "-c synchronous_commit=off -c full_page_writes=off")

        def pg_ctl(*args: str) -> None:
            out = subprocess.run(_as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(data), *args]),
                                 capture_output=True, text=True, timeout=60, cwd=pg.workdir)
            assert out.returncode == 0, out.stderr + pg.log()[-2000:]

        url = pg.create_database()
        s = await asyncio.to_thread(
            Server(2, {"authorize_timeout_s": 3.0}, settings={"database_url": url}).start)
        try:
            await asyncio.to_thread(pg_ctl, "-m", "fast", "-w", "stop")
            ws = await WsClient.open(s.ws_url, "pg-down")
            closed = await ws.hello(s.tokens[0])
            assert closed.get("closed", (None,))[0] == 1013, closed
            assert ws.events("error")[-1]["code"] == "unavailable"
            await asyncio.to_thread(pg_ctl, "-o", opts, "-l", str(pg.workdir / "postgres.log"),
                                    "-w", "-t", "30", "start")

            async def welcomed() -> dict[str, Any] | None:
                again = await WsClient.open(s.ws_url, "pg-back")
                reply = await again.hello(s.tokens[0])
                await again.close()
                return reply if reply.get("type") == "welcome" else None

            # the pool reconnects by itself
            await until(welcomed, "welcomed again once PostgreSQL is back", 30, step=0.5)
            assert "4401" not in s.log()
        finally:
            await asyncio.to_thread(s.stop)
