"""Decisions made by REST reach the live sessions (issue 9, "enforcement"), against a real
`mirp serve` process: revoking an invitation, deleting or closing a meeting closes the sessions
concerned with their documented code, and what they send next is not acted on; a closed meeting
refuses old tokens; a removed participant does not come back through the link that made them;
a full meeting answers its own, retryable, close code.

Every wait polls with a deadline (the server is shared with other work on a loaded machine); the
REST answer itself comes after the room acted, so the deadlines are generous, never measured."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import websockets

from tests.integration.conftest import WsClient
from tests.support.factory import standard_meeting_body
from tests.support.server import Server, serving
from tests.support.wait import until

CLOSE_WITHIN = 10.0  # a deadline for polling, not a measurement


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with serving(tmp_path_factory.mktemp("mirp-enforcement")) as srv:
        yield srv


_organizers = 0


@dataclass
class Organizer:
    """One organizer's REST client and one meeting of theirs."""

    http: httpx.AsyncClient
    meeting_id: str = ""
    sockets: list[WsClient] = field(default_factory=list)

    async def ok(self, method: str, path: str, **kw: Any) -> Any:
        r = await self.http.request(method, path, **kw)
        assert r.status_code < 400, f"{method} {path} -> {r.status_code} {r.text}"
        return r.json() if r.content else None

    async def meeting(self, status: str = "open", **options: Any) -> str:
        body = standard_meeting_body(status=status)
        body["options"] = {**body["options"], **options}
        self.meeting_id = (await self.ok("POST", "/api/meetings", json=body))["id"]
        return self.meeting_id

    async def invite(self, role: str = "delegate", **fields: Any) -> dict[str, Any]:
        fields.setdefault("max_uses", 1)
        return dict(await self.ok("POST", f"/api/meetings/{self.meeting_id}/invitations",
                                  json={"role": role, **fields}))

    async def join(self, link: str, **fields: Any) -> httpx.Response:
        return await self.http.post("/api/join", json={"token": link, **fields})

    async def person(self, role: str = "delegate", name: str = "Dana") -> tuple[str, str]:
        """(participant token, invitation id) of one more named participant."""
        inv = await self.invite(role, name=name)
        joined = await self.join(inv["token"])
        assert joined.status_code == 200, joined.text
        return joined.json()["participant_token"], inv["id"]

    async def connect(self, server: Server, token: str, name: str) -> WsClient:
        ws = await WsClient.open(server.ws, name)
        self.sockets.append(ws)
        welcome = await ws.hello(token)
        assert welcome.get("type") == "welcome", f"{name}: {welcome}"
        return ws

    async def refused(self, server: Server, token: str, name: str) -> tuple[int | None, str]:
        """A hello that must not get a welcome: its close code and the error it got."""
        ws = await WsClient.open(server.ws, name)
        self.sockets.append(ws)
        reply = await ws.hello(token)
        assert "closed" in reply, f"{name} was let in: {reply}"
        errors = ws.events("error")
        return reply["closed"][0], errors[-1]["code"] if errors else ""


@pytest.fixture
async def org(server: Server) -> AsyncIterator[Organizer]:
    global _organizers
    _organizers += 1
    async with httpx.AsyncClient(base_url=server.base, timeout=30) as http:
        r = await http.post("/api/auth/signup", json={
            "email": f"enforcer{_organizers}@example.org", "name": "Olga Organizer",
            "password": "correct horse battery"})
        assert r.status_code == 201, r.text
        http.headers["Authorization"] = f"Bearer {r.json()['token']}"
        o = Organizer(http)
        try:
            yield o
        finally:
            for ws in o.sockets:
                await ws.close()


async def closed_with(ws: WsClient) -> tuple[int | None, str]:
    return await ws.wait_closed(within=CLOSE_WITHIN)


async def not_acked(ws: WsClient) -> None:
    """The session's next command is not acted on: it cannot be sent (the server closed the
    socket), or if it still goes out, no ack comes back before the close."""
    try:
        reply = await ws.request("floor_request", kind="speak", within=CLOSE_WITHIN)
    except websockets.ConnectionClosed:
        return
    assert reply.get("type") != "ack", f"{ws.name}: a floor_request was acked: {reply}"


# ------------------------------------------------------------------------------------ revoke

async def test_revoking_an_invitation_closes_its_live_sessions(server: Server,
                                                               org: Organizer) -> None:
    await org.meeting()
    chair_token, _ = await org.person("chair", "Chloé")
    d1_token, d1_invitation = await org.person("delegate", "Dana")
    d2_token, _ = await org.person("delegate", "Dmitri")
    chair = await org.connect(server, chair_token, "chair")
    d1 = await org.connect(server, d1_token, "d1")
    d2 = await org.connect(server, d2_token, "d2")
    assert (await d1.request("floor_request", kind="speak"))["type"] == "ack"

    await org.ok("DELETE", f"/api/meetings/{org.meeting_id}/invitations/{d1_invitation}")

    code, _ = await closed_with(d1)
    assert code == 4403, d1.closed
    fatal = d1.events("error")[-1]
    assert fatal["code"] == "forbidden" and fatal["details"]["reason"] == "revoked", fatal
    await not_acked(d1)
    # the others are untouched and see d1 leave (and their request leave the speakers list)
    await until(lambda: any(m["participant_id"] == d1.welcome["participant_id"]  # type: ignore[index]
                            for m in chair.events("participant_left")), "chair sees d1 leave")
    assert (await d2.request("floor_request", kind="speak"))["type"] == "ack"
    assert chair.closed is None and d2.closed is None
    # and the token no longer opens a session
    code, error = await org.refused(server, d1_token, "d1-again")
    assert (code, error) == (4403, "forbidden")


# ------------------------------------------------------------------------------------ delete

async def test_deleting_a_meeting_closes_every_session(server: Server, org: Organizer) -> None:
    await org.meeting()
    chair = await org.connect(server, (await org.person("chair", "Chloé"))[0], "chair")
    d1 = await org.connect(server, (await org.person("delegate", "Dana"))[0], "d1")

    await org.ok("DELETE", f"/api/meetings/{org.meeting_id}")

    for ws in (chair, d1):
        code, _ = await closed_with(ws)
        assert code == 4404, (ws.name, ws.closed)
        assert ws.events("error")[-1]["code"] == "not_found", ws.events("error")
    await not_acked(d1)


# ------------------------------------------------------------------------------------ status

async def test_closing_by_rest_is_the_chairs_close(server: Server, org: Organizer) -> None:
    await org.meeting()
    chair_token, _ = await org.person("chair", "Chloé")
    d1_token, _ = await org.person("delegate", "Dana")
    spare = await org.invite("delegate", name="Late Comer")
    chair = await org.connect(server, chair_token, "chair")
    d1 = await org.connect(server, d1_token, "d1")
    assert (await d1.request("floor_request", kind="speak"))["type"] == "ack"

    await org.ok("PATCH", f"/api/meetings/{org.meeting_id}", json={"status": "closed"})

    for ws in (chair, d1):
        code, _ = await closed_with(ws)
        assert code == 4410, (ws.name, ws.closed)
        assert ws.last("meeting") and ws.last("meeting")["meeting"] == {"status": "closed"}  # type: ignore[index]
    await not_acked(d1)
    # an old token no longer gets a welcome, and the join page says "closed"
    assert await org.refused(server, d1_token, "d1-again") == (4410, "meeting_closed")
    r = await org.join(spare["token"])
    assert r.status_code == 403 and r.json()["error"]["code"] == "meeting_closed", r.text
    # the same records as a chair's close: the lifecycle ends with "closed"
    report = f"/api/meetings/{org.meeting_id}/report"

    async def closed_recorded() -> list[str] | None:
        kinds = [c["kind"] for c in (await org.ok("GET", report))["lifecycle"]]
        return kinds if kinds[-1:] == ["closed"] else None

    await until(closed_recorded, "the lifecycle record of the close", CLOSE_WITHIN)


async def test_opening_by_rest_lets_the_room_follow(server: Server, org: Organizer) -> None:
    await org.meeting(status="scheduled")
    chair_token, _ = await org.person("chair", "Chloé")
    d1_token, _ = await org.person("delegate", "Dana")
    chair = await org.connect(server, chair_token, "chair")  # staff may enter before it opens
    assert (await org.refused(server, d1_token, "d1-early"))[0] == 4403

    await org.ok("PATCH", f"/api/meetings/{org.meeting_id}", json={"status": "open"})

    await until(lambda: (chair.last("meeting") or {}).get("meeting") == {"status": "open"},
                "the chair sees the meeting open")
    d1 = await org.connect(server, d1_token, "d1")
    assert (await d1.request("floor_request", kind="speak"))["type"] == "ack"


async def test_removing_a_booth_by_rest_closes_its_interpreters(server: Server,
                                                               org: Organizer) -> None:
    await org.meeting()
    inv = await org.invite("interpreter", name="Françoise", booth="fr")
    fr_token = (await org.join(inv["token"])).json()["participant_token"]
    zh_inv = await org.invite("interpreter", name="Zhang", booth="zh")
    zh_token = (await org.join(zh_inv["token"])).json()["participant_token"]
    fr = await org.connect(server, fr_token, "fr1")
    zh = await org.connect(server, zh_token, "zh1")
    meeting = await org.ok("GET", f"/api/meetings/{org.meeting_id}")
    booths = [b for b in meeting["booths"] if b["language"] != "fr"]
    # zh relayed from fr: it now takes the floor directly
    booths = [{**b, "understands": ["en"]} if b["language"] == "zh" else b for b in booths]

    await org.ok("PATCH", f"/api/meetings/{org.meeting_id}", json={"booths": booths})

    code, _ = await closed_with(fr)
    assert code == 4403, fr.closed
    assert fr.events("error")[-1]["details"]["reason"] == "booth_removed", fr.events("error")
    await not_acked(fr)
    assert zh.closed is None and (await zh.request("ping"))["type"] == "pong"


# ------------------------------------------------------------------------------------ removal

async def test_a_removed_participant_does_not_come_back_through_its_link(
        server: Server, org: Organizer) -> None:
    await org.meeting()
    chair = await org.connect(server, (await org.person("chair", "Chloé"))[0], "chair")
    link = (await org.invite("delegate", max_uses=None))["token"]  # an open, multi-use link
    first = (await org.join(link, name="Mallory")).json()
    # the same browser coming back through the link is the same participant, not a new one
    again = await org.join(link, name="Mallory", participant_token=first["participant_token"])
    assert again.status_code == 200, again.text
    assert again.json()["participant_id"] == first["participant_id"]
    m = await org.connect(server, again.json()["participant_token"], "mallory")

    await chair.ok("participant_remove", participant_id=first["participant_id"])
    assert (await closed_with(m))[0] == 4403

    # through the link again, presenting the token it got (as web/js/join.js does): refused
    async def refused() -> dict[str, Any] | None:
        r = await org.join(link, name="Mallory", participant_token=first["participant_token"])
        return r.json() if r.status_code == 403 else None

    refusal = await until(refused, "the removed participant refused at the link", CLOSE_WITHIN)
    assert refusal["error"]["details"]["reason"] == "removed", refusal

    # a named link is one person's: once they are removed it lets nobody in
    named = await org.invite("delegate", name="Nemo", max_uses=5)
    nemo = (await org.join(named["token"])).json()
    n = await org.connect(server, nemo["participant_token"], "nemo")
    await chair.ok("participant_remove", participant_id=nemo["participant_id"])
    assert (await closed_with(n))[0] == 4403

    async def named_refused() -> dict[str, Any] | None:
        r = await org.join(named["token"])
        return r.json() if r.status_code == 403 else None

    refusal = await until(named_refused, "the named link refused after the removal", CLOSE_WITHIN)
    assert refusal["error"]["details"]["reason"] == "removed", refusal


# ------------------------------------------------------------------------------------ capacity

async def test_a_full_meeting_has_its_own_retryable_code(server: Server, org: Organizer) -> None:
    await org.meeting(capacity=2)
    await org.connect(server, (await org.person("chair", "Chloé"))[0], "chair")
    await org.connect(server, (await org.person("delegate", "Dana"))[0], "d1")
    late = (await org.person("delegate", "Dmitri"))[0]
    # 4429 meeting_full, not 4409 (which means "replaced": the browser would stop for good)
    assert await org.refused(server, late, "d2") == (4429, "meeting_full")
