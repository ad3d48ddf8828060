"""Issue 12's smaller findings, in Chromium against a real server: booth defaults that do not
depend on the order languages were added, a warning for booths nobody is invited to, other
people's line quality shown to the chair only, and the meeting's title in the phone header.
"""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import Api, join_all, sign_in, until
from .test_pages import PHONE

pytestmark = pytest.mark.browser


async def test_booth_defaults_and_booths_nobody_is_invited_to(server, api: Api, launch):
    token = api.organizer()
    page = await launch()
    await sign_in(page, server.base, token)
    await page.goto(f"{server.base}/meeting.html")
    await page.wait_for_selector("#m-title")
    await page.fill("#m-title", "Order does not matter")
    for code in ("en", "fr", "ar"):
        await page.select_option("#lang-add", code)
        await page.click("#lang-add-btn")
    await page.fill("#m-start", "2030-06-03T09:00")
    await page.fill("#m-end", "2030-06-03T12:00")
    await page.click("#save")
    await page.wait_for_function("() => location.hash.includes('id=')")
    mid = await page.evaluate("() => new URLSearchParams(location.hash.slice(1)).get('id')")
    m = api.http.get(f"/api/meetings/{mid}").json()
    # every booth understands every other language, the first ones added included
    assert {b["language"]: sorted(b["understands"]) for b in m["booths"]} == {
        "en": ["ar", "fr"], "fr": ["ar", "en"], "ar": ["en", "fr"]}, m["booths"]

    await page.wait_for_selector("#empty-booths")
    text = await page.inner_text("#empty-booths")
    assert all(n in text for n in ("English", "French", "Arabic")), text
    api.invite(mid, "interpreter", "Karim Haddad", booth="ar")
    await page.goto("about:blank")
    await page.goto(f"{server.base}/meeting.html#id={mid}&tab=invitations")
    await page.wait_for_selector("[data-invitation]")
    text = await page.inner_text("#empty-booths")
    assert "English" in text and "French" in text and "Arabic" not in text, text


async def _line_q(page: Any, pid: str) -> bool:
    return bool(await page.is_visible(f"[data-participant='{pid}'] .line-q"))


async def test_line_quality_of_others_is_the_chairs_and_the_title_stays_on_a_phone(
        server, api: Api, launch, silence):
    api.organizer()
    m = api.meeting(title="Council on the phone")
    chair, me, other = await join_all(
        launch,
        (silence, api.invite(m["id"], "chair", "Chair Person")),
        (silence, api.invite(m["id"], "delegate", "Mia Me")),
        (silence, api.invite(m["id"], "delegate", "Otto Other")))
    other_id, my_id = (await other.state())["me"], (await me.state())["me"]
    # a poor line reported by the other delegate's page (as its own meter would)
    await other.page.evaluate("""async () => (await import('/js/live.js')).liveSession()
        .proto.quality({ grade: "poor", rtt: 0.8, jitter: 0.1, loss: 0.2 })""")
    await until(lambda: _line_q(chair.page, other_id), "the chair to see the poor line")
    assert not await _line_q(me.page, other_id), "a delegate sees another's line quality"
    # not hidden by the page: the server never sent it (rooms.events.LineQuality)
    told = await me.page.evaluate("""async (id) => (await import('/js/live.js')).liveSession()
        .state.participants.get(id)?.quality ?? null""", other_id)
    assert told is None, told
    # my own poor line: I see it
    await me.page.evaluate("""async () => (await import('/js/live.js')).liveSession()
        .proto.quality({ grade: "poor", rtt: 0.8, jitter: 0.1, loss: 0.2 })""")
    await until(lambda: _line_q(me.page, my_id), "the delegate to see their own poor line")
    assert not await _line_q(me.page, other_id)

    await me.page.set_viewport_size({"width": PHONE[0], "height": PHONE[1]})
    await me.page.wait_for_selector("#bar-title:has-text('Council on the phone')",
                                    state="visible")
