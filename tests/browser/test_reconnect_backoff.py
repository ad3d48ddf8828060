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
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser.conftest import Api, join, until
from tests.support.server import Server, serving


@pytest.fixture
def busy_server(tmp_path: Path) -> Iterator[Server]:
    with serving(tmp_path, MIRP_LIMITS__AUTHORIZE_TIMEOUT_S="1.0") as srv:
        yield srv


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

    db = sqlite3.connect(busy_server.data / "mirp.sqlite3", isolation_level=None)
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
