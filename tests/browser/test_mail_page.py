"""The meeting page's invitation e-mail: the last status beside each invitation with an
address, and Send / Re-send, against a real `mirp serve` and a real SMTP server (aiosmtpd);
the registration page promises the e-mail because this server sends it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest

from tests.browser.conftest import Api, until
from tests.support.server import Server, serving
from tests.support.smtp import SmtpSink, text_of
from tests.support.wait import Seen

pytestmark = pytest.mark.browser
Launch = Callable[..., Awaitable[Any]]


@pytest.fixture(scope="module")
def sink() -> Iterator[SmtpSink]:
    s = SmtpSink()
    s.start()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, sink: SmtpSink) -> Iterator[Server]:
    with serving(tmp_path_factory.mktemp("mirp-mail"), MIRP_SMTP_HOST="127.0.0.1",
                 MIRP_SMTP_PORT=str(sink.port), MIRP_SMTP_SECURITY="none",
                 MIRP_SMTP_RETRY_S="0.2") as srv:
        yield srv


async def test_meeting_page_shows_mail_status_and_resends(server: Server, api: Api,
                                                          launch: Launch,
                                                          sink: SmtpSink) -> None:
    token = api.organizer()
    m = api.meeting(title="Council", registration_open=True)
    link = api.invite(m["id"], "delegate", "Mona Mailed", email="mona@page.example")

    async def arrived() -> bool:
        return len(sink.to("mona@page.example")) == 1
    await until(arrived, "the invitation e-mailed on creation")
    assert link in text_of(sink.to("mona@page.example")[0])

    page = await launch()
    await page.goto(f"{server.base}/left.html")
    await page.evaluate("t => localStorage.setItem('mirp.organizer', JSON.stringify({token: t}))",
                        token)
    row = "#inv-list tr:has-text('Mona Mailed')"

    async def shows(status: str) -> object:
        await page.goto("about:blank")  # a new load: the list as the server has it now
        await page.goto(f"{server.base}/meeting.html#id={m['id']}&tab=invitations")
        await page.wait_for_selector(row, timeout=5000)
        return (await page.locator(f"{row} [data-mail-status={status}]").count() == 1
                or Seen(await page.inner_text(row)))
    await until(lambda: shows("sent"), "the row showing 'Mailed'")
    assert await page.text_content(f"{row} [data-mail-status=sent]") == "Mailed"
    await page.click(f"{row} button:has-text('Re-send')")

    async def again() -> bool:
        return len(sink.to("mona@page.example")) == 2
    await until(again, "the re-sent e-mail")
    await until(lambda: shows("sent"), "the row showing 'Mailed' after the re-send")

    await page.goto(f"{server.base}/register.html#m={m['id']}")
    await page.wait_for_selector("#reg-form:not([hidden])")
    assert "sent here" in await page.inner_text("#r-email-hint")
