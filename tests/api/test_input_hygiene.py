"""What any HTTP request meets: a body cap (413 `too_large`, unread), NUL characters and dates
out of range refused (422 `invalid_input`), security headers on every answer."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import update

from mirp.store import tables as t
from tests.api.conftest import Org, error
from tests.support.factory import standard_meeting_body

pytestmark = pytest.mark.asyncio(loop_scope="package")


async def test_a_body_over_the_cap_is_refused_unread(client: httpx.AsyncClient) -> None:
    big = b"x" * (2 * 1024 * 1024)
    err = error(await client.post("/api/auth/login", content=big,
                                  headers={"content-type": "application/json"}),
                413, "too_large")
    assert err["details"]["max_bytes"] == 1024 * 1024
    read = 0

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted as it streams
        nonlocal read
        for _ in range(64):
            read += 64 * 1024
            yield b" " * (64 * 1024)

    error(await client.post("/api/auth/signup", content=chunks(),
                            headers={"content-type": "application/json"}), 413, "too_large")
    assert read < 4 * 1024 * 1024, "the whole body was read"


async def test_the_bulk_endpoint_takes_a_larger_body(org: Org) -> None:
    m = (await org.post("/api/meetings", standard_meeting_body())).json()
    lines = "\n".join(f"Person {i}, Delegation {i}, p{i}@example.org" for i in range(1000))
    pad = "\n" * (1024 * 1024)  # blank lines: over the general cap, under the bulk one
    r = await org.post(f"/api/meetings/{m['id']}/invitations/bulk",
                       {"csv": lines + "\n" + pad, "role": "delegate"})
    assert r.status_code == 201, r.text[:300]


@pytest.mark.parametrize("body", [
    {"email": "n@example.org", "name": "Nul\x00", "password": "correct horse battery"},
    {"email": "n\x00@example.org", "name": "Nul", "password": "correct horse battery"},
])
async def test_nul_in_a_body_is_invalid_input(client: httpx.AsyncClient,
                                              body: dict[str, str]) -> None:
    error(await client.post("/api/auth/signup", json=body), 422, "invalid_input")


async def test_nul_anywhere_is_invalid_input(org: Org, client: httpx.AsyncClient) -> None:
    err = error(await org.post("/api/meetings", standard_meeting_body(title="T\x00")), 422,
                "invalid_input")
    assert err["details"]["fields"][0]["field"] == "title"
    error(await org.post("/api/meetings", standard_meeting_body(booths=[
        {"language": "fr", "understands": ["en\x00"]}])), 422, "invalid_input")
    error(await org.get("/api/meetings/m%00x"), 422, "invalid_input")
    error(await client.post("/api/auth/login", json={"email": "a\x00@b.org", "password": "p"}),
          422, "invalid_input")
    error(await client.post("/api/join/peek", json={"token": "a\x00b"}), 422, "invalid_input")


@pytest.mark.parametrize("when", ["0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z",
                                  "1999-12-31T23:59:59Z", "2101-01-01T00:00:00Z"])
async def test_dates_out_of_range_are_invalid_input(org: Org, when: str) -> None:
    err = error(await org.post("/api/meetings", standard_meeting_body(
        starts_at=when, ends_at=None)), 422, "invalid_input")
    assert err["details"]["fields"][0]["field"] == "starts_at"
    m = (await org.post("/api/meetings", standard_meeting_body())).json()
    error(await org.post(f"/api/meetings/{m['id']}/invitations",
                         {"role": "delegate", "expires_at": when}), 422, "invalid_input")


async def test_a_meeting_ending_in_year_9999_still_takes_invitations(org: Org,
                                                                     app: FastAPI) -> None:
    """Written before the range check (or straight into the database): no 500 on it."""
    m = (await org.post("/api/meetings", standard_meeting_body())).json()
    async with app.state.db.session() as s:
        await s.execute(update(t.Meeting).where(t.Meeting.id == m["id"]).values(
            ends_at=datetime(9999, 12, 31, 23, 0, tzinfo=UTC)))
    r = await org.post(f"/api/meetings/{m['id']}/invitations", {"role": "delegate"})
    assert r.status_code == 201, r.text
    assert r.json()["expires_at"].startswith("2101-01-01")


@pytest.mark.parametrize("path", ["/", "/join.html", "/js/api.js", "/healthz", "/api/meetings",
                                  "/nothing-here"])
async def test_security_headers_on_every_answer(client: httpx.AsyncClient, path: str) -> None:
    r = await client.get(path)
    csp = r.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp and "script-src 'self'" in csp
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "no-referrer"


async def test_pages_carry_no_inline_script_or_style(client: httpx.AsyncClient) -> None:
    """What the CSP would refuse: inline <script>, style="", on...= handlers."""
    from mirp.config import Settings

    web = Settings().web_dir
    for page in sorted(web.glob("*.html")):
        html = page.read_text()
        for bad in (" style=", " onclick=", " onload=", " onsubmit=", "javascript:"):
            assert bad not in html, f"{page.name}: {bad}"
        for script in html.split("<script")[1:]:
            assert " src=" in script.split(">", 1)[0], f"{page.name}: an inline <script>"
