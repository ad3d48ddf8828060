"""The meeting room connector page (web/room.html) in Chromium with a fake line input: the room's
tone is the floor the chair hears; the room hears the chair, never itself; the line input is
raw (no echo cancellation, noise suppression or gain control); levels in and out move; a lost
server is shown loudly and the page comes back by itself. Real server processes, real browsers.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.server import Server

from .conftest import Api, assert_no_refusals, join, until
from .test_pages import shoot

pytestmark = pytest.mark.browser

ROOM_HZ = 660.0
CHAIR_HZ = 350.0


async def _meter(page, fill: str) -> float:
    width = await page.eval_on_selector(fill, "e => parseFloat(e.style.width || '0')")
    return float(width)


async def _title_warns(page) -> bool:
    return (await page.title()).startswith("⚠ SERVER LOST")


async def test_room_page_is_the_floor_hears_the_chair_and_warns_when_the_server_is_lost(
        tmp_path: Path, launch, tones):
    srv = Server(tmp_path / "data")
    await srv.start()
    try:
        api = Api(srv.base)
        api.organizer()
        m = api.meeting()
        room = await join(await launch(tones(ROOM_HZ)),
                          api.invite(m["id"], "room", "Plenary hall"))
        chair = await join(await launch(tones(CHAIR_HZ)),
                           api.invite(m["id"], "chair", "Chair Person"))
        api.http.close()
        page = room.page
        assert page.url.endswith("/room.html")
        # the line input is raw
        await page.wait_for_selector("#processing[data-raw='true']", timeout=15000)
        # the chair hears the room (the floor is in the room by default, with nobody given it)
        await until(lambda: chair.hears(ROOM_HZ), f"the chair to hear the room's {ROOM_HZ} Hz")
        # the chair speaks: the room hears the chair, and its own tone far under it
        await chair.page.click("#chair-speak")

        async def room_hears_chair_not_itself() -> bool:
            own = (await page.evaluate("hz => window.mirpTest.levelAt(hz, 800)", ROOM_HZ))
            heard = await room.hears(CHAIR_HZ)
            return bool(heard) and heard["level_db"] - own["level_db"] >= 40
        await until(room_hears_chair_not_itself, "the room to hear the chair, never itself")
        # levels in and out both move
        await until(lambda: _meter(page, "#in-fill"), "the level-in meter to move")
        await until(lambda: _meter(page, "#out-fill"), "the level-out meter to move")
        # the chair sees where the floor is, and moves it
        await chair.page.wait_for_selector("#floor-room-row:not([hidden])", timeout=15000)
        await chair.page.click("[data-floor-room='remote']")
        await page.wait_for_selector("#floor-where:has-text('remote speaker')", timeout=15000)
        await assert_no_refusals(room, chair)

        srv.kill()
        await page.wait_for_selector("#server-lost:not([hidden]):has-text('SERVER LOST')",
                                     timeout=15000)
        await until(lambda: _title_warns(page), "the tab's title to warn")
        await shoot(page, "room-server-lost")
        await srv.start()

        async def back() -> bool:
            s = await room.state()
            return s.get("session") == "open" and s.get("connection") == "connected" \
                and not await page.is_visible("#server-lost")
        await until(back, "the room page back by itself", deadline_s=60.0)
        await until(lambda: room.hears(CHAIR_HZ), "the room to hear the chair again",
                    deadline_s=30.0)
    finally:
        srv.close()
