"""Every page of web/ at desktop (1366×900) and phone (390×844) width, in English and in Arabic,
written to artifacts/screenshots/screen-<page>-<lang>-<width>.png for a person to look at
(issue 12: "screenshots of every page … looked at and fixed"). What a picture shows that a test
can check is checked here too: no page is wider than the phone (a sideways scroll), the Arabic
pages are right to left, and no catalogue key shows instead of words.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote

import pytest

from .conftest import Api, join, save_screenshot_dir, until
from .pagewalk import walk_organizer_pages
from .test_pages import DESKTOP, PHONE

pytestmark = pytest.mark.browser

# what sticks out sideways at this width (the page scrolls sideways: a layout bug), ignoring
# what the page hides
WIDER = """() => { const w = document.documentElement.clientWidth;
  const out = [...document.querySelectorAll('body *')].filter((e) => {
    if (!e.offsetParent && getComputedStyle(e).position !== 'fixed') return false;
    const r = e.getBoundingClientRect();
    return r.width > 0 && (r.right > w + 1 || r.left < -1);
  });
  const leaves = out.filter((e) => !out.some((o) => o !== e && e.contains(o)));
  return { scroll: document.scrollingElement.scrollWidth - w,
    what: leaves.slice(0, 5).map((e) => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '')
      + (e.className && typeof e.className === 'string' ? '.' + e.className.split(' ')[0] : '')) };
}"""
KEY = re.compile(r"\b(?:live|join|meeting|delegate|chair|console|help|webcast|wcadmin|report)"
                 r"\.(?!html\b)[a-z_]+(?:\.[a-z_]+)?\b")


async def screens(page: Any, name: str, lang: str) -> list[str]:
    """Shoot the page at both widths; what is wrong in it, in words."""
    out, problems = save_screenshot_dir(), []
    expected = ("ar", "rtl") if lang == "ar" else ("en", "ltr")
    got = (await page.get_attribute("html", "lang"), await page.get_attribute("html", "dir"))
    if got != expected:
        problems.append(f"{name} {lang}: lang/dir {got}, not {expected}")
    text = await page.inner_text("body")
    if m := KEY.search(text):
        problems.append(f"{name} {lang}: a catalogue key shows: {m.group(0)}")
    if m := re.search(r"\b(?:null|undefined|NaN)\b", text):
        problems.append(f"{name} {lang}: a program's value shows: {m.group(0)}")
    for (w, h), tag in ((DESKTOP, "desktop"), (PHONE, "phone")):
        await page.set_viewport_size({"width": w, "height": h})
        await page.evaluate("() => document.querySelector('.toasts')?.replaceChildren()")
        await page.wait_for_timeout(300)  # a re-layout at the new width
        wide = await page.evaluate(WIDER)
        if wide["scroll"] > 1:
            problems.append(f"{name} {lang} {tag}: {wide['scroll']} px wider than the screen: "
                            f"{wide['what']}")
        await page.screenshot(path=str(out / f"screen-{name}-{lang}-{tag}.png"), full_page=True)
    await page.set_viewport_size({"width": DESKTOP[0], "height": DESKTOP[1]})
    return problems


async def _live(launch: Any, locale: str, wav: Any, link: str) -> Any:
    return await join(await launch(wav, locale=locale), link)


async def test_every_page_in_english_and_arabic_at_both_widths(server, api: Api, launch,
                                                               silence):
    token = api.organizer()
    m = api.meeting(title="Council — 12th session of the Committee on Programme",
                    languages=["en", "ar", "fr"], registration_open=True,
                    options={"webcast": "public", "recording": False},
                    booths=[{"language": "ar", "understands": ["en", "fr"]},
                            {"language": "fr", "retour": "en", "understands": ["en"]}])
    mid = m["id"]
    problems: list[str] = []
    for lang, locale in (("en", "en-GB"), ("ar", "ar")):
        chair = await _live(launch, locale, silence, api.invite(mid, "chair", f"Chair {lang}"))
        delegate = await _live(launch, locale, silence, api.invite(
            mid, "delegate", f"Delegate {lang}", delegation="Brazil"))
        interp = await _live(launch, locale, silence, api.invite(
            mid, "interpreter", f"Interpreter {lang}", booth="ar" if lang == "ar" else "fr"))
        room = await _live(launch, locale, silence, api.invite(mid, "room", f"Hall {lang}"))
        await delegate.page.click("#request-floor")
        me = (await delegate.state())["me"]
        await chair.page.wait_for_selector(f"[data-give='{me}']")
        await chair.page.click(f"[data-give='{me}']")
        await delegate.page.wait_for_selector("#mic-live, #self-mute")
        await interp.page.click("#onair")

        async def on_air(i: Any = interp) -> bool:
            return await i.page.get_attribute("#onair", "aria-pressed") == "true"
        await until(on_air, f"the {lang} interpreter on air")
        for name, p in (("delegate", delegate), ("chair", chair), ("console", interp),
                        ("room", room)):
            problems += await screens(p.page, name, lang)
        await chair.page.click(f"[data-take='{me}']")
        await interp.page.click("#onair")

        page = await launch(silence, locale=locale)
        await page.goto(f"{server.base}/index.html")
        await page.wait_for_selector("#tab-signup")
        problems += await screens(page, "login", lang)
        await page.goto(api.invite(mid, "observer", None, max_uses=None))
        await page.wait_for_selector("#join-form:not([hidden])")
        problems += await screens(page, "join-open", lang)
        await page.goto("about:blank")
        await page.goto(api.invite(mid, "delegate", f"Kenji {lang}"))
        await page.wait_for_selector("#join-form:not([hidden])")
        problems += await screens(page, "join-named", lang)
        await page.goto(f"{server.base}/register.html#m={mid}")
        await page.wait_for_selector("#reg-form:not([hidden])")
        problems += await screens(page, "register", lang)
        link = api.invite(mid, "delegate", f"Left {lang}")
        await page.evaluate("t => sessionStorage.setItem('mirp.left', JSON.stringify(t))",
                            {"link": unquote(link.split("#t=", 1)[1]), "title": m["title"]})
        await page.goto(f"{server.base}/left.html")
        await page.wait_for_selector("#rejoin")
        problems += await screens(page, "left", lang)
        await page.goto(f"{server.base}/help.html#delegate")
        await page.wait_for_selector("main h1")
        problems += await screens(page, "help", lang)
        await page.goto(f"{server.base}/webcast.html#m={mid}")
        await page.wait_for_selector("#wc-status:not(:has-text('Loading'))")
        problems += await screens(page, "webcast", lang)
        problems += await walk_organizer_pages(
            page, server.base, mid, token, lambda pg, name, lang=lang: screens(pg, name, lang))
        for p in (chair, delegate, interp, room):
            await p.page.goto("about:blank")
    assert not problems, "what the pictures show:\n" + "\n".join(problems)
