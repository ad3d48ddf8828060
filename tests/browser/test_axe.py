"""axe-core on every page of web/, in a live meeting where the page needs one, at desktop and
phone widths: no serious or critical violation, and every page has its one h1 (issue 12).

axe-core is the pinned npm package's file, vendored under tests/browser/vendor (README there);
it is put into the page by the test (the pages users load never carry it).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest

from .conftest import Api, join, join_all, until
from .pagewalk import walk_organizer_pages
from .test_pages import DESKTOP, PHONE

pytestmark = pytest.mark.browser

AXE = Path(__file__).with_name("vendor") / "axe-core" / "axe.min.js"
FAIL_ON = {"serious", "critical"}
# what the pages are held to: WCAG 2.1 A and AA, and axe's best practices
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]
RUN = """async (tags) => {
  const r = await window.axe.run(document, { runOnly: { type: "tag", values: tags },
    resultTypes: ["violations"] });
  // axe keeps this one among its experimental rules: an accessible name that does not contain
  // the visible text (speech users say what they see)
  const named = await window.axe.run(document, { runOnly: { type: "rule",
    values: ["label-content-name-mismatch"] }, resultTypes: ["violations"] });
  const seen = new Set(r.violations.map((v) => v.id));
  const all = [...r.violations, ...named.violations.filter((v) => !seen.has(v.id))];
  return all.map((v) => ({ id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 4).map((n) => n.target.join(" ") + " :: "
      + (n.failureSummary || "").replace(/\\s+/g, " ").slice(0, 160)) }));
}"""


async def audit(page: Any, name: str) -> list[str]:
    """axe's serious and critical violations on this page (and a missing h1), at both widths."""
    found: list[str] = []
    if not await page.evaluate("() => !!window.axe"):
        await page.evaluate(AXE.read_text(encoding="utf-8") + "\n;0")
    for (w, h), tag in ((DESKTOP, "desktop"), (PHONE, "phone")):
        await page.set_viewport_size({"width": w, "height": h})
        await page.wait_for_timeout(200)  # a re-layout at the new width
        for v in await page.evaluate(RUN, TAGS):
            if v["impact"] in FAIL_ON or v["id"] == "page-has-heading-one":
                found.append(f"{name} ({tag}): {v['id']} [{v['impact']}] {v['help']}: "
                             + json.dumps(v["nodes"], ensure_ascii=False))
    await page.set_viewport_size({"width": DESKTOP[0], "height": DESKTOP[1]})
    return found


async def test_every_page_has_no_serious_accessibility_violation(server, api: Api, launch,
                                                                 silence):
    token = api.organizer()
    m = api.meeting(title="Council", registration_open=True, options={"webcast": "public"})
    mid = m["id"]
    links = {r: api.invite(mid, r, n, **f) for r, n, f in (
        ("chair", "Chidi Okafor", {}), ("delegate", "Ana Silva", {"delegation": "Brazil"}),
        ("interpreter", "Claire Martin", {"booth": "fr"}))}
    chair, delegate, interp = await join_all(
        launch, *((silence, links[r]) for r in ("chair", "delegate", "interpreter")))
    await delegate.page.click("#request-floor")
    await chair.page.wait_for_selector("[data-give]")
    await interp.page.click("#onair")
    await interp.page.wait_for_selector("#onair-light.on")
    await delegate.page.click('[data-channel="fr"]')

    problems: list[str] = []
    problems += await audit(delegate.page, "delegate")
    problems += await audit(chair.page, "chair")
    problems += await audit(interp.page, "console")
    room = await join(await launch(silence), api.invite(mid, "room", "Plenary hall"))
    problems += await audit(room.page, "room")

    page = await launch(silence)
    await page.goto(f"{server.base}/index.html")
    await page.wait_for_selector("#tab-signup")
    problems += await audit(page, "login")

    open_link = api.invite(mid, "observer", None, max_uses=None)
    await page.goto(open_link)
    await page.wait_for_selector("#join-form:not([hidden])")
    problems += await audit(page, "join (open link)")
    # a form field with the focus shows it plainly (the ring every focused control has)
    await page.focus("#join-name")
    ring = await page.evaluate("""() => { const s = getComputedStyle(document.activeElement);
        return { style: s.outlineStyle, width: parseFloat(s.outlineWidth) }; }""")
    assert ring["style"] != "none" and ring["width"] >= 2, ring
    await page.goto(api.invite(mid, "delegate", "Kenji Sato"))
    await page.wait_for_selector("#join-form:not([hidden])")
    problems += await audit(page, "join (named, microphone test)")

    await page.goto(f"{server.base}/register.html#m={mid}")
    await page.wait_for_selector("#reg-form:not([hidden])")
    problems += await audit(page, "register")

    await page.evaluate("t => sessionStorage.setItem('mirp.left', JSON.stringify(t))",
                        {"link": unquote(links["delegate"].split("#t=", 1)[1]),
                         "title": "Council"})
    await page.goto(f"{server.base}/left.html")
    await page.wait_for_selector("#rejoin")
    problems += await audit(page, "left")
    for role in ("delegate", "interpreter", "chair", "organizer", "room"):
        await page.goto("about:blank")
        await page.goto(f"{server.base}/help.html#{role}")
        await page.wait_for_selector("main h1")
        problems += await audit(page, f"help ({role})")
    await page.goto(f"{server.base}/webcast.html#m={mid}")
    await page.wait_for_selector("#wc-status:not(:has-text('Loading'))")
    problems += await audit(page, "webcast")

    problems += await walk_organizer_pages(page, server.base, mid, token, audit)

    # a closed meeting: the chair's and the delegate's last pages
    chair.page.on("dialog", lambda d: d.accept())
    await chair.page.click("#close-meeting")
    await until(lambda: delegate.page.is_visible("#ended"), "the delegate's page ended")
    problems += await audit(delegate.page, "delegate (meeting closed)")
    assert not problems, "accessibility violations:\n" + "\n".join(problems)
