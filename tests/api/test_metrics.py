"""/metrics as Prometheus reads it (docs/operations.md, "Metrics"): the real app, served with its
media process, scraped over HTTP and parsed by prometheus_client's own parser; a real join over
a WebSocket moves the counters; the access setting refuses whom it says; a frozen media process
makes the scrape report `mirp_media_up 0` instead of hanging; every series the Grafana dashboard
queries is in the output."""

from __future__ import annotations

import json
import os
import re
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
import websockets
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from tests.support.factory import (
    ServedApp,
    organizer_token,
    running_app,
    served_app,
    standard_meeting_body,
)
from tests.support.wait import Seen, until

pytestmark = pytest.mark.asyncio(loop_scope="package")

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "deploy" / "grafana" / "mirp.json"

FAMILIES = {
    "mirp_rooms_open", "mirp_sessions_open", "mirp_websockets_open", "mirp_joins",
    "mirp_join_failures", "mirp_room_queue_depth_max", "mirp_room_queue_depth_sum",
    "mirp_room_commands", "mirp_listeners", "mirp_journal_depth", "mirp_journal_age_seconds",
    "mirp_journal_ok", "mirp_db_pool_in_use", "mirp_db_pool_capacity", "mirp_http_requests",
    "mirp_media_up", "mirp_media_sources", "mirp_media_feeds", "mirp_media_encoders",
    "mirp_media_listeners", "mirp_media_peers", "mirp_media_tick_lateness_p50_ms",
    "mirp_media_tick_lateness_p99_ms", "mirp_media_tick_lateness_max_ms",
    "mirp_media_packets_skipped", "mirp_media_packets_lost", "mirp_media_restarts",
    "process_cpu_seconds", "process_resident_memory_bytes",
}


def samples(text: str) -> list[Sample]:
    return [s for family in text_string_to_metric_families(text) for s in family.samples]


def value(found: list[Sample], name: str, **labels: str) -> float:
    """The sample `name` whose labels include `labels` (0 when there is none)."""
    for s in found:
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
            return float(s.value)
    return 0.0


@pytest_asyncio.fixture(scope="module", loop_scope="package")
async def srv(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[ServedApp]:
    async with served_app(tmp_path_factory.mktemp("metrics")) as served:  # its media process
        yield served


@pytest_asyncio.fixture(loop_scope="package")
async def http(srv: ServedApp) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=srv.base_url) as client:
        yield client


async def scrape(http: httpx.AsyncClient) -> list[Sample]:
    r = await http.get("/metrics")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    return samples(r.text)


async def open_meeting(http: httpx.AsyncClient) -> tuple[str, dict[str, str]]:
    auth = {"Authorization": f"Bearer {await organizer_token(http)}"}
    m = (await http.post("/api/meetings", json=standard_meeting_body(), headers=auth)).json()
    r = await http.patch(f"/api/meetings/{m['id']}", json={"status": "open"}, headers=auth)
    assert r.status_code == 200, r.text
    return str(m["id"]), auth


async def participant_token(http: httpx.AsyncClient, meeting_id: str,
                            auth: dict[str, str]) -> str:
    inv = (await http.post(f"/api/meetings/{meeting_id}/invitations",
                           json={"role": "delegate", "name": "Amélie", "language": "fr"},
                           headers=auth)).json()
    r = await http.post("/api/join", json={"token": inv["token"]})
    assert r.status_code == 200, r.text
    return str(r.json()["participant_token"])


async def test_every_family_is_scraped_and_parses(http: httpx.AsyncClient) -> None:
    r = await http.get("/metrics")
    assert r.status_code == 200, r.text
    names = {f.name for f in text_string_to_metric_families(r.text)}  # with samples or not
    assert FAMILIES <= names, sorted(FAMILIES - names)
    found = samples(r.text)
    assert value(found, "mirp_media_up") == 1  # the media process answered
    assert value(found, "mirp_journal_ok") == 1
    assert value(found, "mirp_db_pool_capacity") == 20  # 10 + 10 overflow, the defaults


async def test_a_join_and_a_refused_hello_move_the_counters(srv: ServedApp,
                                                            http: httpx.AsyncClient) -> None:
    meeting_id, auth = await open_meeting(http)
    token = await participant_token(http, meeting_id, auth)
    before = await scrape(http)
    async with websockets.connect(f"{srv.ws_url}/ws") as ws:
        await ws.send(json.dumps({"type": "hello", "id": 1, "token": token}))
        welcome = json.loads(await ws.recv())
        assert welcome["type"] == "welcome", welcome

        async def joined() -> Any:
            now = await scrape(http)
            ok = (value(now, "mirp_joins_total") == value(before, "mirp_joins_total") + 1
                  and value(now, "mirp_sessions_open") >= 1
                  and value(now, "mirp_websockets_open") >= 1
                  and value(now, "mirp_rooms_open") >= 1
                  and value(now, "mirp_listeners", channel="floor") >= 1)
            return ok or Seen([s for s in now if s.name.startswith("mirp_") and "media" not in
                               s.name and "http" not in s.name])

        await until(joined, "the join counted, its Session and listener seen")

    async with websockets.connect(f"{srv.ws_url}/ws") as ws:
        await ws.send(json.dumps({"type": "hello", "id": 1, "token": "not-a-token"}))
        await ws.send(json.dumps({"type": "ping", "id": 2}))  # read before the close: not a 2nd
        with pytest.raises(websockets.ConnectionClosed) as closed:
            while True:
                await ws.recv()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
    after = await scrape(http)
    labels = {"code": "unauthorized", "close": "4401"}
    assert (value(after, "mirp_join_failures_total", **labels)
            == value(before, "mirp_join_failures_total", **labels) + 1)

    async def session_gone() -> Any:
        now = await scrape(http)
        return value(now, "mirp_websockets_open") == 0 or Seen(value(now, "mirp_websockets_open"))

    await until(session_gone, "both WebSockets no longer counted")


async def test_requests_are_counted_by_route_template(http: httpx.AsyncClient) -> None:
    meeting_id, auth = await open_meeting(http)
    for _ in range(2):
        assert (await http.get(f"/api/meetings/{meeting_id}", headers=auth)).status_code == 200
    assert (await http.get("/api/meetings/no-such-meeting", headers=auth)).status_code == 404
    r = await http.get("/metrics")
    found = samples(r.text)
    route = "/api/meetings/{meeting_id}"
    assert value(found, "mirp_http_requests_total", method="GET", route=route, status="200") >= 2
    assert value(found, "mirp_http_requests_total", method="GET", route=route, status="404") >= 1
    assert meeting_id not in r.text  # no raw path, no meeting id as a label


async def test_a_frozen_media_process_is_reported_down_not_waited_for(
        srv: ServedApp, http: httpx.AsyncClient) -> None:
    plane = srv.app.state.media
    pid = plane.pid
    assert pid is not None
    os.kill(pid, signal.SIGSTOP)
    try:
        found = await scrape(http)  # answers although the media process cannot
        assert value(found, "mirp_media_up") == 0
        assert not any(s.name == "mirp_media_sources" for s in found)
        assert value(found, "mirp_rooms_open") >= 0 and any(
            s.name == "mirp_sessions_open" for s in found)  # the rest is there
    finally:
        os.kill(pid, signal.SIGCONT)

    async def back() -> Any:
        now = await scrape(http)
        return value(now, "mirp_media_up") == 1 or Seen(value(now, "mirp_media_up"))

    await until(back, "the media plane answering again")


async def test_metrics_are_loopback_only_by_default(srv: ServedApp) -> None:
    transport = httpx.ASGITransport(app=srv.app, client=("203.0.113.7", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://mirp.example") as remote:
        r = await remote.get("/metrics")
        assert r.status_code == 403, r.text
        assert r.json()["error"]["code"] == "forbidden"
        assert (await remote.get("/healthz")).status_code == 200  # only /metrics is kept in


async def test_token_and_off(tmp_path: Path) -> None:
    async with running_app(tmp_path / "token", media_process=False, metrics="token",
                           metrics_token="s3cret-metrics") as (app, _):
        transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://m.example") as remote:
            assert (await remote.get("/metrics")).status_code == 401
            wrong = {"Authorization": "Bearer nope"}
            assert (await remote.get("/metrics", headers=wrong)).status_code == 401
            right = {"Authorization": "Bearer s3cret-metrics"}
            r = await remote.get("/metrics", headers=right)
            assert r.status_code == 200 and "mirp_joins_total" in r.text
    async with running_app(tmp_path / "tokenless", media_process=False,
                           metrics="token") as (_, local):
        assert (await local.get("/metrics")).status_code == 403  # no token set: nobody
    async with running_app(tmp_path / "off", media_process=False, metrics="off") as (_, local):
        assert (await local.get("/metrics")).status_code == 404


def dashboard_series(board: dict[str, Any]) -> set[str]:
    names: set[str] = set()
    for panel in board["panels"]:
        for target in panel.get("targets", []):
            names |= set(re.findall(r"\b((?:mirp|process)_[a-z0-9_]+)", target["expr"]))
    return names


async def test_the_dashboard_queries_only_what_is_scraped(http: httpx.AsyncClient) -> None:
    board = json.loads(DASHBOARD.read_text())
    assert board["title"] and board["panels"]
    queried = dashboard_series(board)
    assert {"mirp_listeners", "mirp_media_tick_lateness_p99_ms", "mirp_joins_total",
            "mirp_join_failures_total", "mirp_room_queue_depth_max",
            "mirp_journal_age_seconds", "mirp_http_requests_total"} <= queried
    r = await http.get("/metrics")
    families = list(text_string_to_metric_families(r.text))
    # a family without samples now (no listener at this moment) still has its TYPE line
    found = {f.name for f in families} | {s.name for f in families for s in f.samples}
    missing = sorted(q for q in queried if q not in found)
    assert not missing, missing
