"""The join page tells people why they cannot come in, and a browser that was removed does not
come back through an open link as someone new (it presents the participant token it kept)."""

from __future__ import annotations

import json

import httpx
import pytest
import websockets

from .conftest import join, until

pytestmark = pytest.mark.browser


async def test_a_closed_meetings_link_says_closed(server, api, launch):
    api.organizer("closer@example.org")
    m = api.meeting(title="Closed session")
    url = api.invite(m["id"], "observer", "Oscar")
    api._ok(api.http.patch(f"/api/meetings/{m['id']}", json={"status": "closed"}))
    page = await launch()
    await page.goto(url)
    await page.wait_for_selector("#bad:not([hidden])", timeout=15000)
    text = await page.inner_text("#bad")
    assert "This meeting is closed." in text and "revoked" not in text, text


async def test_a_removed_browser_cannot_rejoin_through_its_open_link(server, api, launch):
    api.organizer("remover@example.org")
    m = api.meeting(title="Open link session")
    link = api.invite(m["id"], "observer", None, max_uses=None)
    chair_link = api.invite(m["id"], "chair", "Chloé")
    chair_token = chair_link.split("#t=", 1)[1]
    async with httpx.AsyncClient(base_url=server.base) as http:
        chair = (await http.post("/api/join", json={"token": chair_token})).json()

    page = await launch()
    await join(page, link, name="Mallory")
    me = json.loads(await page.evaluate("() => sessionStorage.getItem('mirp.participant')"))

    ws_url = server.base.replace("http://", "ws://") + "/ws"
    async with websockets.connect(ws_url) as ws:
        await ws.send(json.dumps({"type": "hello", "token": chair["participant_token"]}))
        await ws.send(json.dumps({"type": "participant_remove", "id": 1,
                                  "participant_id": me["participant_id"]}))
        while True:
            reply = json.loads(await ws.recv())
            if reply.get("id") == 1:
                break
        assert reply["type"] == "ack", reply

    # the same browser, through the same link: refused, not a new participant
    async def refused() -> str | None:
        await page.goto(link)
        await page.wait_for_selector("#join-form:not([hidden])", timeout=15000)
        if await page.is_visible("#join-name"):  # a returning browser is not asked again
            await page.fill("#join-name", "Mallory again")
        await page.click("#join-btn")
        await page.wait_for_function(
            "() => !location.pathname.endsWith('/join.html')"
            " || !document.querySelector('#join-error').hidden", timeout=15000)
        if not page.url.split("#")[0].endswith("/join.html"):
            return None  # it got in again (as the same or a new participant)
        text = await page.inner_text("#join-error")
        return text if "removed" in text else None

    text = await until(refused, "the join page refuses the removed participant")
    assert "You were removed from this meeting." in text, text
