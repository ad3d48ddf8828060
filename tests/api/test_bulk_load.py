"""Four 5000-row uploads at once on SQLite, with signing made slow on purpose: all succeed (no
write lock is held while tokens are signed), and the control loop keeps answering meanwhile.

The uploads' CPU work runs in threads here (the pool set aside), so that a signature can be
slowed down in this process: 1 ms each, 5000 per upload. Main's code signed inside the write
transaction, on the loop: the loop stopped, and the uploads queued on SQLite's write lock until
"database is locked".
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from mirp import tokens
from mirp.store import tables as t
from mirp.store import work
from tests.support.factory import organizer_token, running_app, standard_meeting_body

pytestmark = pytest.mark.asyncio(loop_scope="package")

ROWS = 5000
UPLOADS = 4


async def test_parallel_uploads_while_the_loop_answers(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(work, "_executor", None)  # threads: the slow signer below applies
    sign = tokens.issue_invitation

    def slow_sign(*args: Any, **kwargs: Any) -> str:
        time.sleep(0.001)  # a loaded machine's signature
        return sign(*args, **kwargs)

    monkeypatch.setattr(tokens, "issue_invitation", slow_sign)
    async with running_app(tmp_path, cpu_workers=0) as (app, client):
        headers = {"Authorization": f"Bearer {await organizer_token(client)}"}
        meeting = (await client.post("/api/meetings", json=standard_meeting_body(),
                                     headers=headers)).json()
        path = f"/api/meetings/{meeting['id']}/invitations/bulk"

        async def upload(k: int) -> int:
            text = "\n".join(f"Delegate {k}-{i},Delegation {i % 9},d{k}.{i}@example.org"
                             for i in range(ROWS))
            r = await client.post(path, json={"csv": text, "role": "delegate"},
                                  headers=headers)
            assert r.status_code == 201, r.text[:300]
            return int(r.json()["count"])

        uploads = asyncio.gather(*(upload(k) for k in range(UPLOADS)))
        answered = 0
        while not uploads.done():  # another client, one request after the other
            r = await client.get("/healthz")
            assert r.status_code == 200
            answered += 1
            await asyncio.sleep(0.001)  # (the in-process transport may never suspend by itself)
        assert await uploads == [ROWS] * UPLOADS
        # counted, not timed: the uploads took 5000 slow signatures each; had any of them run
        # on the loop, next to nothing would have been answered meanwhile
        assert answered >= 100, answered
        async with app.state.db.session() as session:
            count = (await session.execute(select(func.count()).select_from(t.Invitation)
                                           .where(t.Invitation.meeting_id == meeting["id"])))
            assert count.scalar() == ROWS * UPLOADS


async def test_no_write_lock_held_while_hashing_or_signing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each hash and signature checks, as it starts, that another writer could take SQLite's
    write lock right now (no transaction of the request is holding it)."""
    from mirp.store import accounts

    monkeypatch.setattr(work, "_executor", None)  # threads: the checks below run in-process
    held: list[str] = []
    checked: dict[str, int] = {}

    def lock_free(name: str, fn: Any) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            checked[name] = checked.get(name, 0) + 1
            other = sqlite3.connect(tmp_path / "mirp.sqlite3", timeout=0, isolation_level=None)
            try:
                other.execute("BEGIN IMMEDIATE")
                other.execute("ROLLBACK")
            except sqlite3.OperationalError as exc:
                held.append(f"{name}: {exc}")
            finally:
                other.close()
            return fn(*args, **kwargs)
        return wrapper

    monkeypatch.setattr(accounts, "hash_password", lock_free("hash", accounts.hash_password))
    monkeypatch.setattr(accounts, "verify_password",
                        lock_free("verify", accounts.verify_password))
    monkeypatch.setattr(tokens, "issue_invitation", lock_free("sign", tokens.issue_invitation))
    async with running_app(tmp_path, cpu_workers=0) as (_, client):
        account = {"email": "lock@example.org", "name": "Lou Lock",
                   "password": "correct horse battery"}
        assert (await client.post("/api/auth/signup", json=account)).status_code == 201
        r = await client.post("/api/auth/login", json={"email": account["email"],
                                                       "password": account["password"]})
        assert r.status_code == 200, r.text
        headers = {"Authorization": f"Bearer {r.json()['token']}"}
        meeting = (await client.post("/api/meetings", json=standard_meeting_body(),
                                     headers=headers)).json()
        r = await client.post(f"/api/meetings/{meeting['id']}/invitations/bulk",
                              json={"csv": "Ana,Chile\nBo,Peru\n"}, headers=headers)
        assert r.status_code == 201, r.text
        r = await client.get(f"/api/meetings/{meeting['id']}/invitations", headers=headers)
        assert len(r.json()) == 2
    assert checked["hash"] == 1 and checked["verify"] == 1 and checked["sign"] >= 4
    assert held == []
