"""The database away, hung or too busy: REST answers 503 `unavailable` with Retry-After (never a
500, never a hang), /readyz goes red, Admission raises Unavailable, and everything comes back by
itself.

A PostgreSQL of its own (stopped, frozen and resumed here, so the session's shared server is
never disturbed). The app runs with short bounds; each request is awaited with a deadline far
above them, so a hang fails the test instead of stalling it.
"""

from __future__ import annotations

import asyncio
import functools
import os
import signal
import subprocess
from collections.abc import Awaitable, Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest

from mirp.errors import Unavailable
from tests.support.factory import make_meeting, running_app
from tests.support.postgres import PG_BIN, PostgresServer, _as_postgres, start_postgres
from tests.support.wait import Seen, until

pytestmark = pytest.mark.postgres

BOUNDS = {"db_connect_timeout_s": 1.0, "db_statement_timeout_s": 1.0, "db_pool_timeout_s": 1.0}
REQUEST_DEADLINE_S = 15.0  # one request: far above the bounds, so only a hang reaches it
STATE_DEADLINE_S = 60.0  # reaching a state (down, up) on a loaded machine
# A state is polled; a wrong answer on the way (a 503 without Retry-After) fails at once.
reach = functools.partial(until, within=STATE_DEADLINE_S, step=0.2, tolerate=())


@pytest.fixture
def own_postgres() -> Iterator[PostgresServer]:
    with start_postgres() as server:
        yield server


def _data_dir(server: PostgresServer) -> Path:
    return server.workdir / "data"


def pg_stop(server: PostgresServer) -> None:
    """A clean stop ("fast": sessions cut, data kept; the test server runs with
    synchronous_commit off, so an immediate stop could lose the last commits)."""
    subprocess.run(_as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(_data_dir(server)), "-m",
                                 "fast", "-w", "stop"]), check=True, capture_output=True,
                   timeout=60)


def pg_start(server: PostgresServer) -> None:
    opts = (f"-p {server.port} -k {server.workdir} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off")
    subprocess.run(_as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(_data_dir(server)), "-o",
                                 opts, "-l", str(server.workdir / "postgres.log"), "-w", "-t",
                                 "30", "start"]), check=True, capture_output=True, timeout=60)


def pg_processes(server: PostgresServer) -> list[int]:
    """The postmaster and every process it started (backends, checkpointer...)."""
    master = int((_data_dir(server) / "postmaster.pid").read_text().split()[0])
    pids = [master]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == master:
                pids.append(int(entry.name))
    return pids


def pg_signal(pids: list[int], sig: signal.Signals) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


async def bounded(what: str, call: Awaitable[httpx.Response]) -> httpx.Response:
    try:
        return await asyncio.wait_for(call, REQUEST_DEADLINE_S)
    except TimeoutError:
        pytest.fail(f"{what} hung for more than {REQUEST_DEADLINE_S} s")


async def test_postgres_stopped_then_hung_then_back(tmp_path: Path,
                                                    own_postgres: PostgresServer) -> None:
    url = own_postgres.create_database("outage")
    async with running_app(tmp_path, database_url=url, **BOUNDS) as (app, client):
        fx = await make_meeting(client, delegates=1, interpreters={}, observer=False)
        auth = {"Authorization": f"Bearer {fx.organizer_token}"}
        seen: list[int] = []

        async def meetings() -> httpx.Response:
            r = await bounded("GET /api/meetings", client.get("/api/meetings", headers=auth))
            seen.append(r.status_code)
            return r

        async def answers(status: int) -> bool | Seen:
            r = await meetings()
            if r.status_code == 503:
                assert r.json()["error"]["code"] == "unavailable", r.text
                assert int(r.headers["retry-after"]) > 0, r.headers
            return r.status_code == status or Seen(f"{r.status_code} {r.text[:200]}")

        async def ready(expected: int) -> bool | Seen:
            r = await bounded("GET /readyz", client.get("/readyz"))
            return r.status_code == expected or Seen(f"{r.status_code} {r.text[:300]}")

        async def admission_unavailable() -> None:
            with pytest.raises(Unavailable):
                await asyncio.wait_for(app.state.admission.authorize(fx.tokens["chair"], None),
                                       REQUEST_DEADLINE_S)
            with pytest.raises(Unavailable):
                await asyncio.wait_for(app.state.admission.load_spec(fx.meeting_id),
                                       REQUEST_DEADLINE_S)

        await reach(lambda: answers(200), "up")
        await reach(lambda: ready(200), "ready")

        # too busy: another client holds a lock the query needs past the statement timeout
        locker = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
        try:
            async with locker.transaction():
                await locker.execute("LOCK TABLE meetings IN ACCESS EXCLUSIVE MODE")
                await reach(lambda: answers(503), "503 while locked")
        finally:
            await locker.close()
        await reach(lambda: answers(200), "back after the lock")

        # stopped: connections refused
        pg_stop(own_postgres)
        await reach(lambda: answers(503), "503 while stopped")
        await reach(lambda: ready(503), "red while stopped")
        await admission_unavailable()
        pg_start(own_postgres)
        await reach(lambda: answers(200), "back after a start")
        await reach(lambda: ready(200), "ready after a start")
        grant = await app.state.admission.authorize(fx.tokens["chair"], None)
        assert grant.participant_id == fx.people["chair"].participant_id

        # hung: every process frozen (connections accepted by the kernel, never answered)
        frozen = pg_processes(own_postgres)
        pg_signal(frozen, signal.SIGSTOP)
        try:
            await reach(lambda: answers(503), "503 while hung")
            await reach(lambda: ready(503), "red while hung")
            await admission_unavailable()
        finally:
            pg_signal(frozen, signal.SIGCONT)
        await reach(lambda: answers(200), "back after a resume")
        await reach(lambda: ready(200), "ready after a resume")
        assert 500 not in seen, seen
