"""Every join refusal says what happened, end to end (issue 12, point 7): the server's error code
and reason, the close code, then the words on the page. A full meeting is "full" (not "joined
again in another window"), a closed meeting's link says it is closed (not "revoked or used
up"), the chair who closed the meeting is not thanked for taking part.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

import pytest

from .conftest import Api, assert_no_refusals, join_all, until
from .test_pages import shoot

pytestmark = pytest.mark.browser

WRONG = ("revoked or used up", "another window", "another tab")


def _invitation(api: Api, meeting_id: str, role: str = "delegate", **fields: Any) -> dict:
    return dict(api._ok(api.http.post(f"/api/meetings/{meeting_id}/invitations",
                                      json={"role": role, **fields})))


async def _join_page_says(page: Any, url: str) -> str:
    """The join page's refusal (the link checked before the form shows)."""
    await page.goto("about:blank")  # a new hash alone would not load the page again
    await page.goto(url)
    await page.wait_for_selector("#bad:not([hidden])", timeout=15000)
    return str(await page.inner_text("#bad"))


async def test_join_page_refusals_say_what_happened(server, api, launch, silence):
    api.organizer()
    page = await launch(silence)
    texts: dict[str, str] = {}

    closed = api.meeting(title="Closed one")
    link = _invitation(api, closed["id"], name="Cleo")["join_url"]
    api._ok(api.http.patch(f"/api/meetings/{closed['id']}", json={"status": "closed"}))
    texts["closed"] = await _join_page_says(page, link)
    assert "This meeting is closed." in texts["closed"], texts

    m = api.meeting()
    revoked = _invitation(api, m["id"], name="Rex")
    api._ok(api.http.delete(f"/api/meetings/{m['id']}/invitations/{revoked['id']}"))
    texts["revoked"] = await _join_page_says(page, revoked["join_url"])
    assert "This invitation was revoked." in texts["revoked"], texts

    token = unquote(revoked["join_url"].split("#t=", 1)[1])
    tampered = revoked["join_url"].replace(token, token[:-4] + ("AAAA" if token[-4:] != "AAAA"
                                                                 else "BBBB"))
    texts["tampered"] = await _join_page_says(page, tampered)
    assert "not valid or has expired" in texts["tampered"], texts

    gone = api.meeting(title="Deleted one")
    link = _invitation(api, gone["id"], name="Dora")["join_url"]
    api._ok(api.http.delete(f"/api/meetings/{gone['id']}"))
    texts["deleted"] = await _join_page_says(page, link)
    assert "no longer exists" in texts["deleted"], texts

    # an open single-use link used by someone else: the join button says it is used up
    used = _invitation(api, m["id"])["join_url"]
    await page.goto("about:blank")
    api._ok(api.http.post("/api/join", json={"token": unquote(used.split("#t=", 1)[1]),
                                             "name": "First"}))
    await page.goto(used)
    await page.wait_for_selector("#join-form:not([hidden])", timeout=15000)
    await page.fill("#join-name", "Second")
    await page.click("#join-btn")
    await page.wait_for_selector("#join-error:not([hidden])", timeout=15000)
    texts["used_up"] = await page.inner_text("#join-error")
    assert "This invitation has been used up." in texts["used_up"], texts

    for why, text in texts.items():
        assert not any(w in text for w in WRONG), (why, text)


async def test_full_meeting_is_full_and_closing_is_said_to_each_role(server, api, launch, silence):
    api.organizer()
    m = api.meeting(options={"capacity": 2})
    chair, delegate = await join_all(
        launch,
        (silence, api.invite(m["id"], "chair", "Chair Person")),
        (silence, api.invite(m["id"], "delegate", "Dev Delegate")))

    # a third person: the meeting is full, said in words, the page asking again by itself
    late = await launch(silence)
    await late.goto(api.invite(m["id"], "delegate", "Late Comer"))
    await late.wait_for_selector("#join-form:not([hidden])", timeout=15000)
    await late.click("#join-btn")
    await late.wait_for_selector("#full:has-text('The meeting is full')", timeout=20000)
    assert await late.is_visible("#conn:has-text('Meeting full')")
    main = await late.inner_text("main")
    assert not any(w in main for w in WRONG), main
    assert not await late.is_visible("#ended")
    assert not await late.is_visible("#request-floor")  # not in: no live controls
    await shoot(late, "delegate-meeting-full")

    # the chair closes the meeting: the delegate is thanked, the chair is not
    chair.page.on("dialog", lambda d: d.accept())
    await chair.page.click("#close-meeting")
    await delegate.page.wait_for_selector("#ended:has-text('Thank you for taking part')",
                                          timeout=15000)
    await chair.page.wait_for_selector("#ended:has-text('The meeting is closed.')",
                                       timeout=15000)
    assert "Thank you" not in await chair.page.inner_text("#ended")

    # the late comer's page stops asking: the meeting is closed, in those words
    async def told_closed() -> bool:
        return await late.is_visible("#ended:has-text('closed')") \
            and not await late.is_visible("#full")
    await until(told_closed, "the waiting late comer told the meeting closed", deadline_s=45.0)
    await assert_no_refusals(delegate)


async def test_removed_participant_is_told_so_and_its_named_link_too(server, api, launch, silence):
    api.organizer()
    m = api.meeting()
    link = api.invite(m["id"], "delegate", "Mal Content")
    chair, delegate = await join_all(
        launch,
        (silence, api.invite(m["id"], "chair", "Chair Person")),
        (silence, link))
    me = (await delegate.state())["me"]
    chair.page.on("dialog", lambda d: d.accept())
    await chair.page.click(f"[data-participant='{me}'] button[aria-label^='Remove']")
    await delegate.page.wait_for_selector("#ended:has-text('removed you')", timeout=15000)
    # the named link lets nobody in now, and says why
    page = await launch(silence)
    text = await _join_page_says(page, link)
    assert "You were removed from this meeting." in text, text



async def test_live_pages_say_revoked_and_deleted(server, api, launch, silence):
    """The organizer's decisions reach the live pages in words: a revoked invitation (4403,
    reason revoked), then the meeting deleted (4404, reason deleted)."""
    api.organizer()
    m = api.meeting()
    revoked = _invitation(api, m["id"], name="Rex Revoked")
    chair, rex = await join_all(
        launch,
        (silence, api.invite(m["id"], "chair", "Chair Person")),
        (silence, revoked["join_url"]))
    api._ok(api.http.delete(f"/api/meetings/{m['id']}/invitations/{revoked['id']}"))
    await rex.page.wait_for_selector("#ended:has-text('Your invitation was revoked.')",
                                     timeout=15000)
    api.http.delete(f"/api/meetings/{m['id']}").raise_for_status()
    await chair.page.wait_for_selector("#ended:has-text('This meeting was deleted.')",
                                       timeout=15000)
    for p in (rex, chair):
        text = await p.page.inner_text("#ended")
        assert not any(w in text for w in WRONG), text
