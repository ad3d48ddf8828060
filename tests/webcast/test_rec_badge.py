"""The live page's REC badge in Debian's Chromium follows the recorder of a running meeting:
recording switched off on the meeting's options hides it, on again shows it, without the page
reloading (the `meeting {recording}` event, docs/webcast.md)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support.factory import ServedApp, make_meeting, standard_meeting_body
from tests.webcast.test_page import served  # noqa: F401  (a fixture)

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.rtc]


async def test_the_live_pages_rec_badge_follows_recording_switched_off_and_on(
        served: ServedApp, page: Any) -> None:  # noqa: F811
    from tests.browser.conftest import LIVE_PAGE

    body = standard_meeting_body(options={"recording": True})
    fx = await make_meeting(served.app, body=body, delegates=0, interpreters={}, chair=False)
    auth = {"Authorization": f"Bearer {fx.organizer_token}"}
    async with httpx.AsyncClient(base_url=served.base_url) as http:
        r = await http.post(f"/api/meetings/{fx.meeting_id}/invitations", headers=auth,
                            json={"role": "observer", "name": "Olive"})
        assert r.status_code == 201, r.text
        await page.goto(r.json()["join_url"])
        await page.wait_for_selector("#join-form:not([hidden])", timeout=15000)
        await page.click("#join-btn")
        await page.wait_for_url(LIVE_PAGE, timeout=15000)
        await page.wait_for_selector("#bar-rec:not([hidden])", timeout=20000)
        for on in (False, True):
            r = await http.patch(f"/api/meetings/{fx.meeting_id}", headers=auth,
                                 json={"options": {"recording": on}})
            assert r.status_code == 200, r.text
            shown = "#bar-rec:not([hidden])" if on else "#bar-rec[hidden]"
            await page.wait_for_selector(shown, state="attached", timeout=20000)
