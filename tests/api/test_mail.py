"""Invitation e-mail against a real SMTP server (tests/support/smtp.py): the message that
arrives, its link joining, an outage of the mail server losing nothing, refusals, re-send,
and the registration page's promise following the settings."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio

from tests.api.conftest import BASE, Org, error
from tests.support.factory import organizer_token, running_app, standard_meeting_body
from tests.support.smtp import SmtpSink, html_of, text_of
from tests.support.wait import Seen, until

pytestmark = pytest.mark.asyncio(loop_scope="package")
LINK = re.compile(re.escape(BASE) + r"/join\.html#t=([A-Za-z0-9_.\-]+)")


@pytest_asyncio.fixture(scope="module", loop_scope="package")
async def sink() -> AsyncIterator[SmtpSink]:
    server = SmtpSink()
    await asyncio.to_thread(server.start)
    yield server
    await asyncio.to_thread(server.stop)


@pytest_asyncio.fixture(scope="module", loop_scope="package")
async def mail_client(sink: SmtpSink, tmp_path_factory: pytest.TempPathFactory
                      ) -> AsyncIterator[httpx.AsyncClient]:
    async with running_app(tmp_path_factory.mktemp("mail"), public_base_url=BASE,
                           smtp_host="127.0.0.1", smtp_port=sink.port, smtp_security="none",
                           smtp_from="MIRP <invitations@mirp.example>", smtp_retry_s=0.2,
                           smtp_attempts=50) as (_, client):
        yield client


@pytest_asyncio.fixture(loop_scope="package")
async def morg(mail_client: httpx.AsyncClient) -> Org:
    return Org(mail_client, await organizer_token(mail_client))


async def _meeting(org: Org, **fields: object) -> dict:  # type: ignore[type-arg]
    m = (await org.post("/api/meetings", standard_meeting_body(**fields))).json()
    return dict((await org.patch(f"/api/meetings/{m['id']}", {"status": "open"})).json())


async def _status(org: Org, meeting_id: str, inv_id: str) -> dict:  # type: ignore[type-arg]
    listed = (await org.get(f"/api/meetings/{meeting_id}/invitations")).json()
    return next(dict(i) for i in listed if i["id"] == inv_id)


async def _sent(org: Org, meeting_id: str, inv_id: str) -> object:
    inv = await _status(org, meeting_id, inv_id)
    return inv["mail_status"] == "sent" or Seen(inv)


async def test_invitation_mail_arrives_and_its_link_joins(
        morg: Org, sink: SmtpSink, mail_client: httpx.AsyncClient) -> None:
    m = await _meeting(morg)
    r = await morg.post(f"/api/meetings/{m['id']}/invitations", {
        "role": "delegate", "name": "Ana Diaz", "delegation": "Chile",
        "email": "ana@chile.example", "language": "en"})
    assert r.status_code == 201, r.text
    inv = r.json()
    assert inv["mail_status"] == "queued"
    await until(lambda: _sent(morg, m["id"], inv["id"]), "the invitation mail sent")
    [msg] = sink.to("ana@chile.example")
    assert msg["Subject"] == f"Your invitation: {m['title']}"
    assert msg["From"] == "MIRP <invitations@mirp.example>"
    text = text_of(msg)
    assert "Hello Ana Diaz," in text and "as a delegate" in text
    assert "2026-05-04 09:00 UTC" in text
    found = LINK.search(text)
    assert found is not None, text
    assert f'href="{inv["join_url"]}"' in html_of(msg)
    token = found.group(1)
    assert token == inv["token"]
    peek = (await mail_client.post("/api/join/peek", json={"token": token})).json()
    assert peek["name"] == "Ana Diaz" and peek["meeting"]["id"] == m["id"]
    joined = await mail_client.post("/api/join", json={"token": token})
    assert joined.status_code == 200, joined.text
    assert joined.json()["name"] == "Ana Diaz"


async def test_french_interpreter_template(morg: Org, sink: SmtpSink) -> None:
    m = await _meeting(morg, title="Session plénière")
    inv = (await morg.post(f"/api/meetings/{m['id']}/invitations", {
        "role": "interpreter", "booth": "fr", "name": "Jeanne", "email": "jeanne@booth.example",
        "language": "fr"})).json()
    await until(lambda: _sent(morg, m["id"], inv["id"]), "the interpreter's mail sent")
    [msg] = sink.to("jeanne@booth.example")
    assert msg["Subject"] == "Votre invitation : Session plénière"
    text = text_of(msg)
    assert "Bonjour Jeanne," in text and "dans la cabine fr" in text
    assert "Cabine: fr" in text and inv["join_url"] in text


async def test_mail_server_down_loses_nothing(morg: Org, sink: SmtpSink) -> None:
    m = await _meeting(morg)
    await asyncio.to_thread(sink.stop)
    try:
        inv = (await morg.post(f"/api/meetings/{m['id']}/invitations", {
            "role": "delegate", "name": "Bo", "email": "bo@outage.example"})).json()

        async def retrying() -> object:
            got = await _status(morg, m["id"], inv["id"])
            return (got["mail_status"] == "retrying" and got["mail_error"]) or Seen(got)
        await until(retrying, "the send failing while the mail server is down")
        assert sink.to("bo@outage.example") == []
    finally:
        await asyncio.to_thread(sink.start)
    await until(lambda: _sent(morg, m["id"], inv["id"]), "the mail sent once the server is back")
    assert len(sink.to("bo@outage.example")) == 1
    assert (await _status(morg, m["id"], inv["id"]))["mail_error"] is None


async def test_refused_address_fails_with_the_reason(morg: Org, sink: SmtpSink) -> None:
    m = await _meeting(morg)
    inv = (await morg.post(f"/api/meetings/{m['id']}/invitations", {
        "role": "observer", "email": "nobody@refused.invalid"})).json()

    async def failed() -> object:
        got = await _status(morg, m["id"], inv["id"])
        return got["mail_status"] == "failed" or Seen(got)
    await until(failed, "a 550 recorded as failed")
    got = await _status(morg, m["id"], inv["id"])
    assert "550" in got["mail_error"] or "no such mailbox" in got["mail_error"]


async def test_bad_address_refused_with_422(morg: Org) -> None:
    m = await _meeting(morg)
    for bad in ("not-an-address", "a@b", "two@@x.example"):
        r = await morg.post(f"/api/meetings/{m['id']}/invitations",
                            {"role": "delegate", "name": "X", "email": bad})
        error(r, 422, "invalid_input")


async def test_resend(morg: Org, sink: SmtpSink) -> None:
    m = await _meeting(morg)
    inv = (await morg.post(f"/api/meetings/{m['id']}/invitations", {
        "role": "chair", "name": "Chair", "email": "chair@resend.example"})).json()
    await until(lambda: _sent(morg, m["id"], inv["id"]), "the first mail")
    r = await morg.post(f"/api/meetings/{m['id']}/invitations/{inv['id']}/send")
    assert r.status_code == 202, r.text
    assert r.json()["mail_status"] == "queued"
    await until(lambda: len(sink.to("chair@resend.example")) == 2
                or Seen(len(sink.to("chair@resend.example"))), "the second mail")
    assert "You are invited to chair" in text_of(sink.to("chair@resend.example")[1])
    no_mail = (await morg.post(f"/api/meetings/{m['id']}/invitations",
                               {"role": "delegate", "max_uses": None})).json()
    assert no_mail["mail_status"] is None
    error(await morg.post(f"/api/meetings/{m['id']}/invitations/{no_mail['id']}/send"),
          422, "invalid_input")
    error(await morg.post(f"/api/meetings/{m['id']}/invitations/i_nope/send"), 404, "not_found")


async def test_approved_registration_is_mailed(morg: Org, sink: SmtpSink,
                                               mail_client: httpx.AsyncClient) -> None:
    m = await _meeting(morg, registration_open=True)
    info = (await mail_client.get(f"/api/meetings/{m['id']}/registration")).json()
    assert info["mail"] is True
    reg = (await mail_client.post(f"/api/meetings/{m['id']}/registrations", json={
        "name": "Reg Istrant", "email": "reg@self.example"})).json()
    r = await morg.post(f"/api/meetings/{m['id']}/registrations/{reg['id']}/approve")
    assert r.status_code == 200, r.text
    await until(lambda: len(sink.to("reg@self.example")) == 1 or Seen(sink.messages[-1:]),
                "the approved registration's link mailed")
    assert r.json()["invitation"]["join_url"] in text_of(sink.to("reg@self.example")[0])


async def test_without_mail_nothing_is_promised(org: Org, client: httpx.AsyncClient) -> None:
    m = await _meeting(org, registration_open=True)
    info = (await client.get(f"/api/meetings/{m['id']}/registration")).json()
    assert info["mail"] is False
    inv = (await org.post(f"/api/meetings/{m['id']}/invitations", {
        "role": "delegate", "name": "N", "email": "n@nomail.example"})).json()
    assert inv["mail_status"] is None
    error(await org.post(f"/api/meetings/{m['id']}/invitations/{inv['id']}/send"),
          409, "conflict")


async def test_bulk_upload_mails_each_address(morg: Org, sink: SmtpSink) -> None:
    m = await _meeting(morg)
    r = await morg.post(f"/api/meetings/{m['id']}/invitations/bulk", {
        "role": "delegate",
        "csv": "Una One, Peru, una@bulk.example\nDuo Two, Fiji, duo@bulk.example\n"})
    assert r.status_code == 201, r.text
    assert [i["mail_status"] for i in r.json()["created"]] == ["queued", "queued"]
    await until(lambda: (len(sink.to("una@bulk.example")) == 1
                         and len(sink.to("duo@bulk.example")) == 1)
                or Seen([m["To"] for m in sink.messages[-3:]]), "both bulk invitations mailed")
    assert "Hello Duo Two," in text_of(sink.to("duo@bulk.example")[0])


async def test_queued_mail_survives_a_restart(tmp_path_factory: pytest.TempPathFactory,
                                              sink: SmtpSink) -> None:
    """A server stopped while its mail server is down: the next start sends what was asked."""
    data = tmp_path_factory.mktemp("mail-restart")
    common = {"public_base_url": BASE, "smtp_host": "127.0.0.1", "smtp_security": "none",
              "smtp_retry_s": 0.2}
    down = SmtpSink()  # a port nothing listens on
    async with running_app(data, smtp_port=down.port, **common) as (_, client):
        org = Org(client, await organizer_token(client))
        m = await _meeting(org)
        inv = (await org.post(f"/api/meetings/{m['id']}/invitations", {
            "role": "delegate", "name": "Rae", "email": "rae@restart.example"})).json()

        async def retrying() -> object:
            got = await _status(org, m["id"], inv["id"])
            return got["mail_status"] == "retrying" or Seen(got)
        await until(retrying, "the first send failing")
        token = org.token
    async with running_app(data, smtp_port=sink.port, **common) as (_, client):
        org = Org(client, token)
        await until(lambda: _sent(org, m["id"], inv["id"]), "the mail sent after the restart")
    assert inv["join_url"] in text_of(sink.to("rae@restart.example")[0])
