"""docs/api.md and the server say the same: every route and method, every answer's fields (the
Shapes block against the OpenAPI schemas and the Room's live overview), and the behaviours a
client written from the docs alone relies on (peek uses nothing; the participant language)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.api.conftest import Org, error
from tests.support.factory import standard_meeting_body

pytestmark = pytest.mark.asyncio(loop_scope="package")

DOC = (Path(__file__).resolve().parents[2] / "docs" / "api.md").read_text()

# the names docs/api.md gives the answers -> the app's OpenAPI schema names
SCHEMAS = {
    "MeetingSummary": "MeetingSummary", "Meeting": "MeetingOut", "Invitation": "InvitationOut",
    "JoinPeek": "JoinPeekOut", "Join": "JoinOut", "Registration": "RegistrationOut",
    "Organizer": "OrganizerOut", "Auth": "AuthOut", "Booth": "BoothOut",
    "Options": "OptionsOut", "Bulk": "BulkOut",
    "RegistrationInfo": "RegistrationInfoOut", "Report": "MeetingReport",
    "ReportPresence": "Presence", "ReportSpeaking": "SpeakingTime", "ReportOnAir": "OnAirTime",
    "ReportListening": "ChannelUse", "ReportLifecycle": "LifecycleEntry",
    "Trends": "Trends", "TrendRow": "TrendRow", "ReportPoint": "TimelinePoint",
    "ReportFloorDelegation": "FloorByDelegation", "ReportFloorLanguage": "FloorByLanguage",
    "ReportBooth": "BoothUse", "ReportQuality": "QualityByRole",
    "ReportQualityBucket": "QualityBucket", "ReportFailedJoin": "FailedJoinCount",
    "ReportDelegation": "DelegationCountry",
}


def _shapes() -> dict[str, list[str]]:
    block = DOC.split("## Shapes", 1)[1].split("```text", 1)[1].split("```", 1)[0]
    shapes = {}
    for line in block.strip().splitlines():
        name, fields = re.fullmatch(r"(\w+)\s+\{(.*)\}", line.strip()).groups()  # type: ignore[union-attr]
        shapes[name] = [f.strip() for f in fields.split(",")]
    return shapes


def _documented_routes() -> set[tuple[str, str]]:
    """(METHOD, path) of every table row and `GET /path` mention; `{anything}` -> `{}`."""
    found = set()
    for method, path in re.findall(r"^\| (GET|POST|PATCH|PUT|DELETE) \| `([^`]+)`", DOC, re.M):
        found.add((method, path))
    for method, path in re.findall(r"`(GET|POST|PATCH|PUT|DELETE) (/[^`\s]*)`", DOC):
        found.add((method, path))
    return {(m, re.sub(r"\{[^}]*\}", "{}", p.split("?", 1)[0])) for m, p in found
            if p.startswith(("/api", "/healthz", "/readyz", "/whip", "/whep"))}


async def test_every_route_and_method_is_documented_and_exists(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    served = {(method.upper(), re.sub(r"\{[^}]*\}", "{}", path))
              for path, ops in spec["paths"].items() for method in ops
              if not path.startswith("/api/_test/")}  # routes other tests add to this app
    documented = _documented_routes()
    assert served - documented == set(), "served, not in docs/api.md"
    # the old `GET /api/join?token=` is documented as gone (404), not served
    assert documented - served == {("GET", "/api/join")}, "in docs/api.md, not served"
    assert (await client.get("/api/join", params={"token": "x"})).status_code in (404, 405)


async def test_answer_shapes_match_the_openapi_schemas(client: httpx.AsyncClient) -> None:
    schemas = (await client.get("/openapi.json")).json()["components"]["schemas"]
    shapes = _shapes()
    for doc_name, schema_name in SCHEMAS.items():
        assert set(shapes[doc_name]) == set(schemas[schema_name]["properties"]), doc_name
    # every schema an answer can contain is named in the Shapes block
    answers = {n for n in schemas if n.endswith("Out")} | {
        "MeetingSummary", "MeetingReport", "Presence", "SpeakingTime", "OnAirTime",
        "ChannelUse", "LifecycleEntry"}
    assert answers - set(SCHEMAS.values()) == set()


class _Outlet:
    """A Session as the Room sees it, keeping what it is sent."""

    id = "docs-check"

    def __init__(self) -> None:
        self.sent: list[Any] = []
        self.closed: tuple[int, str] | None = None

    def send_json(self, text: str) -> None:
        self.sent.append(text)

    def send(self, message: dict[str, Any]) -> None:
        self.sent.append(message)

    def welcome(self, participant_id: str, room: dict[str, Any], seq: int,
                resumed: bool) -> None:
        self.sent.append(("welcome", participant_id))

    def close(self, code: int, reason: str, error: Any = None, msg_id: Any = None) -> None:
        self.closed = (code, reason)


async def _open_meeting(org: Org) -> dict[str, Any]:
    m = (await org.post("/api/meetings", standard_meeting_body())).json()
    return dict((await org.patch(f"/api/meetings/{m['id']}", {"status": "open"})).json())


async def _join(org: Org, client: httpx.AsyncClient, mid: str, invitation: dict[str, Any],
                **join: Any) -> dict[str, Any]:
    inv = await org.post(f"/api/meetings/{mid}/invitations", invitation)
    assert inv.status_code == 201, inv.text
    r = await client.post("/api/join", json={"token": inv.json()["token"], **join})
    assert r.status_code == 200, r.text
    return dict(r.json())


async def test_live_overview_has_the_documented_keys_and_the_participant_language(
        app: FastAPI, org: Org, client: httpx.AsyncClient) -> None:
    m = await _open_meeting(org)
    joined = await _join(org, client, m["id"], {"role": "delegate", "name": "Amina",
                                                "language": "fr"})
    registry = app.state.rooms
    grant = await registry.authorize(joined["participant_token"])
    assert grant.language == "fr"
    session = _Outlet()
    runtime = await registry.join(grant, session)
    try:
        live = (await org.get(f"/api/meetings/{m['id']}/live")).json()
        shapes = _shapes()
        assert list(live) == shapes["Live"]
        (person,) = live["people"]
        assert set(person) == set(shapes["LivePerson"])
        assert person["language"] == "fr"  # the Room has the language the join gave
        assert {tuple(sorted(c)) for c in live["channels"].values()} == {
            tuple(sorted(shapes["LiveChannel"]))}
        assert live["booths"] and all(set(b) == set(shapes["LiveBooth"]) for b in live["booths"])
        assert set(live["floor"]) == set(shapes["LiveFloor"])
    finally:
        await runtime.leave_session(grant.participant_id, session)


async def test_peek_of_a_used_up_invitation_uses_nothing_and_the_browser_comes_back(
        org: Org, client: httpx.AsyncClient) -> None:
    """docs/api.md: peek "uses nothing" and a returning browser gets its participant back "with
    no use spent", so a single-use link (every bulk CSV invitation) must not lock its own
    delegate out once used."""
    m = await _open_meeting(org)
    inv = (await org.post(f"/api/meetings/{m['id']}/invitations",
                          {"role": "delegate", "name": "Li Wei"})).json()
    first = (await client.post("/api/join", json={"token": inv["token"]})).json()
    peek = await client.post("/api/join/peek", json={"token": inv["token"]})
    assert peek.status_code == 200, peek.text
    assert peek.json()["uses_left"] == 0 and peek.json()["rejoin"] is True
    back = await client.post("/api/join", json={
        "token": inv["token"], "participant_token": first["participant_token"]})
    assert back.status_code == 200, back.text
    assert back.json()["participant_id"] == first["participant_id"]
    # a named link is one person: from another device (no participant token) too
    other = (await client.post("/api/join", json={"token": inv["token"]})).json()
    assert other["participant_id"] == first["participant_id"]
    listed = (await org.get(f"/api/meetings/{m['id']}/invitations")).json()
    assert [i["uses"] for i in listed] == [1]
    # an open single-use link: used up for anyone but the browser that used it
    link = (await org.post(f"/api/meetings/{m['id']}/invitations",
                           {"role": "delegate"})).json()["token"]
    mine = (await client.post("/api/join", json={"token": link, "name": "Ann"})).json()
    err = error(await client.post("/api/join", json={"token": link, "name": "Bob"}), 403,
                "forbidden")
    assert err["details"]["reason"] == "used_up"
    back = await client.post("/api/join", json={
        "token": link, "participant_token": mine["participant_token"]})
    assert back.json()["participant_id"] == mine["participant_id"]


async def test_participant_language_on_invitations_and_join(
        org: Org, client: httpx.AsyncClient) -> None:
    m = await _open_meeting(org)
    path = f"/api/meetings/{m['id']}/invitations"
    inv = await org.post(path, {"role": "delegate", "name": "Ana", "language": "AR "})
    assert inv.status_code == 201, inv.text
    assert inv.json()["language"] == "ar"
    assert [i["language"] for i in (await org.get(path)).json()] == ["ar"]
    peek = (await client.post("/api/join/peek", json={"token": inv.json()["token"]})).json()
    assert peek["language"] == "ar"
    joined = (await client.post("/api/join", json={"token": inv.json()["token"]})).json()
    assert joined["language"] == "ar"  # the invitation's, when the join gives none

    open_link = (await org.post(path, {"role": "delegate", "max_uses": None})).json()["token"]
    chosen = await client.post("/api/join", json={"token": open_link, "name": "Ben",
                                                  "language": "zh"})
    assert chosen.status_code == 200 and chosen.json()["language"] == "zh", chosen.text
    again = await client.post("/api/join", json={
        "token": open_link, "participant_token": chosen.json()["participant_token"],
        "language": "en"})
    assert again.json()["participant_id"] == chosen.json()["participant_id"]
    assert again.json()["language"] == "en"  # the same person, speaking another language now
    none = await client.post("/api/join", json={"token": open_link, "name": "Cy"})
    assert none.json()["language"] is None

    # not one of the meeting's languages, or not a language: 422 naming the field
    err = error(await org.post(path, {"role": "delegate", "language": "de"}), 422,
                "invalid_input")
    assert err["details"]["field"] == "language"
    assert err["details"]["languages"] == m["languages"]
    err = error(await org.post(path, {"role": "delegate", "language": "xx"}), 422,
                "invalid_input")
    assert err["details"]["field"] == "language"  # the error shape docs/api.md shows
    err = error(await client.post("/api/join", json={"token": open_link, "name": "Dee",
                                                     "language": "de"}), 422, "invalid_input")
    assert err["details"]["field"] == "language"

    # a CSV upload's `language` column (docs/api.md, Bulk)
    bulk = await org.post(f"{path}/bulk", {"role": "delegate",
                                           "csv": "name,language\nAmina,FR\nLi Wei,zh\nEd,"})
    assert bulk.status_code == 201, bulk.text
    assert [i["language"] for i in bulk.json()["created"]] == ["fr", "zh", None]
    err = error(await org.post(f"{path}/bulk", {"role": "delegate",
                                                "csv": "name,language\nAmina,fr\nHans,de"}),
                422, "invalid_input")
    assert err["details"]["field"] == "csv line 3"
