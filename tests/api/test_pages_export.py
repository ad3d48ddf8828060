"""Long lists in pages, the CSV export streamed, and CPU work (token signing, password hashes)
done by the worker pool, never by the server's own process (on its control loop)."""

from __future__ import annotations

import asyncio
import csv
import io
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from mirp import tokens
from mirp.store import work
from tests.api.conftest import BASE, Org, error
from tests.support.factory import SECRET, standard_meeting_body

pytestmark = pytest.mark.asyncio(loop_scope="package")


async def _meeting(org: Org) -> str:
    return str((await org.post("/api/meetings", standard_meeting_body())).json()["id"])


def _csv(n: int, start: int = 0) -> str:
    return "\n".join(f"Delegate {i:05d},Delegation {i % 7},d{i}@example.org"
                     for i in range(start, start + n))


async def _all_pages(org: Org, path: str, limit: int | None = None) -> tuple[list[Any], int]:
    """Follow the Link headers; (every item, pages fetched)."""
    url: str | None = path + (f"?limit={limit}" if limit else "")
    items: list[Any] = []
    pages = 0
    while url is not None:
        r = await org.get(url)
        assert r.status_code == 200, r.text
        pages += 1
        page = r.json()
        assert isinstance(page, list)
        items += page
        link = r.headers.get("link")
        if link is None:
            assert "x-next-after" not in r.headers
            url = None
        else:
            assert link.endswith('>; rel="next"') and link.startswith("</api/meetings/"), link
            assert r.headers["x-next-after"] == page[-1]["id"]
            url = link[1:link.index(">")]
    return items, pages


async def test_invitations_listed_in_pages(org: Org, other: Org) -> None:
    mid = await _meeting(org)
    path = f"/api/meetings/{mid}/invitations"
    r = await org.post(f"{path}/bulk", {"csv": _csv(250), "role": "delegate"})
    assert r.status_code == 201, r.text
    created = r.json()["created"]
    first = await org.get(path)
    assert len(first.json()) == 100 and "link" in first.headers  # the default page
    items, pages = await _all_pages(org, path)
    assert pages == 3
    assert [i["id"] for i in items] == [c["id"] for c in created]  # the file's order
    assert [i["name"] for i in items] == [f"Delegate {i:05d}" for i in range(250)]
    assert items[7]["join_url"] == f"{BASE}/join.html#t={items[7]['token']}"
    claims = tokens.verify_invitation(SECRET, items[7]["token"])
    assert claims.invitation_id == items[7]["id"] and claims.meeting_id == mid
    # a page added to meanwhile continues where it was (a keyset cursor, not an offset)
    one = (await org.post(path, {"role": "observer", "max_uses": None})).json()
    items, pages = await _all_pages(org, path, limit=250)
    assert pages == 2 and len(items) == 251 and items[-1]["id"] == one["id"]
    everything = (await org.get(path, params={"limit": 1000})).json()
    assert len(everything) == 251
    error(await org.get(path, params={"limit": 1001}), 422, "invalid_input")
    error(await org.get(path, params={"limit": 0}), 422, "invalid_input")
    error(await org.get(path, params={"after": "i-nonexistent"}), 422, "invalid_input")
    error(await other.get(path), 404, "not_found")


async def _asgi_get(app: FastAPI, path: str,
                    headers: dict[str, str]) -> tuple[int, dict[str, str], list[bytes]]:
    """GET straight through the ASGI app, keeping each body message apart (httpx's transport
    joins them)."""
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
             "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
             "root_path": "", "server": ("testserver", 80), "client": ("127.0.0.1", 1),
             "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()]}
    start: dict[str, Any] = {}
    bodies: list[bytes] = []
    requested = False
    done = asyncio.Event()

    async def receive() -> dict[str, Any]:
        nonlocal requested
        if not requested:
            requested = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await done.wait()  # the client stays until the whole answer is in
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            start.update(message)
        elif message["type"] == "http.response.body":
            if message.get("body"):
                bodies.append(message["body"])
            if not message.get("more_body"):
                done.set()

    await app(scope, receive, send)
    return (start["status"], {k.decode(): v.decode() for k, v in start["headers"]}, bodies)


async def test_csv_export_streams_every_link(app: FastAPI, org: Org, other: Org) -> None:
    mid = await _meeting(org)
    path = f"/api/meetings/{mid}/invitations"
    hostile = '=HYPERLINK("http://evil.example"),"Sneaky, Inc.",x@example.org'
    r = await org.post(f"{path}/bulk", {"csv": _csv(1199) + "\n" + hostile, "role": "delegate"})
    assert r.status_code == 201, r.text
    listed, _ = await _all_pages(org, path, limit=1000)
    status, headers, chunks = await _asgi_get(app, f"{path}.csv", org.headers)
    assert status == 200
    assert headers["content-type"] == "text/csv; charset=utf-8"
    assert headers["content-disposition"] == f'attachment; filename="invitations-{mid}.csv"'
    assert len(chunks) >= 3  # 1200 rows went out in pieces (500 a chunk), not built whole
    rows = list(csv.DictReader(io.StringIO(b"".join(chunks).decode())))
    assert list(rows[0]) == ["name", "delegation", "email", "role", "booth", "max_uses", "uses",
                             "expires_at", "revoked", "join_url", "id"]
    assert [(r["id"], r["join_url"]) for r in rows] == [(i["id"], i["join_url"])
                                                        for i in listed]
    assert rows[0]["name"] == "Delegate 00000" and rows[0]["revoked"] == "no"
    assert rows[-1]["name"] == "'" + '=HYPERLINK("http://evil.example")'  # no formula
    assert rows[-1]["delegation"] == "Sneaky, Inc."
    error(await other.get(f"{path}.csv"), 404, "not_found")
    error(await org.get("/api/meetings/m-nonexistent/invitations.csv"), 404, "not_found")
    empty = await org.get(f"/api/meetings/{await _meeting(org)}/invitations.csv")
    assert empty.status_code == 200 and empty.text.startswith("name,delegation,email,")
    assert empty.text.count("\n") == 1


async def test_cpu_work_leaves_the_server_process(client: httpx.AsyncClient,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Signatures in bulk and password hashes are made by the worker pool: counted here, in the
    server's process, there are none (on the control loop they stopped every meeting's audio)."""
    import argon2

    assert work.pooled()
    calls: dict[str, int] = {"sign": 0, "hash": 0, "verify": 0}
    sign, hash_, verify = (tokens.issue_invitation, argon2.PasswordHasher.hash,
                           argon2.PasswordHasher.verify)

    def counting(name: str, fn: Any) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            calls[name] += 1
            return fn(*args, **kwargs)
        return wrapper

    monkeypatch.setattr(tokens, "issue_invitation", counting("sign", sign))
    monkeypatch.setattr(argon2.PasswordHasher, "hash", counting("hash", hash_))
    monkeypatch.setattr(argon2.PasswordHasher, "verify", counting("verify", verify))
    account = {"email": "pool-check@example.org", "name": "Pia Pool",
               "password": "correct horse battery"}
    r = await client.post("/api/auth/signup", json=account)
    assert r.status_code == 201, r.text
    r = await client.post("/api/auth/login", json={k: account[k] for k in ("email", "password")})
    assert r.status_code == 200, r.text
    bad = await client.post("/api/auth/login", json={"email": account["email"],
                                                     "password": "wrong horse battery"})
    assert bad.status_code == 401
    org = Org(client, r.json()["token"])
    mid = await _meeting(org)
    path = f"/api/meetings/{mid}/invitations"
    r = await org.post(f"{path}/bulk", {"csv": _csv(600), "role": "delegate"})
    assert r.status_code == 201 and r.json()["count"] == 600
    assert (await org.get(path, params={"limit": 1000})).status_code == 200
    assert (await org.get(f"{path}.csv")).text.count("\n") == 601
    report = await org.get(f"/api/meetings/{mid}/report")  # computed by a worker too
    assert report.status_code == 200 and report.json()["meeting"]["id"] == mid
    assert calls == {"sign": 0, "hash": 0, "verify": 0}
    # registrations: one approval signs one link here (cheap); the listing signs in a worker
    m = (await org.post("/api/meetings", standard_meeting_body(registration_open=True))).json()
    regs = f"/api/meetings/{m['id']}/registrations"
    for i in range(3):
        reg = (await client.post(regs, json={"name": f"R {i}",
                                             "email": f"r{i}@example.org"})).json()
        assert (await org.post(f"{regs}/{reg['id']}/approve", {})).status_code == 200
    calls["sign"] = 0
    listed = (await org.get(regs)).json()
    assert [r["status"] for r in listed] == ["approved"] * 3 and listed[0]["join_url"]
    assert calls["sign"] == 0


async def test_meetings_listed_in_pages(org: Org) -> None:
    ids = [await _meeting(org) for _ in range(5)]
    url: str | None = "/api/meetings?limit=2"
    seen: list[str] = []
    pages = 0
    while url is not None:
        r = await org.get(url)
        assert r.status_code == 200, r.text
        pages += 1
        seen += [m["id"] for m in r.json()]
        link = r.headers.get("link")
        url = link[1:link.index(">")] if link else None
    assert pages == 3 and sorted(seen) == sorted(ids) and len(seen) == 5
    assert len((await org.get("/api/meetings")).json()) == 5
    error(await org.get("/api/meetings", params={"limit": 1001}), 422, "invalid_input")


async def test_registrations_listed_in_pages(org: Org, client: httpx.AsyncClient) -> None:
    m = (await org.post("/api/meetings", standard_meeting_body(registration_open=True))).json()
    path = f"/api/meetings/{m['id']}/registrations"
    for i in range(7):
        r = await client.post(path, json={"name": f"Person {i}", "email": f"p{i}@example.org"})
        assert r.status_code == 201, r.text
    url: str | None = f"{path}?limit=3"
    names: list[str] = []
    pages = 0
    while url is not None:
        r = await org.get(url)
        assert r.status_code == 200, r.text
        pages += 1
        names += [x["name"] for x in r.json()]
        link = r.headers.get("link")
        url = link[1:link.index(">")] if link else None
    assert pages == 3 and names == [f"Person {i}" for i in range(7)]
    error(await org.get(path, params={"after": "r-nonexistent"}), 422, "invalid_input")


async def test_a_dead_worker_is_a_503_then_replaced(client: httpx.AsyncClient) -> None:
    """A worker killed (out of memory, by an operator): the request it breaks answers 503
    `unavailable` (retryable), and the pool is replaced by itself."""
    import os
    import signal

    executor = work._executor
    assert executor is not None
    await work.run(os.getpid)  # every worker started
    pids = list(executor._processes)  # the pool's own worker table
    assert pids and os.getpid() not in pids
    os.kill(pids[0], signal.SIGKILL)
    statuses: list[int] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 60
    while loop.time() < deadline:
        r = await client.post("/api/auth/login", json={"email": "nobody@example.org",
                                                       "password": "wrong horse battery"})
        statuses.append(r.status_code)
        if r.status_code == 401:
            break
        error(r, 503, "unavailable")
        assert "retry-after" in r.headers
    assert statuses[-1] == 401, statuses
    assert work._executor is not None and work._executor is not executor  # a new pool
