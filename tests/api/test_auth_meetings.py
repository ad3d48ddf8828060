"""Accounts and meetings: happy paths, validation naming the field, owner-only access."""

import httpx
import pytest

from mirp.store import accounts
from tests.api.conftest import Org, error
from tests.support.factory import standard_meeting_body

pytestmark = pytest.mark.asyncio(loop_scope="package")


async def test_signup_login_me(client: httpx.AsyncClient) -> None:
    r = await client.post("/api/auth/signup", json={
        "email": "Ana@Example.org", "name": "Ana", "password": "long enough pw"})
    assert r.status_code == 201, r.text
    assert r.json()["organizer"] == {"id": r.json()["organizer"]["id"],
                                     "email": "ana@example.org", "name": "Ana",
                                     "is_admin": False}
    error(await client.post("/api/auth/signup", json={
        "email": "ana@example.org", "name": "Ana 2", "password": "long enough pw"}),
        409, "conflict")
    err = error(await client.post("/api/auth/signup", json={
        "email": "bob@example.org", "name": "Bob", "password": "short"}), 422, "invalid_input")
    assert err["details"]["fields"][0]["field"] == "password"
    error(await client.post("/api/auth/login", json={
        "email": "ana@example.org", "password": "wrong password"}), 401, "unauthorized")
    error(await client.post("/api/auth/login", json={
        "email": "nobody@example.org", "password": "wrong password"}), 401, "unauthorized")
    r = await client.post("/api/auth/login", json={"email": "ANA@example.org",
                                                   "password": "long enough pw"})
    token = r.json()["token"]
    me = await client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200 and me.json()["name"] == "Ana"
    error(await client.get("/api/auth/me"), 401, "unauthorized")
    error(await client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}x"}),
          401, "unauthorized")


async def test_meeting_crud(org: Org) -> None:
    r = await org.post("/api/meetings", standard_meeting_body())
    assert r.status_code == 201, r.text
    m = r.json()
    assert m["status"] == "scheduled" and m["languages"] == ["en", "fr", "zh", "ar"]
    assert m["booths"][2] == {"language": "ar", "retour": "en", "understands": ["en", "fr"],
                              "auto_floor": True}
    assert m["options"] == {"under_levels_db": [-12, -18, -24], "capacity": 500, "captions": [],
                            "webcast": "off", "recording": False, "retention_days": None}
    assert m["starts_at"].startswith("2026-05-04T09:00:00")
    listed = (await org.get("/api/meetings")).json()
    assert [x["id"] for x in listed] == [m["id"]]
    got = (await org.get(f"/api/meetings/{m['id']}")).json()
    assert got == m
    # the organizer page's save: the whole form again, with changes
    body = standard_meeting_body(title="Plenary (day 2)", registration_open=True,
                                 options={"under_levels_db": [-15], "capacity": 80})
    r = await org.patch(f"/api/meetings/{m['id']}", body)
    assert r.status_code == 200, r.text
    assert r.json()["title"] == "Plenary (day 2)" and r.json()["registration_open"] is True
    assert r.json()["options"] == {"under_levels_db": [-15], "capacity": 80, "captions": [],
                                   "webcast": "off", "recording": False,
                                   "retention_days": None}
    # open / close
    r = await org.patch(f"/api/meetings/{m['id']}", {"status": "open"})
    assert r.json()["status"] == "open" and r.json()["title"] == "Plenary (day 2)"
    # removing a language drops its booth and its mentions elsewhere
    r = await org.patch(f"/api/meetings/{m['id']}", {"languages": ["en", "fr", "ar"]})
    assert r.status_code == 200, r.text
    assert [b["language"] for b in r.json()["booths"]] == ["fr", "ar"]
    assert (await org.delete(f"/api/meetings/{m['id']}")).status_code == 204
    error(await org.get(f"/api/meetings/{m['id']}"), 404, "not_found")
    assert (await org.get("/api/meetings")).json() == []


async def test_the_browser_tests_body_without_schedule(org: Org) -> None:
    """tests/browser posts no schedule and booths without auto_floor: accepted."""
    r = await org.post("/api/meetings", {
        "title": "Plenary", "languages": ["en", "fr", "es"],
        "booths": [{"language": "fr", "retour": "en", "understands": ["en", "es"]},
                   {"language": "es", "understands": ["en", "fr"]}]})
    assert r.status_code == 201, r.text
    assert r.json()["starts_at"] is None and r.json()["booths"][0]["auto_floor"] is True


async def test_validation_names_the_field(org: Org) -> None:
    cases = [
        (standard_meeting_body(languages=["en", "xx"]), "languages", "ISO 639-1"),
        (standard_meeting_body(languages=["en", "fr", "fr"], booths=[]), "languages", "twice"),
        (standard_meeting_body(starts_at="2026-05-04T12:00:00Z", ends_at="2026-05-04T09:00:00Z"),
         "ends_at", "end after"),
        (standard_meeting_body(booths=[{"language": "de", "understands": ["en"]}]),
         "booths.0.language", "not one of the meeting's languages"),
        (standard_meeting_body(booths=[{"language": "fr", "retour": "de"}]),
         "booths.0.retour", "retour"),
        (standard_meeting_body(booths=[{"language": "fr", "understands": ["es"]}]),
         "booths.0.understands", "not one of"),
        (standard_meeting_body(booths=[{"language": "fr"}, {"language": "fr"}]),
         "booths.1.language", "two booths"),
        (standard_meeting_body(title=""), "title", ""),
        (standard_meeting_body(options={"under_levels_db": [6]}), "options.under_levels_db", ""),
        (standard_meeting_body(starts_at="2026-05-04T09:00:00"), "starts_at", "UTC"),
    ]
    for body, field, words in cases:
        err = error(await org.post("/api/meetings", body), 422, "invalid_input")
        fields = [f["field"] for f in err["details"]["fields"]]
        assert fields[0] == field, (body, err)
        assert words in err["message"], err
    assert (await org.get("/api/meetings")).json() == []  # nothing was written


async def test_failed_patch_changes_nothing(org: Org) -> None:
    m = (await org.post("/api/meetings", standard_meeting_body())).json()
    err = error(await org.patch(f"/api/meetings/{m['id']}", {
        "title": "New", "booths": [{"language": "de"}]}), 422, "invalid_input")
    assert err["details"]["field"] == "booths.0.language"
    assert (await org.get(f"/api/meetings/{m['id']}")).json() == m


async def test_another_organizers_meeting_is_not_found(org: Org, other: Org) -> None:
    m = (await org.post("/api/meetings", standard_meeting_body())).json()
    mid = m["id"]
    assert (await other.get("/api/meetings")).json() == []
    error(await other.get(f"/api/meetings/{mid}"), 404, "not_found")
    error(await other.patch(f"/api/meetings/{mid}", {"title": "Mine now"}), 404, "not_found")
    error(await other.delete(f"/api/meetings/{mid}"), 404, "not_found")
    error(await other.get(f"/api/meetings/{mid}/invitations"), 404, "not_found")
    error(await other.post(f"/api/meetings/{mid}/invitations", {"role": "chair"}), 404,
          "not_found")
    error(await other.get(f"/api/meetings/{mid}/registrations"), 404, "not_found")
    error(await other.get(f"/api/meetings/{mid}/live"), 404, "not_found")
    assert (await org.get(f"/api/meetings/{mid}")).json()["title"] == m["title"]


async def test_admin_sees_every_meeting(app, client: httpx.AsyncClient, org: Org) -> None:  # type: ignore[no-untyped-def]
    m = (await org.post("/api/meetings", standard_meeting_body())).json()
    async with app.state.db.session() as s:
        await accounts.create_account(s, email="root@example.org", name="Root",
                                      password="admin password", admin=True)
    token = (await client.post("/api/auth/login", json={
        "email": "root@example.org", "password": "admin password"})).json()["token"]
    admin = Org(client, token)
    assert m["id"] in [x["id"] for x in (await admin.get("/api/meetings")).json()]
    r = await admin.patch(f"/api/meetings/{m['id']}", {"status": "open"})
    assert r.status_code == 200 and r.json()["status"] == "open"


async def test_openapi_lists_the_api(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    for p in ("/api/auth/signup", "/api/meetings", "/api/meetings/{meeting_id}",
              "/api/meetings/{meeting_id}/invitations/bulk", "/api/join",
              "/api/meetings/{meeting_id}/registrations/{registration_id}/approve",
              "/api/meetings/{meeting_id}/live", "/healthz", "/readyz"):
        assert p in paths, p
    assert "/api/join/peek" in paths
    # no Swagger UI page: FastAPI's loads its code from a CDN (docs/api.md)
    assert (await client.get("/docs")).status_code == 404


async def test_one_transaction_per_request(app, client: httpx.AsyncClient) -> None:  # type: ignore[no-untyped-def]
    """A route that writes, then fails: nothing of it is kept, and the error has the shape."""
    from mirp.api.deps import DbSession
    from mirp.errors import Conflict

    @app.post("/api/_test/write-then-fail")
    async def write_then_fail(session: DbSession) -> None:
        await accounts.create_account(session, email="ghost@example.org", name="Ghost",
                                      password="ghost password")
        raise Conflict("failed after writing")

    app.router.routes.insert(0, app.router.routes.pop())  # before the static mount at "/"
    error(await client.post("/api/_test/write-then-fail"), 409, "conflict")
    r = await client.post("/api/auth/signup", json={
        "email": "ghost@example.org", "name": "Ghost", "password": "ghost password"})
    assert r.status_code == 201, r.text  # the first ghost was rolled back
