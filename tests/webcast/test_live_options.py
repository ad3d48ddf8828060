"""A live meeting (the app served by uvicorn, its media plane in its own process) follows the
recorder's real state and its options at once: the REC badge is what the webcast worker is
doing (a full disk turns it off though the option stays on), and switching the webcast or the
recording on the meeting's options acts on the running meeting (docs/webcast.md)."""

from __future__ import annotations

import errno
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from mirp.webcast import ogg
from tests.integration.conftest import Harness, WsClient
from tests.support.factory import ServedApp, make_meeting, served_app, standard_meeting_body
from tests.support.wait import Seen, until

pytestmark = [pytest.mark.integration]


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[ServedApp]:
    async with served_app(tmp_path) as s:
        yield s


async def harness(served: ServedApp, **options: Any) -> Harness:
    body = standard_meeting_body(options=options)
    return Harness(served, await make_meeting(served.app, body=body))


def badge(ws: WsClient) -> bool | None:
    """The REC badge as the page has it: the welcome's, then each `meeting` event's."""
    shown = None
    for msg in ws.messages:
        if msg.get("type") == "welcome":
            shown = msg["room"]["meeting"]["recording"]
        elif msg.get("type") == "meeting" and "recording" in (msg.get("meeting") or {}):
            shown = msg["meeting"]["recording"]
    return shown


async def badge_is(ws: WsClient, want: bool) -> None:
    await until(lambda: badge(ws) is want or Seen(f"badge {badge(ws)}"),
                f"{ws.name}'s REC badge {want}", 20, tolerate=())


async def recordings(http: httpx.AsyncClient, h: Harness) -> dict[str, Any]:
    auth = {"Authorization": f"Bearer {h.meeting.organizer_token}"}
    r = await http.get(f"/api/meetings/{h.meeting.meeting_id}/recordings", headers=auth)
    assert r.status_code == 200, r.text
    return dict(r.json())


async def patch(http: httpx.AsyncClient, h: Harness, **options: Any) -> None:
    auth = {"Authorization": f"Bearer {h.meeting.organizer_token}"}
    r = await http.patch(f"/api/meetings/{h.meeting.meeting_id}", headers=auth,
                         json={"options": options})
    assert r.status_code == 200, r.text


async def test_the_rec_badge_follows_the_recorder_a_full_disk_turns_it_off(
        served: ServedApp, monkeypatch: pytest.MonkeyPatch) -> None:
    h = await harness(served, recording=True)
    try:
        chair = await h.attend("chair", media=False)
        await badge_is(chair.ws, True)
        webcast = served.app.state.webcast
        mid = h.meeting.meeting_id

        def written() -> bool | Seen:
            status = webcast.status(mid)
            if status is not None and status.recording and status.packets.get("floor", 0) > 50:
                return True
            return Seen(f"{status}")

        await until(written, "the recorder writing", 20, tolerate=())

        def full(self: ogg.OggOpusWriter, data: bytes) -> None:
            raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr(ogg.OggOpusWriter, "_write", full)
        await badge_is(chair.ws, False)  # the option is still on
        late = await h.attend("delegate1", media=False)
        assert badge(late.ws) is False  # a newcomer's welcome says so too
        async with httpx.AsyncClient(base_url=served.base_url) as http:
            listed = await recordings(http, h)
        assert listed["recording"] is True and listed["running"] is False
        assert "No space left" in (listed["alert"] or "")
    finally:
        await h.close()


async def test_options_switched_on_the_meeting_page_act_on_the_live_meeting(
        served: ServedApp) -> None:
    h = await harness(served, webcast="public", recording=False)
    mid = h.meeting.meeting_id
    master = f"/webcast/{mid}/master.m3u8"
    try:
        chair = await h.attend("chair", media=False)
        async with httpx.AsyncClient(base_url=served.base_url) as http:
            async def served_master() -> bool | Seen:
                r = await http.get(master)
                return r.status_code == 200 or Seen(f"{r.status_code}")

            await until(served_master, "the master playlist", 20, tolerate=())
            assert badge(chair.ws) is False
            # the webcast's access changes at once (no cache to wait out)
            await patch(http, h, webcast="off")
            assert (await http.get(master)).status_code == 404
            await patch(http, h, webcast="token")
            r = await http.get(master)
            assert r.status_code == 401, r.text
            await patch(http, h, webcast="public")
            assert (await http.get(master)).status_code == 200

            async def floor_segments() -> list[str] | Seen:
                r = await http.get(f"/webcast/{mid}/floor/index.m3u8")
                names = [ln for ln in r.text.splitlines() if ln.endswith(".m4s")]
                return names or Seen(f"{r.status_code} {r.text[-80:]!r}")

            session = (await until(floor_segments, "a floor segment", 20, tolerate=())
                       )[0].split("-")[0]
            # recording starts in the running meeting: a part, the badge
            await patch(http, h, recording=True)
            await badge_is(chair.ws, True)

            async def running() -> dict[str, Any] | Seen:
                listed = await recordings(http, h)
                parts = listed["parts"]
                if listed["running"] and len(parts) == 1 and parts[0]["channels"]:
                    return dict(parts[0])
                return Seen(f"{listed}")

            part = await until(running, "a running recording", 20, tolerate=())
            # and stops: the part ends, the badge goes; the webcast went on throughout
            await patch(http, h, recording=False)
            await badge_is(chair.ws, False)

            async def ended() -> bool | Seen:
                listed = await recordings(http, h)
                (found,) = listed["parts"]
                return (found["part"] == part["part"] and found["ended_at"] is not None
                        and not listed["running"]) or Seen(f"{listed}")

            await until(ended, "the recording ended", 20, tolerate=())
            now = (await http.get(f"/webcast/{mid}/floor/index.m3u8")).text
            assert "#EXT-X-ENDLIST" not in now
            assert f"{session}-" in now  # the same session: viewers were not cut off
    finally:
        await h.close()
