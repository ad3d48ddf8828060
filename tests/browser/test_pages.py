"""The organizer's pages, driven like a person would: sign up, create a meeting with three
languages, invite, and follow the links. Screenshots of every page at desktop and phone widths go
to artifacts/screenshots/ (gitignored) for a human to look at."""

from __future__ import annotations

import re

import pytest

from .conftest import assert_no_refusals, join_all, save_screenshot_dir, until

pytestmark = pytest.mark.browser

DESKTOP = (1366, 900)
PHONE = (390, 844)


UNLABELLED = """() => [...document.querySelectorAll('button, input, select, textarea')]
  .filter((c) => c.offsetParent !== null && c.type !== 'hidden')
  .filter((c) => !(c.getAttribute('aria-label') || c.getAttribute('aria-labelledby')
    || (c.labels && c.labels.length) || c.textContent.trim() || c.title || c.placeholder))
  .map((c) => c.outerHTML.slice(0, 120))"""


async def shoot(page, name: str) -> None:
    """The page at desktop and phone width (full page), without transient toasts; every visible
    control must have a name a screen reader can say."""
    unlabelled = await page.evaluate(UNLABELLED)
    assert not unlabelled, f"{name}: controls without an accessible name: {unlabelled}"
    out = save_screenshot_dir()
    for (w, h), tag in ((DESKTOP, "desktop"), (PHONE, "phone")):
        await page.set_viewport_size({"width": w, "height": h})
        await page.evaluate("() => document.querySelector('.toasts')?.replaceChildren()")
        await page.wait_for_timeout(300)
        await page.screenshot(path=str(out / f"{name}-{tag}.png"), full_page=True)
    await page.set_viewport_size({"width": DESKTOP[0], "height": DESKTOP[1]})


async def test_organizer_creates_meeting_and_invitations_through_pages(server, launch):
    page = await launch()
    await page.goto(f"{server.base}/")
    await shoot(page, "login")
    await page.click("#tab-signup")
    await page.fill("#signup-name", "Olga Organizer")
    await page.fill("#signup-email", "olga@example.org")
    await page.fill("#signup-password", "correct horse 1")
    await page.click("#form-signup button[type=submit]")
    await page.wait_for_url(re.compile(r"/meetings\.html"))
    await page.wait_for_selector(".empty, .meeting-card")

    await page.click("#new-meeting")
    await page.wait_for_selector("#m-title")
    await page.fill("#m-title", "Council — 12th session")
    for code in ("en", "fr", "ar"):
        await page.select_option("#lang-add", code)
        await page.click("#lang-add-btn")
    # a booth for each language but the first is proposed; three languages -> three booths
    assert await page.locator(".booth-row").count() == 3
    await page.fill("#m-start", "2030-06-03T09:00")
    await page.fill("#m-end", "2030-06-03T12:00")
    await page.click("#save")
    await page.wait_for_selector("#panel-invitations:not([hidden])")
    await page.wait_for_function("() => location.hash.includes('id=')")
    meeting_url = page.url

    links = {}
    for role, name, extra in (("delegate", "Ana Silva", {"#inv-delegation": "Brazil"}),
                              ("interpreter", "Karim Haddad", {}),
                              ("chair", "Chidi Chair", {})):
        await page.select_option("#inv-role", role)
        if role == "interpreter":
            await page.select_option("#inv-booth", "ar")
        await page.fill("#inv-name", name)
        for sel, value in extra.items():
            await page.fill(sel, value)
        await page.click("#inv-form button[type=submit]")
        await page.wait_for_selector("#inv-created:not([hidden]) #inv-created-link")
        await until(lambda n=name: page.locator(f"#inv-created:has-text('{n}')").count(),
                    f"the invitation for {name}")
        links[role] = await page.input_value("#inv-created-link")
        assert "/join.html#t=" in links[role]
    await until(lambda: _count(page, "[data-invitation]", 3), "the three invitations listed")
    await shoot(page, "organizer-invitations")

    # bulk CSV
    await page.click("#bulk-open")
    await page.fill("#bulk-csv", "Kenji Sato,Japan,kenji@example.org\nLi Wei,China,li@example.org")
    await page.click("#bulk-submit")
    await until(lambda: _count(page, "[data-invitation]", 5), "the two imported invitations")

    await page.click("#tab-details")
    await shoot(page, "organizer-meeting")
    await page.goto(f"{server.base}/meetings.html")
    await page.wait_for_selector(".meeting-card")
    await shoot(page, "organizer-meetings")
    await page.goto(meeting_url.split("#")[0] + "#" + meeting_url.split("#")[1].split("&")[0]
                    + "&tab=live")
    await page.wait_for_selector("#live .card")
    await shoot(page, "organizer-live-idle")

    # the links work: each opens the pre-join page of this meeting, with the invited role
    guest = await launch()
    for role, url in links.items():
        await guest.goto("about:blank")
        await guest.goto(url)
        await guest.wait_for_selector("#join-form:not([hidden])", timeout=15000)
        assert "Council" in await guest.inner_text("#meeting-title")
        assert role in (await guest.inner_text("#role-line")).lower()
        if role == "delegate":
            await shoot(guest, "join")
    await guest.goto("about:blank")
    await guest.goto(links["delegate"])
    await guest.wait_for_selector("#join-form:not([hidden])")
    await guest.click("#join-btn")
    await guest.wait_for_url(re.compile(r"/delegate\.html"))
    # the meeting is still scheduled: the delegate waits in the waiting room (joins by itself)
    await guest.wait_for_selector("#waiting:has-text('Waiting for the meeting to open')")
    await shoot(guest, "delegate-not-open")


async def _count(page, sel: str, n: int) -> bool:
    return await page.locator(sel).count() == n


async def test_register_then_organizer_approves(server, api, launch):
    """Self-registration on the public page; the organizer approves it on the meeting's
    Registrations tab, which yields a join link that opens the pre-join page."""
    token = api.organizer()
    m = api.meeting(registration_open=True)
    page = await launch()
    await page.goto(f"{server.base}/register.html#m={m['id']}")
    await page.wait_for_selector("#reg-form:not([hidden])")
    await shoot(page, "register")
    await page.fill("#r-name", "Rita Registrant")
    await page.fill("#r-email", "rita@example.org")
    await page.fill("#r-delegation", "Chile")
    await page.click("#reg-form button[type=submit]")
    await page.wait_for_selector("#done:not([hidden])")

    await page.evaluate("t => localStorage.setItem('mirp.organizer', JSON.stringify({token: t}))",
                        token)
    await page.goto(f"{server.base}/meeting.html#id={m['id']}&tab=registrations")
    row = "#reg-list tr:has-text('Rita Registrant')"
    await page.wait_for_selector(f"{row} button:has-text('Approve')")
    await page.click(f"{row} button:has-text('Approve')")
    await page.wait_for_selector(f"{row} .badge:has-text('approved')")
    await shoot(page, "organizer-registrations")
    regs = api.http.get(f"/api/meetings/{m['id']}/registrations").json()
    rita = next(r for r in regs if r["name"] == "Rita Registrant")
    assert rita["status"] == "approved"
    link = rita.get("join_url") or rita["invitation"]["join_url"]
    await page.goto(link)
    await page.wait_for_selector("#join-form:not([hidden])")
    assert "Rita Registrant" in await page.inner_text("#role-line")


async def test_live_pages_screenshots(server, api, launch, tones, silence):
    """A realistic scene (a timed speaker, a waiting list, a booth on air with its partner, a
    relay listener), then each live page at both widths. (No zh in this scene: the CI image has
    no CJK font, and tofu would hide layout problems from whoever looks at the pictures.)"""
    token = api.organizer()
    m = api.meeting(title="Council — 12th session", languages=["en", "fr", "ar", "es", "ru", "pt"],
                    booths=[{"language": "fr", "retour": "en", "understands": ["en"]},
                            *({"language": lang, "understands": ["en"]}
                              for lang in ("ar", "es", "ru", "pt"))])
    chair, speaker, waiting, interp, partner = await join_all(
        launch,
        (silence, api.invite(m["id"], "chair", "Chidi Okafor")),
        (tones(610), api.invite(m["id"], "delegate", "Ana Silva", delegation="Brazil")),
        (silence, api.invite(m["id"], "delegate", "Kenji Sato", delegation="Japan")),
        (tones(520), api.invite(m["id"], "interpreter", "Claire Martin", booth="fr")),
        (silence, api.invite(m["id"], "interpreter", "Paul Lefèvre", booth="fr")))
    await speaker.page.click("#request-floor")
    await waiting.page.click("#point-of-order")
    speaker_id = (await speaker.state())["me"]
    await chair.page.wait_for_selector(f"[data-give='{speaker_id}']")
    await chair.page.select_option("#floor-language", "en")
    await chair.page.click("#limits button:has-text('3 min')")
    await chair.page.click(f"[data-give='{speaker_id}']")
    await speaker.page.wait_for_selector("#mic-live")
    await interp.page.click("#onair")
    await until(lambda: _on_air(interp), "the interpreter to be on air")
    await interp.page.fill("#chat-text", "I take over at half past.")
    await interp.page.press("#chat-text", "Enter")
    await partner.page.fill("#chat-text", "Fine, ready when you are.")
    await partner.page.press("#chat-text", "Enter")
    await partner.page.click("#slow-down")
    await chair.page.wait_for_selector("#notices .alert:has-text('slow down')")
    await speaker.page.wait_for_selector("#slowdown:not([hidden])")
    await waiting.page.click('[data-channel="fr"]')
    await until(lambda: _channel(waiting, "fr"), "the listener to be on fr")
    await until(lambda: waiting.hears(520), "the fr listener to hear the interpreter")
    await until(lambda: _count(interp.page, "#chat .m", 2), "both booth chat lines")
    await shoot(speaker.page, "delegate-speaking")
    await shoot(waiting.page, "delegate")
    await shoot(interp.page, "console")
    await shoot(partner.page, "console-partner")
    await shoot(chair.page, "chair")

    # the organizer's live overview of this meeting (a tab of the chair's browser)
    org = await chair.page.context.new_page()
    await org.goto(f"{server.base}/left.html")
    await org.evaluate("t => localStorage.setItem('mirp.organizer', JSON.stringify({token: t}))",
                       token)
    await org.goto(f"{server.base}/meeting.html#id={m['id']}&tab=live")
    await org.wait_for_selector("#live .grid-3")
    text = await org.inner_text("#live")
    assert "Claire Martin" in text and "Ana Silva" in text, text
    await shoot(org, "organizer-live")
    await assert_no_refusals(chair, speaker, waiting, interp, partner)
    print("quality seen by the pages:",
          {n: (await p.state()).get("quality")
           for n, p in (("chair", chair), ("speaker", speaker), ("interpreter", interp))})


async def _on_air(p) -> bool:
    return (await p.page.get_attribute("#onair", "aria-pressed")) == "true"


async def _channel(p, channel: str) -> bool:
    return (await p.state()).get("channel") == channel
