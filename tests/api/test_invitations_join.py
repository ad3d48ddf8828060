"""Invitations (single, bulk CSV, revoke), joining (peek, join, uses), and bad tokens."""

import time
from datetime import UTC, datetime
from urllib.parse import unquote

import httpx
import pytest

from mirp import tokens
from mirp.rooms.model import RemovalRecord
from tests.api.conftest import BASE, Org, error
from tests.support.factory import SECRET, standard_meeting_body

pytestmark = pytest.mark.asyncio(loop_scope="package")


async def _meeting(org: Org, **fields: object) -> dict:  # type: ignore[type-arg]
    m = (await org.post("/api/meetings", standard_meeting_body(**fields))).json()
    return dict((await org.patch(f"/api/meetings/{m['id']}", {"status": "open"})).json())


async def test_named_invitation_and_join(org: Org, client: httpx.AsyncClient) -> None:
    m = await _meeting(org)
    r = await org.post(f"/api/meetings/{m['id']}/invitations", {
        "role": "interpreter", "booth": "zh", "name": "Wang Fang", "email": "wf@example.org",
        "max_uses": 2})
    assert r.status_code == 201, r.text
    inv = r.json()
    assert inv["named"] is True and inv["uses"] == 0 and inv["max_uses"] == 2
    assert inv["join_url"] == f"{BASE}/join.html#t={inv['token']}"
    token = unquote(inv["join_url"].split("#t=", 1)[1])
    peek = (await client.post("/api/join/peek", json={"token": token})).json()
    assert peek["role"] == "interpreter" and peek["booth"] == "zh" and peek["named"] is True
    assert peek["name"] == "Wang Fang" and peek["uses_left"] == 2
    assert peek["meeting"]["title"] == m["title"] and peek["meeting"]["status"] == "open"
    r = await client.post("/api/join", json={"token": token, "name": "Someone else"})
    assert r.status_code == 200, r.text
    joined = r.json()
    assert joined["name"] == "Wang Fang" and joined["role"] == "interpreter"
    assert joined["booth"] == "zh"
    assert set(joined["meeting"]) == {"id", "title", "starts_at", "ends_at", "languages",
                                      "booths", "under_levels_db", "status"}
    claims = tokens.verify_participant(SECRET, joined["participant_token"])
    assert claims.participant_id == joined["participant_id"] and claims.booth == "zh"
    assert claims.meeting_id == m["id"]
    # a named invitation is one person: the link brings them back from any browser (no
    # participant token), as the same participant, spending no use
    again = await client.post("/api/join/peek", json={"token": token})
    assert again.json()["rejoin"] is True and again.json()["uses_left"] == 1
    for _ in range(3):
        second = (await client.post("/api/join", json={"token": token})).json()
        assert second["participant_id"] == joined["participant_id"]
        assert (second["role"], second["booth"], second["name"]) == ("interpreter", "zh",
                                                                    "Wang Fang")
    listed = (await org.get(f"/api/meetings/{m['id']}/invitations")).json()
    assert [(i["id"], i["uses"], i["join_url"]) for i in listed] == [
        (inv["id"], 1, inv["join_url"])]


async def test_named_single_use_link_rejoins_on_any_device(
        app, org: Org, client: httpx.AsyncClient) -> None:  # type: ignore[no-untyped-def]
    m = await _meeting(org)
    inv = (await org.post(f"/api/meetings/{m['id']}/invitations", {
        "role": "delegate", "name": "Dev Delegate"})).json()
    token = unquote(inv["join_url"].split("#t=", 1)[1])
    assert (await client.post("/api/join/peek", json={"token": token})).json()["rejoin"] is False
    laptop = (await client.post("/api/join", json={"token": token})).json()
    # the phone has no participant token of this link: the same person all the same
    phone = (await client.post("/api/join", json={"token": token})).json()
    assert phone["participant_id"] == laptop["participant_id"]
    peek = (await client.post("/api/join/peek", json={"token": token})).json()
    assert peek["uses_left"] == 0 and peek["rejoin"] is True
    # removed by the chair: the link lets nobody in, and peek says so at once
    await app.state.admission.record([RemovalRecord(
        m["id"], laptop["participant_id"], by="chair", at=datetime.now(UTC))])
    for path in ("/api/join/peek", "/api/join"):
        err = error(await client.post(path, json={"token": token}), 403, "forbidden")
        assert err["details"]["reason"] == "removed", path


async def test_open_invitation_asks_for_a_name(org: Org, client: httpx.AsyncClient) -> None:
    m = await _meeting(org)
    inv = (await org.post(f"/api/meetings/{m['id']}/invitations", {
        "role": "observer", "max_uses": None})).json()
    assert inv["named"] is False and inv["max_uses"] is None
    peek = (await client.post("/api/join/peek", json={"token": inv["token"]})).json()
    assert peek["named"] is False and peek["uses_left"] is None
    err = error(await client.post("/api/join", json={"token": inv["token"]}), 422,
                "invalid_input")
    assert err["details"]["field"] == "name"
    for name in ("Ann", "Ben", "Cy"):
        r = await client.post("/api/join", json={"token": inv["token"], "name": name,
                                                 "delegation": "Press"})
        assert r.status_code == 200 and r.json()["name"] == name
        assert r.json()["delegation"] == "Press" and r.json()["role"] == "observer"


async def test_invitation_validation(org: Org) -> None:
    m = await _meeting(org)
    path = f"/api/meetings/{m['id']}/invitations"
    err = error(await org.post(path, {"role": "interpreter"}), 422, "invalid_input")
    assert err["details"]["field"] == "booth"
    err = error(await org.post(path, {"role": "interpreter", "booth": "en"}), 422,
                "invalid_input")
    assert err["details"]["field"] == "booth" and err["details"]["booths"] == ["fr", "zh", "ar"]
    err = error(await org.post(path, {"role": "delegate", "booth": "fr"}), 422, "invalid_input")
    assert err["details"]["field"] == "booth"
    err = error(await org.post(path, {"role": "speaker"}), 422, "invalid_input")
    assert err["details"]["fields"][0]["field"] == "role"
    err = error(await org.post(path, {"role": "chair", "email": "not an address"}), 422,
                "invalid_input")
    assert err["details"]["fields"][0]["field"] == "email"
    err = error(await org.post(path, {"role": "chair", "expires_at": "2030-01-01T00:00:00"}),
                422, "invalid_input")  # a naive time: whose midnight?
    assert err["details"]["fields"][0]["field"] == "expires_at" and "UTC" in err["message"]
    err = error(await org.post(path, {"role": "chair", "expires_at": "2020-01-01T00:00:00Z"}),
                422, "invalid_input")
    assert err["details"]["field"] == "expires_at"
    assert (await org.get(path)).json() == []


async def test_expired_revoked_tampered_tokens(org: Org, client: httpx.AsyncClient) -> None:
    m = await _meeting(org)
    inv = (await org.post(f"/api/meetings/{m['id']}/invitations", {"role": "delegate",
                                                                   "name": "D"})).json()
    # expired: the same invitation, signed with an expiry in the past
    expired = tokens.issue_invitation(SECRET, meeting_id=m["id"], invitation_id=inv["id"],
                                      role="delegate", booth=None, expires_at=time.time() - 5)
    err = error(await client.post("/api/join/peek", json={"token": expired}), 401, "unauthorized")
    assert err["details"]["reason"] == "expired"
    error(await client.post("/api/join", json={"token": expired}), 401, "unauthorized")
    # tampered: the role changed in the payload, signature kept
    head, _body, sig = inv["token"].split(".")
    forged = tokens.issue_invitation("x" * 40, meeting_id=m["id"], invitation_id=inv["id"],
                                     role="chair", booth=None, expires_at=time.time() + 60)
    tampered = f"{head}.{forged.split('.')[1]}.{sig}"
    err = error(await client.post("/api/join", json={"token": tampered}), 401, "unauthorized")
    assert err["details"]["reason"] == "signature"
    error(await client.post("/api/join/peek", json={"token": "garbage"}), 401, "unauthorized")
    # revoked
    r = await org.delete(f"/api/meetings/{m['id']}/invitations/{inv['id']}")
    assert r.status_code == 200 and r.json()["revoked"] is True
    err = error(await client.post("/api/join", json={"token": inv["token"]}), 403, "forbidden")
    assert err["details"]["reason"] == "revoked"
    error(await org.delete(f"/api/meetings/{m['id']}/invitations/i_nope"), 404, "not_found")


async def test_revoking_stops_participant_tokens(app, org: Org, client: httpx.AsyncClient) -> None:  # type: ignore[no-untyped-def]
    m = await _meeting(org)
    inv = (await org.post(f"/api/meetings/{m['id']}/invitations", {"role": "delegate",
                                                                   "name": "D"})).json()
    joined = (await client.post("/api/join", json={"token": inv["token"]})).json()
    grant = await app.state.admission.authorize(joined["participant_token"], m["id"])
    assert grant.participant_id == joined["participant_id"]
    await org.delete(f"/api/meetings/{m['id']}/invitations/{inv['id']}")
    try:
        await app.state.admission.authorize(joined["participant_token"], m["id"])
    except Exception as exc:
        assert type(exc).__name__ == "Forbidden"
    else:
        raise AssertionError("a revoked invitation's participant still got in")


async def test_closed_meeting_cannot_be_joined(org: Org, client: httpx.AsyncClient) -> None:
    m = await _meeting(org)
    inv = (await org.post(f"/api/meetings/{m['id']}/invitations", {"role": "chair",
                                                                   "name": "C"})).json()
    await org.patch(f"/api/meetings/{m['id']}", {"status": "closed"})
    # its own code, so the join page says "closed", not "revoked or used up"
    err = error(await client.post("/api/join", json={"token": inv["token"]}), 403,
                "meeting_closed")
    assert err["details"]["reason"] == "closed"
    err = error(await client.post("/api/join/peek", json={"token": inv["token"]}), 403,
                "meeting_closed")


async def test_bulk_csv(org: Org, client: httpx.AsyncClient) -> None:
    m = await _meeting(org)
    path = f"/api/meetings/{m['id']}/invitations"
    csv = ("name,delegation,email\n"
           "Amina Diallo,Senegal,amina@example.org\n"
           "\n"
           '"Smith, John",United Kingdom,\n'
           "Li Wei,China,li.wei@example.org\n")
    r = await org.post(f"{path}/bulk", {"csv": csv, "role": "delegate"})
    assert r.status_code == 201, r.text
    out = r.json()
    assert out["count"] == 3
    assert [(i["name"], i["delegation"], i["email"]) for i in out["created"]] == [
        ("Amina Diallo", "Senegal", "amina@example.org"),
        ("Smith, John", "United Kingdom", None),
        ("Li Wei", "China", "li.wei@example.org")]
    assert all(i["named"] and i["max_uses"] == 1 and i["role"] == "delegate"
               for i in out["created"])
    joined = (await client.post("/api/join", json={"token": out["created"][1]["token"]})).json()
    assert joined["name"] == "Smith, John" and joined["delegation"] == "United Kingdom"
    # no header line
    r = await org.post(f"{path}/bulk", {"csv": "Ana,Chile,ana@example.org", "role": "observer"})
    assert r.json()["count"] == 1 and r.json()["created"][0]["role"] == "observer"
    before = len((await org.get(path)).json())
    for bad, line, words in [
        ("name,delegation,email\nOk,One,ok@example.org\nBad,Two,not-an-email\n", 3, "e-mail"),
        ("Ok,One,ok@example.org\n,NoName,x@example.org\n", 2, "name is missing"),
        ("Ok,One,ok@example.org,extra,columns\n", 1, "columns"),
    ]:
        err = error(await org.post(f"{path}/bulk", {"csv": bad}), 422, "invalid_input")
        assert err["details"]["line"] == line and f"line {line}" in err["message"], err
        assert words in err["message"], err
    err = error(await org.post(f"{path}/bulk", {"csv": "A,B,a@example.org",
                                                "role": "interpreter"}), 422, "invalid_input")
    assert "booth" in err["message"]
    r = await org.post(f"{path}/bulk", {"csv": "name,booth\nXu,zh\n", "role": "interpreter"})
    assert r.status_code == 201 and r.json()["created"][0]["booth"] == "zh"
    assert len((await org.get(path)).json()) == before + 1  # failed uploads wrote nothing


async def test_many_people_join_at_once(org: Org, client: httpx.AsyncClient) -> None:
    """Concurrent joins on the SQLite default all succeed (they wait for the write lock) and
    the use counter is exact."""
    import asyncio

    m = await _meeting(org)
    inv = (await org.post(f"/api/meetings/{m['id']}/invitations", {
        "role": "delegate", "max_uses": 25})).json()
    results = await asyncio.gather(*(
        client.post("/api/join", json={"token": inv["token"], "name": f"P{i}"})
        for i in range(30)))
    codes = sorted(r.status_code for r in results)
    assert codes == [200] * 25 + [403] * 5, codes
    assert len({r.json()["participant_id"] for r in results if r.status_code == 200}) == 25
    listed = (await org.get(f"/api/meetings/{m['id']}/invitations")).json()
    assert listed[0]["uses"] == 25


async def test_default_expiry_covers_a_meeting_months_ahead(org: Org) -> None:
    m = await _meeting(org, starts_at="2030-03-01T09:00:00Z", ends_at="2030-03-01T17:00:00Z")
    inv = (await org.post(f"/api/meetings/{m['id']}/invitations", {"role": "chair"})).json()
    assert inv["expires_at"] == "2030-03-02T17:00:00Z"
    claims = tokens.verify_invitation(SECRET, inv["token"])
    assert claims.expires_at == 1898701200  # 2030-03-02T17:00:00Z


async def test_removing_a_booth_stops_its_interpreters(app, org: Org,  # type: ignore[no-untyped-def]
                                                       client: httpx.AsyncClient) -> None:
    m = await _meeting(org)
    path = f"/api/meetings/{m['id']}/invitations"
    first = (await org.post(path, {"role": "interpreter", "booth": "zh", "name": "A"})).json()
    second = (await org.post(path, {"role": "interpreter", "booth": "zh", "name": "B"})).json()
    joined = (await client.post("/api/join", json={"token": first["token"]})).json()
    await app.state.admission.authorize(joined["participant_token"], m["id"])
    r = await org.patch(f"/api/meetings/{m['id']}", {"booths": [
        {"language": "fr", "understands": ["en"]}]})
    assert [b["language"] for b in r.json()["booths"]] == ["fr"]
    err = error(await client.post("/api/join", json={"token": second["token"]}), 403,
                "forbidden")
    assert err["details"]["reason"] == "booth_removed"
    try:
        await app.state.admission.authorize(joined["participant_token"], m["id"])
    except Exception as exc:
        assert type(exc).__name__ == "Forbidden" and "booth" in str(exc)
    else:
        raise AssertionError("an interpreter of a removed booth got in")


async def test_a_returning_browser_is_the_same_participant(org: Org,
                                                           client: httpx.AsyncClient) -> None:
    """The participant token a link gave, presented again through the same link, returns that
    participant (no use spent); a bad token or one from another link is a first join."""
    m = await _meeting(org)
    path = f"/api/meetings/{m['id']}/invitations"
    link = (await org.post(path, {"role": "delegate", "max_uses": 2})).json()["token"]
    other = (await org.post(path, {"role": "delegate", "max_uses": None})).json()["token"]
    first = (await client.post("/api/join", json={"token": link, "name": "Ann"})).json()
    again = (await client.post("/api/join", json={
        "token": link, "name": "Someone", "participant_token": first["participant_token"]}))
    assert again.status_code == 200, again.text
    assert again.json()["participant_id"] == first["participant_id"]
    assert again.json()["name"] == "Ann"
    assert (await client.post("/api/join/peek", json={"token": link})).json()["uses_left"] == 1
    elsewhere = (await client.post("/api/join", json={
        "token": other, "name": "Ann", "participant_token": first["participant_token"]})).json()
    assert elsewhere["participant_id"] != first["participant_id"]
    forged = (await client.post("/api/join", json={
        "token": link, "name": "Bob", "participant_token": "not.a.token"})).json()
    assert forged["participant_id"] != first["participant_id"]
