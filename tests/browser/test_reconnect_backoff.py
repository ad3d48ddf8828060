"""The page retries a hello the server could not admit (close 1013) instead of stopping.

A real server process (`mirp serve`, SQLite) with `authorize_timeout_s` at 1 s; the test holds
SQLite's write lock (as a database too busy to answer would), drops the page's socket, and
watches the page: its reconnect's hello is answered 1013 ("try again"), the page shows it is
retrying and backs off; once the database answers again, the page is back in the meeting.
The old page took only 1xxx for retryable, but the old server closed such a hello with 4401
after its hello timer, which the page took as final.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.browser.conftest import ROOT, Api, Server, join, until
from tests.support.procs import free_port, stop


@pytest.fixture
def busy_server(tmp_path: Path) -> Iterator[Server]:
    port = free_port()
    log = tmp_path / "server.log"
    env = {**os.environ, "MIRP_DATA_DIR": str(tmp_path), "MIRP_ICE_LOOPBACK_ONLY": "true",
           "MIRP_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
           "MIRP_LIMITS__AUTHORIZE_TIMEOUT_S": "1.0"}
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "mirp", "serve", "--host", "127.0.0.1", "--port", str(port)],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    srv = Server(f"http://127.0.0.1:{port}", proc, log)
    deadline = time.monotonic() + 30
    try:
        while True:
            if proc.poll() is not None:
                pytest.fail(f"the server exited ({proc.returncode}):\n{srv.tail()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{srv.base}/healthz", timeout=1).status_code == 200:
                    break
            if time.monotonic() > deadline:
                pytest.fail(f"the server never answered /healthz:\n{srv.tail()}")
            time.sleep(0.2)
        yield srv
    finally:
        stop(proc)


async def test_the_page_backs_off_and_retries_a_hello_answered_1013(busy_server, launch,
                                                                   silence):
    api = Api(busy_server.base)
    api.organizer()
    meeting = api.meeting()
    url = api.invite(meeting["id"], "delegate", "Dana Delegate")
    api.http.close()
    page = await launch(silence)
    p = await join(page, url)
    assert (await p.state())["welcomes"] == 1

    db = sqlite3.connect(Path(busy_server.log).parent / "mirp.sqlite3", isolation_level=None)
    try:
        db.execute("BEGIN IMMEDIATE")  # every transaction of the server now waits
        await page.evaluate("() => window.mirpTest.drop()")

        async def told_to_retry() -> dict | None:
            s = await p.state()
            r = s.get("reconnect")
            return s if r and r.get("code") == 1013 and s.get("session") == "reconnecting" else None

        seen = await until(told_to_retry, "the page to be told 1013 and to retry")
        assert not seen.get("ended"), seen
        assert "Server busy" in await page.inner_text("#conn")
    finally:
        with contextlib.suppress(sqlite3.Error):
            db.execute("ROLLBACK")
        db.close()

    async def back_in() -> dict | None:
        s = await p.state()
        return s if s.get("session") == "open" and s.get("welcomes", 0) >= 2 else None

    back = await until(back_in, "the page back in the meeting", deadline_s=60.0)
    assert not back.get("ended"), back
