"""After a reconnection or a server restart each person is told, in plain words, what changed for
them (the floor, on air, their place on the speakers list), or that nothing did (issue 12,
point 3). Real server processes killed and started again on the same data directory, real
Chromium pages; every state is polled for.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.server import Server

from .conftest import Api, Participant, assert_no_refusals, join_all, until
from .test_pages import shoot

pytestmark = pytest.mark.browser


async def _notice(p: Participant, *words: str) -> str | None:
    """The back notice's text once it says all of `words`."""
    if not await p.page.is_visible("#back-notice"):
        return None
    text = await p.page.inner_text("#back-notice")
    return text if all(w in text for w in words) else None


async def _told(p: Participant, who: str, *words: str) -> str:
    try:
        return str(await until(lambda: _notice(p, *words), f"{who} told {words!r}",
                               deadline_s=60.0))
    except AssertionError as e:  # say what the page knew
        seen = await p.page.evaluate("""async () => {
            const l = (await import('/js/live.js')).liveSession();
            return JSON.stringify({connection: l.state.connection, back: l.state.back,
              welcomes: l.state.welcomes, ended: l.state.ended,
              main: document.querySelector('main').innerText.slice(0, 300)}); }""")
        raise AssertionError(f"{e}\nthe page: {seen}") from None


async def test_restart_tells_each_person_what_changed(tmp_path: Path, launch, silence):
    srv = Server(tmp_path / "data")
    await srv.start()
    try:
        api = Api(srv.base)
        api.organizer()
        m = api.meeting()
        chair, speaker, waiting, interp = await join_all(
            launch,
            (silence, api.invite(m["id"], "chair", "Chair Person")),
            (silence, api.invite(m["id"], "delegate", "Sam Speaker")),
            (silence, api.invite(m["id"], "delegate", "Wanda Waiting")),
            (silence, api.invite(m["id"], "interpreter", "Ines Interprète", booth="fr")))
        api.http.close()
        await speaker.page.click("#request-floor")
        await chair.page.click("[data-give]")
        await speaker.page.wait_for_selector("#mic-live")
        await waiting.page.click("#request-floor")
        await waiting.page.wait_for_selector("#withdraw")
        await interp.page.click("#onair")
        await interp.page.wait_for_selector("#onair-light.on")
        me = (await speaker.state())["me"]

        async def saved() -> bool:  # the room's snapshot has the floor and the list
            s = await chair.state()
            return s.get("floor_holders") == [me] and len(s.get("speakers", [])) == 1
        await until(saved, "the floor given and one request waiting")

        # 1. a crash and a restart that restores the room: nothing changed, and they are told
        srv.kill()
        await srv.start()
        text = await _told(speaker, "the speaker", "after a server restart", "Nothing changed",
                           "You still have the floor")
        assert "no longer" not in text, text
        await _told(waiting, "the waiting delegate", "Nothing changed",
                    "still 1st on the speakers list")
        await _told(interp, "the interpreter", "Nothing changed", "still on air")
        await shoot(speaker.page, "delegate-back-nothing-changed")

        # 2. a restart that cannot restore the room (its snapshot is too old): the floor, the
        # list and the booth's microphone are gone, and each person reads what they lost
        srv.kill()
        srv.env["MIRP_LIMITS__RESTORE_MAX_AGE_S"] = "0.001"
        await srv.start()
        await _told(speaker, "the speaker", "You no longer have the floor")
        await _told(waiting, "the waiting delegate", "You are no longer on the speakers list")
        await _told(interp, "the interpreter", "You are off air")
        await _told(chair, "the chair", "The speakers list is empty now")
        await shoot(interp.page, "console-back-off-air")
        await shoot(speaker.page, "delegate-back-floor-lost")
        s = await speaker.state()
        assert not s["i_have_floor"] and s["mic_enabled"] is False, s
        await speaker.page.click("#back-notice button")
        assert not await speaker.page.is_visible("#back-notice")
        await assert_no_refusals(chair, speaker, waiting, interp)
    finally:
        srv.close()


async def test_reconnection_tells_what_changed_meanwhile(server, api, launch, silence):
    """A connection lost for a while (the page kept from reconnecting): meanwhile the chair gives
    the floor to someone else; back, the delegate reads that they lost it."""
    api.organizer()
    m = api.meeting()
    chair, speaker, other = await join_all(
        launch,
        (silence, api.invite(m["id"], "chair", "Chair Person")),
        (silence, api.invite(m["id"], "delegate", "Sam Speaker")),
        (silence, api.invite(m["id"], "delegate", "Olga Other")))
    await speaker.page.click("#request-floor")
    await chair.page.click("[data-give]")
    await speaker.page.wait_for_selector("#mic-live")
    # the page's own reconnect is held back (as a long outage would), then the socket drops
    await speaker.page.evaluate("""async () => {
        const l = (await import('/js/live.js')).liveSession();
        l.proto._connect = l.proto.connect; l.proto.connect = () => {};
        l.proto.ws.close(4000, 'dropped by a test'); }""")
    await speaker.page.wait_for_selector("#conn-lost")
    me = (await speaker.state())["me"]

    await chair.page.click(f"[data-take='{me}']")
    await other.page.click("#request-floor")
    await chair.page.click("[data-give]")
    await other.page.wait_for_selector("#mic-live")

    await speaker.page.evaluate("""async () => {
        const l = (await import('/js/live.js')).liveSession();
        clearTimeout(l.proto.timer);  // a retry still pending would connect a second time
        l.proto.connect = l.proto._connect; l.proto.connect(); }""")
    text = await _told(speaker, "the speaker", "You are back in the meeting",
                       "You no longer have the floor")
    assert "server restart" not in text, text
    assert not await speaker.page.is_visible("#mic-live")
    await assert_no_refusals(chair, speaker, other)
