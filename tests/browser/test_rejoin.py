"""Rejoin (issue 12, point 1) in Chromium: a named invitation brings back the same participant,
with the same channel, after the Leave page's Rejoin button, after a closed tab and from another
device; a second device replaces the first, which says so and can take it back. What the page
hears is checked by an FFT in the page (mirp_test.js); every state is polled for.
"""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import Participant, assert_no_refusals, join, join_all, until
from .test_audio import FR_HZ, pick_channel
from .test_pages import shoot

pytestmark = pytest.mark.browser


async def _on_air(interp: Participant) -> None:
    await interp.page.click("#onair")

    async def on() -> bool:
        return (await interp.page.get_attribute("#onair", "aria-pressed")) == "true"
    await until(on, "the interpreter on air")


async def _back_on_fr(p: Participant, me: str) -> dict[str, Any]:
    """The page is in the meeting again as `me`, on fr, and hears the French booth."""
    async def ready() -> bool:
        s = await p.state()
        return s.get("session") == "open" and s.get("connection") == "connected" \
            and s.get("me") == me and s.get("channel") == "fr"
    await until(ready, f"{me} back in the meeting on fr", deadline_s=30.0)
    heard = await until(lambda: p.hears(FR_HZ), f"{me} to hear the French booth ({FR_HZ} Hz)")
    assert abs(heard["frequency"] - FR_HZ) <= 15, heard
    return heard


async def test_rejoin_after_leaving_is_the_same_participant_on_the_same_channel(
        server, api, launch, tones, silence):
    api.organizer()
    m = api.meeting()
    link = api.invite(m["id"], "delegate", "Dev Delegate", delegation="Kenya")
    interp, delegate = await join_all(
        launch,
        (tones(FR_HZ), api.invite(m["id"], "interpreter", "Ines Interprète", booth="fr")),
        (silence, link))
    await _on_air(interp)
    await pick_channel(delegate, "fr")
    me = (await delegate.state())["me"]
    await _back_on_fr(delegate, me)

    page = delegate.page
    page.on("dialog", lambda d: d.accept())
    await page.click("#leave")
    await page.wait_for_url("**/left.html", timeout=15000)
    await page.wait_for_selector("#rejoin:has-text('Rejoin')")
    assert "same channel" in await page.inner_text("main")
    await shoot(page, "left-rejoin")

    # the Room dropped them (the floor page's participants list no longer has them)...
    async def gone() -> bool:
        return me not in [p["id"] for p in (await interp.state())["participants"]]
    await until(gone, "the delegate gone from the room")
    # ...and the button brings them back: same participant, same channel, heard
    await page.click("#rejoin")
    await page.wait_for_url("**/delegate.html", timeout=15000)
    await _back_on_fr(delegate, me)
    await assert_no_refusals(interp, delegate)


async def test_closed_tab_another_device_and_taking_it_back(server, api, launch, tones, silence):
    api.organizer()
    m = api.meeting()
    link = api.invite(m["id"], "delegate", "Dev Delegate")
    interp, laptop = await join_all(
        launch,
        (tones(FR_HZ), api.invite(m["id"], "interpreter", "Ines Interprète", booth="fr")),
        (silence, link))
    await _on_air(interp)
    await pick_channel(laptop, "fr")
    me = (await laptop.state())["me"]

    # the same link on a phone (its own browser: no storage of the laptop's): the join page says
    # it is a rejoin, the phone is the same participant, the laptop is told it was replaced
    phone_page = await launch(silence, viewport=(390, 844))
    await phone_page.goto(link)
    await phone_page.wait_for_selector("#join-btn:has-text('Rejoin meeting')", timeout=15000)
    assert await phone_page.is_visible("#rejoin-note")
    phone = await join(phone_page, link)
    await _back_on_fr(phone, me)
    await laptop.page.wait_for_selector("#ended:has-text('another device')", timeout=15000)
    text = await laptop.page.inner_text("#ended")
    assert "meeting full" not in text.lower(), text
    await shoot(laptop.page, "delegate-replaced")

    # the laptop takes it back; now the phone is the one told
    await laptop.page.click("#take-back")
    await _back_on_fr(laptop, me)
    await phone_page.wait_for_selector("#ended:has-text('another device')", timeout=15000)

    # the laptop's tab closes; the live page opened again in that browser (history, a bookmark)
    # has no credentials of its own, and offers the way back
    ctx = laptop.page.context
    await laptop.page.close()
    again = await ctx.new_page()
    await again.goto(link.split("/join.html")[0] + "/delegate.html")
    await again.click("#rejoin-last:has-text('Rejoin')")
    await again.wait_for_selector("#join-btn:has-text('Rejoin meeting')", timeout=15000)
    back = await join(again, again.url)
    await _back_on_fr(back, me)
    await ctx.close()
    # and the link opened in a fresh browser brings them back too
    fresh = await launch(silence)
    await fresh.goto(link)
    await fresh.wait_for_selector("#join-btn:has-text('Rejoin meeting')", timeout=15000)
    back = await join(fresh, link)
    await _back_on_fr(back, me)
    await assert_no_refusals(interp, back)


async def test_an_open_link_does_not_ask_a_returning_browser_its_name_again(server, api, launch,
                                                                            silence):
    api.organizer()
    m = api.meeting(title="Open council")
    link = api.invite(m["id"], "observer", None, max_uses=None)
    page = await launch(silence)
    first = await join(page, link, name="Olga Open")
    me = (await first.state())["me"]
    # the same browser opens the open link again (a closed tab, a bookmark): no name asked
    await page.goto("about:blank")
    await page.goto(link)
    await page.wait_for_selector("#join-form:not([hidden])")
    await page.wait_for_selector("#rejoin-note")
    assert not await page.is_visible("#join-name")
    again = await join(page, link)
    await until(lambda: _is(again, me), "the same participant back through the open link")
    # another browser is somebody else: it is asked its name
    other = await launch(silence)
    await other.goto(link)
    await other.wait_for_selector("#join-form:not([hidden])")
    assert await other.is_visible("#join-name")


async def _is(p: Participant, me: str) -> bool:
    s = await p.state()
    return s.get("session") == "open" and s.get("me") == me
