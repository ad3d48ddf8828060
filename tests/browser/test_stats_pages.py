"""The report and trends pages in Chromium on a real server: the tables say what the API says,
every chart is an image with a title and a description, the CSV buttons download the API's CSV.
Screenshots at desktop and phone widths go to artifacts/screenshots/ for a human to look at."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from mirp.store.db import Database
from tests.support import history

from .conftest import sign_in
from .test_pages import shoot

pytestmark = pytest.mark.browser

CHARTS = """() => [...document.querySelectorAll('svg.chart')].map((s) => ({
  role: s.getAttribute('role'), title: s.querySelector('title')?.textContent || '',
  desc: s.querySelector('desc')?.textContent || '', bars: s.querySelectorAll('rect.bar').length,
  lines: s.querySelectorAll('polyline').length}))"""


async def _history(data: Path, owner: str) -> str:
    """Forty meetings of generated history, a third of them this organizer's; one meeting id."""
    db_file = data / "mirp.sqlite3"

    db = Database(f"sqlite+aiosqlite:///{db_file}")
    await db.start()
    try:
        await history.write(db, 40, owners=3)
    finally:
        await db.close()
    with sqlite3.connect(db_file) as con:
        con.execute("UPDATE meetings SET owner_id = ? WHERE owner_id = 'hist-o1'", (owner,))
        return str(con.execute("SELECT id FROM meetings WHERE owner_id = ? ORDER BY id LIMIT 1",
                               (owner,)).fetchone()[0])


async def _signed_in(launch: Any, server: Any, api: Any) -> Any:
    token = api.organizer("stats@example.org")
    me = api.http.get("/api/auth/me").json()
    page = await launch()
    await sign_in(page, server.base, token, me)
    return page


async def _download(page: Any, selector: str) -> str:
    async with page.expect_download() as info:
        await page.click(selector)
    path = await (await info.value).path()
    return (await asyncio.to_thread(Path(path).read_bytes)).decode()  # as sent: CRLF lines


async def test_trends_and_report_pages_show_the_apis_numbers(server: Any, api: Any,
                                                             launch: Any) -> None:
    page = await _signed_in(launch, server, api)
    me = api.http.get("/api/auth/me").json()
    mid = await _history(server.data, me["id"])

    trends = api.http.get("/api/trends", params={"period": "quarter"}).json()
    assert trends["rows"], trends
    await page.goto(f"{server.base}/trends.html#period=quarter")
    await page.wait_for_selector("#table tbody tr")
    cells = await page.eval_on_selector_all(
        "#table tbody tr", "rows => rows.map((r) => [...r.children].map((c) => c.textContent))")
    assert len(cells) == len(trends["rows"])
    for shown, row in zip(cells, trends["rows"], strict=True):
        assert shown[1:6] == [str(row[k]) for k in ("meetings", "meetings_held", "participants",
                                                    "interpreters", "delegations")]
        assert shown[7] == str(row["interpretation_hours"])
    charts = await page.evaluate(CHARTS)
    assert len(charts) == 6 and all(c["role"] == "img" and c["title"] and c["desc"]
                                    for c in charts), charts
    assert charts[0]["bars"] == 2 * len(trends["rows"])  # meetings and held, per quarter
    csv_text = await _download(page, "#csv")
    assert csv_text == api.http.get("/api/trends.csv", params={"period": "quarter"}).text
    await shoot(page, "trends")

    report = api.http.get(f"/api/meetings/{mid}/report").json()
    await page.goto(f"{server.base}/meeting.html#id={mid}")
    await page.click("#head-actions a:has-text('Report')")
    await page.wait_for_selector("#sections .card")
    assert await page.locator("#sections > section").count() == 9
    booths = await page.eval_on_selector_all(
        "#sections > section:nth-child(5) tbody tr",
        "rows => rows.map((r) => [...r.children].slice(1).map((c) => c.textContent))")
    assert booths == [[str(b["turns"]), str(round(b["seconds"] / 60, 1)).removesuffix(".0"),
                       str(b["handovers"]), str(b["interpreters"])] for b in report["booths"]]
    charts = await page.evaluate(CHARTS)
    assert len(charts) == 5 and all(c["title"] and c["desc"] for c in charts), charts
    assert charts[0]["lines"] >= 2  # everyone, and one line per role
    csv_text = await _download(page, "#sections > section:nth-child(5) .card-head button")
    assert csv_text == api.http.get(f"/api/meetings/{mid}/report.csv",
                                    params={"table": "booths"}).text
    assert report["not_recorded"] == []
    assert (await page.text_content("#not-recorded") or "") == ""
    # the recorded quality, refused joins and delegations: one section each, after the booths
    titles = await page.eval_on_selector_all("#sections > section h2",
                                             "hs => hs.map((h) => h.textContent)")
    assert titles[6:] == ["Connection quality", "Joins that failed", "Delegations"]
    delegations = await page.eval_on_selector_all(
        "#sections > section:nth-child(9) tbody tr",
        "rows => rows.map((r) => [...r.children].map((c) => c.textContent))")
    assert delegations == [[d["delegation"], d["country"] or "—", str(d["participants"])]
                           for d in report["delegations"]]
    await shoot(page, "report")
