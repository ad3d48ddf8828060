"""The interface in the six UN languages (issue 12, point 10), in Chromium: the page follows the
browser's language, Arabic is laid out right to left, the picker in the bar switches the language
(remembered), and the role guides exist in each. Screenshots of the delegate page and the console
in English and Arabic, at desktop and phone widths, go to artifacts/screenshots/ (`i18n-*`)."""

from __future__ import annotations

import re

import pytest

from .conftest import assert_no_refusals, join, until
from .test_pages import shoot

pytestmark = pytest.mark.browser

# what the catalogues say (web/i18n/*.json): the test reads the pages as a person would
REQUEST_FLOOR = {"ar": "طلب الكلمة", "zh": "请求发言", "en": "Request the floor"}
SPEAKERS = {"ar": "قائمة المتكلمين", "zh": "发言名单"}


async def _lang(page) -> tuple[str | None, str | None]:
    return (await page.get_attribute("html", "lang"), await page.get_attribute("html", "dir"))


async def test_arabic_is_right_to_left_and_the_picker_switches_to_chinese(server, api, launch):
    api.organizer()
    m = api.meeting(title="Plenary", languages=["en", "ar", "zh"], booths=[])
    page = await launch(locale="ar-EG")
    p = await join(page, api.invite(m["id"], "delegate", "Amina Haddad", delegation="Egypt"))

    # the browser says Arabic: the page is Arabic, right to left, without anyone choosing
    assert await _lang(page) == ("ar", "rtl")
    assert await page.evaluate("getComputedStyle(document.body).direction") == "rtl"
    assert REQUEST_FLOOR["ar"] in await page.inner_text("#request-floor")
    assert await page.inner_text("#speakers-h") == SPEAKERS["ar"]
    assert await page.input_value("#lang-pick") == "ar"
    # the bar's end (the Leave button) is on the left in RTL, the brand on the right
    brand = await page.eval_on_selector(".brand", "e => e.getBoundingClientRect().left")
    leave = await page.eval_on_selector("#leave", "e => e.getBoundingClientRect().left")
    assert leave < brand, (leave, brand)
    # text the scripts build comes from the catalogue too (the connection state, the help link)
    assert await page.inner_text("#help-link") == "مساعدة"

    # the picker: Chinese, remembered, the page shows itself again in it and is back in the meeting
    await page.select_option("#lang-pick", "zh")

    async def chinese() -> bool:
        return await _lang(page) == ("zh", "ltr") and REQUEST_FLOOR["zh"] in await page.inner_text(
            "#request-floor")
    await until(chinese, "the delegate page in Chinese")
    assert await page.evaluate("localStorage.getItem('mirp.lang')") == "zh"
    assert await page.inner_text("#speakers-h") == SPEAKERS["zh"]

    async def back_in() -> bool:
        s = await p.state()
        return s.get("connection") == "connected" and s.get("session") == "open"
    await until(back_in, "the page to be back in the meeting after the switch")
    await assert_no_refusals(p)


async def test_role_guides_in_every_language(server, launch):
    page = await launch()
    await page.goto(f"{server.base}/left.html")
    for lang in ("en", "ar", "zh", "fr", "ru", "es"):
        await page.evaluate("l => localStorage.setItem('mirp.lang', l)", lang)
        for role in ("delegate", "interpreter", "chair", "organizer", "room"):
            await page.goto(f"{server.base}/help.html#{role}")
            await page.reload()  # a new hash alone does not load the page again
            await page.wait_for_selector("#guide section.card")
            assert await _lang(page) == (lang, "rtl" if lang == "ar" else "ltr")
            cards = await page.locator("#guide section.card").count()
            assert cards >= 8, f"{lang} {role}: {cards} sections"
            # every text came from the catalogue: no key left showing
            text = await page.inner_text("main")
            assert not re.search(r"\bhelp\.\w", text), f"{lang} {role}: a key shows: {text[:200]}"
            current = await page.get_attribute("#roles a[aria-current=page]", "href")
            assert current == f"#{role}"
    # every page's bar links to the guide for its role
    await page.evaluate("() => localStorage.setItem('mirp.lang', 'en')")
    for path, role in (("/join.html", "delegate"), ("/index.html", "organizer"),
                       ("/left.html", "delegate"), ("/register.html", "delegate")):
        await page.goto(f"{server.base}{path}")
        assert await page.get_attribute("#help-link", "href") == f"/help.html#{role}"


async def test_screenshots_english_and_arabic(server, api, launch, tones, silence):
    """A delegate holding the floor and an interpreter on air, each in English and in Arabic,
    at both widths (a person looks at the pictures: docs/i18n.md)."""
    api.organizer()
    m = api.meeting(title="Council — 12th session", languages=["en", "ar", "fr"],
                    booths=[{"language": "ar", "understands": ["en", "fr"]},
                            {"language": "fr", "retour": "en", "understands": ["en"]}])
    chair = await join(await launch(silence), api.invite(m["id"], "chair", "Chidi Okafor"))
    people = {}
    for lang, locale in (("en", "en-GB"), ("ar", "ar")):
        people[lang] = (
            await join(await launch(tones(610 if lang == "en" else 640), locale=locale),
                       api.invite(m["id"], "delegate", f"Delegate {lang}", delegation="Brazil")),
            await join(await launch(tones(520), locale=locale),
                       api.invite(m["id"], "interpreter", f"Interpreter {lang}",
                                  booth="ar" if lang == "ar" else "fr")))
    for lang, (delegate, interp) in people.items():
        await delegate.page.click("#request-floor")
        me = (await delegate.state())["me"]
        await chair.page.wait_for_selector(f"[data-give='{me}']")
        await chair.page.click(f"[data-give='{me}']")
        await delegate.page.wait_for_selector("#mic-live")
        await delegate.page.click("#self-mute")
        await interp.page.click("#onair")

        async def on_air(i=interp) -> bool:
            return await i.page.get_attribute("#onair", "aria-pressed") == "true"
        await until(on_air, f"the {lang} interpreter on air")
        await shoot(delegate.page, f"i18n-delegate-{lang}")
        await shoot(interp.page, f"i18n-console-{lang}")
        await chair.page.click(f"[data-take='{me}']")
        await interp.page.click("#onair")
    assert await _lang(people["ar"][0].page) == ("ar", "rtl")
    await assert_no_refusals(chair, *(p for pair in people.values() for p in pair))


async def test_refusals_in_the_readers_language(server, api, launch):
    """The server's refusal (a closed meeting's link, a revoked one) is worded by the page in the
    reader's language, not left in the server's English."""
    api.organizer("refusals@example.org")
    closed = api.meeting(title="Closed session")
    closed_link = api.invite(closed["id"], "observer", "Oscar")
    api._ok(api.http.patch(f"/api/meetings/{closed['id']}", json={"status": "closed"}))
    m = api.meeting(title="Open session")
    inv = api._ok(api.http.post(f"/api/meetings/{m['id']}/invitations",
                                json={"role": "delegate", "name": "Rita"}))
    api._ok(api.http.delete(f"/api/meetings/{m['id']}/invitations/{inv['id']}"))
    page = await launch(locale="fr-FR")
    for link, french in ((closed_link, "Cette réunion est close."),
                         (inv["join_url"], "Cette invitation a été révoquée.")):
        await page.goto("about:blank")  # a join link differs from the last only in its hash
        await page.goto(link)
        await page.wait_for_selector("#bad:not([hidden])", timeout=15000)
        text = await page.inner_text("#bad")
        assert "Impossible de rejoindre" in text and french in text, text


async def test_cough_key_on_a_russian_or_arabic_keyboard(server, api, launch, tones):
    """The cough key is the key where C is: on a Russian layout it types "с", on an Arabic one
    "ؤ"; the console in that language must still cough with it."""
    api.organizer("keys@example.org")
    m = api.meeting(languages=["en", "ru"], booths=[{"language": "ru", "understands": ["en"]}])
    interp = await join(await launch(tones(520), locale="ru-RU"),
                        api.invite(m["id"], "interpreter", "Ирина", booth="ru"))
    await interp.page.click("#onair")

    async def on_air() -> bool:
        return await interp.page.get_attribute("#onair", "aria-pressed") == "true"
    await until(on_air, "the interpreter on air")
    for key in ("с", "ؤ"):  # Cyrillic es, Arabic waw with hamza: both on the C key
        await interp.page.evaluate(
            "k => window.dispatchEvent(new KeyboardEvent('keydown', {key: k, code: 'KeyC'}))", key)

        async def coughing() -> bool:
            s = await interp.state()
            return s["booths"]["ru"]["cough"] and s["mic_enabled"] is False
        await until(coughing, f"the {key!r} key to cough")
        await interp.page.evaluate(
            "k => window.dispatchEvent(new KeyboardEvent('keyup', {key: k, code: 'KeyC'}))", key)

        async def back_on() -> bool:
            s = await interp.state()
            return not s["booths"]["ru"]["cough"] and s["mic_enabled"] is True
        await until(back_on, "back on air once the key is released")
    await assert_no_refusals(interp)
