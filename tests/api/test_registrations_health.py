"""Self-registration, the live overview, /healthz and /readyz (with a real redis-server)."""

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest

from mirp.api.deps import NoRooms, get_rooms
from tests.api.conftest import Org, error
from tests.support.factory import running_app, standard_meeting_body
from tests.support.redis import RedisServer, dead_url, start_redis
from tests.support.wait import Seen, until

pytestmark = pytest.mark.asyncio(loop_scope="package")


async def test_registration_flow(org: Org, client: httpx.AsyncClient) -> None:
    m = (await org.post("/api/meetings", standard_meeting_body())).json()
    mid = m["id"]
    err = error(await client.get(f"/api/meetings/{mid}/registration"), 403, "forbidden")
    assert "closed" in err["message"]
    error(await client.post(f"/api/meetings/{mid}/registrations", json={
        "name": "Ana", "email": "ana@example.org"}), 403, "forbidden")
    error(await client.get("/api/meetings/m_nope/registration"), 404, "not_found")
    await org.patch(f"/api/meetings/{mid}", {"registration_open": True})
    info = (await client.get(f"/api/meetings/{mid}/registration")).json()
    assert info["registration_open"] is True and info["meeting"]["title"] == m["title"]
    assert info["meeting"]["languages"] == ["en", "fr", "zh", "ar"]
    r = await client.post(f"/api/meetings/{mid}/registrations", json={
        "name": "Ana Lima", "email": "ana@example.org", "delegation": "Brazil"})
    assert r.status_code == 201 and r.json()["status"] == "pending", r.text
    ana = r.json()
    error(await client.post(f"/api/meetings/{mid}/registrations", json={
        "name": "Ana again", "email": "ANA@example.org"}), 409, "conflict")
    err = error(await client.post(f"/api/meetings/{mid}/registrations", json={
        "name": "Bo", "email": "bo"}), 422, "invalid_input")
    assert err["details"]["fields"][0]["field"] == "email"
    bo = (await client.post(f"/api/meetings/{mid}/registrations", json={
        "name": "Bo", "email": "bo@example.org", "role": "observer"})).json()
    error(await client.get(f"/api/meetings/{mid}/registrations"), 401, "unauthorized")
    listed = (await org.get(f"/api/meetings/{mid}/registrations")).json()
    assert [(x["name"], x["status"]) for x in listed] == [("Ana Lima", "pending"),
                                                          ("Bo", "pending")]
    r = await org.post(f"/api/meetings/{mid}/registrations/{ana['id']}/approve", {})
    assert r.status_code == 200, r.text
    approved = r.json()
    assert approved["status"] == "approved" and approved["invitation"]["name"] == "Ana Lima"
    assert approved["join_url"] == approved["invitation"]["join_url"]
    joined = (await client.post("/api/join", json={
        "token": approved["invitation"]["token"]})).json()
    assert joined["name"] == "Ana Lima" and joined["delegation"] == "Brazil"
    assert joined["role"] == "delegate"
    r = await org.post(f"/api/meetings/{mid}/registrations/{bo['id']}/reject", {})
    assert r.json()["status"] == "rejected" and r.json()["invitation"] is None
    error(await org.post(f"/api/meetings/{mid}/registrations/{bo['id']}/approve", {}), 409,
          "conflict")
    error(await org.post(f"/api/meetings/{mid}/registrations/r_nope/approve", {}), 404,
          "not_found")
    listed = (await org.get(f"/api/meetings/{mid}/registrations")).json()
    assert [(x["status"], bool(x["join_url"])) for x in listed] == [("approved", True),
                                                                    ("rejected", False)]
    invs = (await org.get(f"/api/meetings/{mid}/invitations")).json()
    assert [(i["name"], i["uses"]) for i in invs] == [("Ana Lima", 1)]


class FakeRooms(NoRooms):
    """The rooms registry as the API sees it (api/deps.py LiveRooms), with rooms open at will."""

    def __init__(self) -> None:
        self.open: dict[str, dict[str, Any]] = {}

    async def live_overview(self, meeting_id: str) -> dict[str, Any] | None:
        return self.open.get(meeting_id)


async def test_live_overview(app, org: Org, other: Org) -> None:  # type: ignore[no-untyped-def]
    m = (await org.post("/api/meetings", standard_meeting_body())).json()
    r = await org.get(f"/api/meetings/{m['id']}/live")
    assert r.status_code == 200 and r.json()["open"] is False  # the real registry: no room
    fake = FakeRooms()
    app.dependency_overrides[get_rooms] = lambda: fake
    try:
        assert (await org.get(f"/api/meetings/{m['id']}/live")).json() == {"open": False}
        fake.open[m["id"]] = {"people": [{"participant_id": "p1", "role": "chair"}],
                              "channels": {"fr": {"listeners": 2}}, "booths": []}
        live = (await org.get(f"/api/meetings/{m['id']}/live")).json()
        assert live["open"] is True and live["booths"] == []
        assert live["channels"] == {"fr": {"listeners": 2}}
        error(await other.get(f"/api/meetings/{m['id']}/live"), 404, "not_found")
    finally:
        del app.dependency_overrides[get_rooms]


async def test_health(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    r = await client.get("/readyz")
    assert r.status_code == 200 and r.json()["checks"] == {"database": "ok"}


async def test_readyz_with_real_and_dead_redis(tmp_path: Path,
                                               redis_server: RedisServer) -> None:
    async with running_app(tmp_path / "up", redis_url=redis_server.url) as (_, client):
        r = await client.get("/readyz")
        assert r.status_code == 200, r.text
        assert r.json()["checks"] == {"database": "ok", "redis": "ok"}
    async with running_app(tmp_path / "down", redis_url=dead_url()) as (_, client):
        r = await client.get("/readyz")
        err = error(r, 503, "unavailable")
        assert err["details"]["checks"]["database"] == "ok"
        assert err["details"]["checks"]["redis"].startswith("error")
        assert "redis" in err["message"]
        assert (await client.get("/healthz")).status_code == 200  # alive all the same


@pytest.mark.redis
async def test_readyz_with_a_hung_redis(tmp_path: Path) -> None:
    """A redis-server that stops answering (SIGSTOP: the kernel still accepts connections, nothing
    replies) turns /readyz red by its own bound rather than hanging the probe; once it runs again
    (SIGCONT) /readyz is green by itself. The 20 s deadline only catches a hang."""
    with start_redis() as redis:
        async with running_app(tmp_path, redis_url=redis.url) as (_, client):
            assert (await client.get("/readyz")).status_code == 200
            redis.freeze()
            try:
                r = await asyncio.wait_for(client.get("/readyz"), 20)
                err = error(r, 503, "unavailable")
                assert err["details"]["checks"]["database"] == "ok"
                assert err["details"]["checks"]["redis"].startswith("error")
            finally:
                redis.thaw()
            async def green() -> object:  # again, without a restart
                r = await client.get("/readyz")
                return r.status_code == 200 or Seen(r.text)

            await until(green, "/readyz green after redis came back", within=10)


async def test_report_from_recorded_statistics(app, org: Org, other: Org) -> None:  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime, timedelta

    from mirp.rooms.model import (
        AttendanceRecord,
        LifecycleRecord,
        ListeningRecord,
        OnAirTurnRecord,
        Role,
        SpeakingTurnRecord,
    )
    from tests.support.factory import join_token, make_meeting

    fx = await make_meeting(app, delegates=2, interpreters={"fr": 1}, observer=False)
    org.headers["Authorization"] = f"Bearer {fx.organizer_token}"
    mid, d1, fr = fx.meeting_id, fx.people["delegate1"], fx.people["interpreter_fr1"]
    await join_token(app, fx, "observer")
    t0 = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
    m = timedelta(minutes=1)
    await app.state.admission.record([
        LifecycleRecord(mid, "opened", t0, by=fx.people["chair"].participant_id),
        AttendanceRecord(mid, d1.participant_id, d1.name, Role.DELEGATE, "join", t0,
                         delegation=d1.delegation),
        AttendanceRecord(mid, d1.participant_id, d1.name, Role.DELEGATE, "leave", t0 + 30 * m),
        AttendanceRecord(mid, d1.participant_id, d1.name, Role.DELEGATE, "join", t0 + 40 * m),
        AttendanceRecord(mid, d1.participant_id, d1.name, Role.DELEGATE, "leave", t0 + 50 * m),
        SpeakingTurnRecord(mid, d1.participant_id, t0 + m, t0 + 3 * m, "en"),
        SpeakingTurnRecord(mid, d1.participant_id, t0 + 41 * m, t0 + 42 * m, "en"),
        OnAirTurnRecord(mid, fr.participant_id, "fr", "fr", t0 + m, t0 + 3 * m),
        ListeningRecord(mid, d1.participant_id, "fr", -18, t0, t0 + 10 * m),
        ListeningRecord(mid, fx.people["delegate2"].participant_id, "fr", 0, t0, t0 + 5 * m),
        LifecycleRecord(mid, "closed", t0 + 60 * m),
    ])
    r = await org.get(f"/api/meetings/{mid}/report")
    assert r.status_code == 200, r.text
    rep = r.json()
    assert rep["meeting"]["status"] == "closed" and rep["participants_joined"] == 5
    (att,) = rep["attendance"]
    assert att["name"] == d1.name and att["joins"] == 2 and att["present_s"] == 40 * 60
    assert rep["speaking"] == [{"participant_id": d1.participant_id, "name": d1.name,
                                "turns": 2, "seconds": 180.0}]
    assert rep["interpretation"][0]["seconds"] == 120.0 and rep["interpretation"][0][
        "booth"] == "fr"
    assert rep["listening"] == [{"channel": "fr", "listeners": 2, "seconds": 900.0}]
    assert [c["kind"] for c in rep["lifecycle"]] == ["opened", "closed"]
    error(await other.get(f"/api/meetings/{mid}/report"), 404, "not_found")
