"""A database that is too busy to answer in time is a 503 `unavailable` with Retry-After, on
REST and /readyz, and the next request after it frees up succeeds: no 500, no restart.

On SQLite, "busy" is another writer holding the write lock longer than the busy timeout
(MIRP_DB_STATEMENT_TIMEOUT_S); here a plain sqlite3 connection holds it. (PostgreSQL stopped or
hung: tests/store/test_db_outage.py.)
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tests.api.conftest import error
from tests.support.factory import organizer_token, running_app, standard_meeting_body

pytestmark = pytest.mark.asyncio(loop_scope="package")


async def test_sqlite_write_lock_held_elsewhere(tmp_path: Path) -> None:
    async with running_app(tmp_path, db_statement_timeout_s=0.3) as (_, client):
        headers = {"Authorization": f"Bearer {await organizer_token(client)}"}
        assert (await client.get("/readyz")).status_code == 200
        other = sqlite3.connect(tmp_path / "mirp.sqlite3", isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # another process writing, and not letting go
        try:
            r = await client.post("/api/meetings", json=standard_meeting_body(),
                                  headers=headers)
            err = error(r, 503, "unavailable")
            assert err["details"]["reason"] == "database"
            assert int(r.headers["retry-after"]) >= 1
            ready = error(await client.get("/readyz"), 503, "unavailable")
            assert ready["details"]["checks"]["database"].startswith("error")
        finally:
            other.execute("ROLLBACK")
            other.close()
        r = await client.post("/api/meetings", json=standard_meeting_body(), headers=headers)
        assert r.status_code == 201, r.text
        assert (await client.get("/readyz")).status_code == 200
