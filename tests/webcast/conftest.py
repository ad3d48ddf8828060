"""The webcast's page tests drive Debian's chromium as tests/browser does: its fixture, and a
phone-sized page that fails the test on a page error or a Content-Security-Policy refusal."""

from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.browser.conftest import (
    CHROMIUM,
    chromium_args,
    chromium_path,  # noqa: F401 (re-exported as a fixture)
)


@pytest.fixture
async def page(chromium_path: str) -> AsyncIterator[Any]:  # noqa: F811
    from playwright.async_api import async_playwright

    errors: list[str] = []
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=chromium_args(None))
        # a phone's viewport: the page is meant for phones too
        context = await browser.new_context(viewport={"width": 390, "height": 844})
        p = await context.new_page()
        p.on("pageerror", lambda e: errors.append(str(e)))
        p.on("console", lambda m: "Content Security Policy" in m.text and errors.append(m.text))
        yield p
        await browser.close()
    assert not errors, errors
