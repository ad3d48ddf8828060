"""The webcast files and the recordings API against the real app (SQLite, lifespan running):
access by the meeting's option, caching headers, tokens, bad names, the organizer's downloads."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI

from mirp.api.deps import WebcastModes
from mirp.rooms.model import OnAirTurnRecord, SpeakingTurnRecord
from mirp.webcast.hls import MASTER, Rendition, master_playlist, write_atomic
from mirp.webcast.record import Recording
from tests.support.audio import opus_packets, tone
from tests.support.factory import make_meeting_http, organizer_token, running_app

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def app_client(tmp_path_factory: pytest.TempPathFactory
                     ) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    async with running_app(tmp_path_factory.mktemp("webcast-api")) as (app, client):
        app.state.webcast_modes = WebcastModes(ttl_s=0.0)  # an option change is seen at once
        yield app, client


async def meeting(client: httpx.AsyncClient, **options: Any) -> tuple[str, dict[str, str]]:
    fx = await make_meeting_http(client, delegates=1, interpreters={}, observer=False)
    auth = {"Authorization": f"Bearer {fx.organizer_token}"}
    r = await client.patch(f"/api/meetings/{fx.meeting_id}", headers=auth,
                           json={"options": options})
    assert r.status_code == 200, r.text
    assert all(r.json()["options"][k] == v for k, v in options.items())
    return fx.meeting_id, auth


def webcast_files(app: FastAPI, meeting_id: str) -> str:
    """A master playlist and a floor rendition of one segment, as the worker writes them."""
    base: Path = app.state.settings.data_dir / "webcast" / meeting_id
    r = Rendition(base / "floor", "abc", segment_packets=5)
    for p in opus_packets(tone(300, 0.1)):
        r.add(p)
    write_atomic(base / MASTER, master_playlist(["floor", "fr"]).encode())
    return r.segments[0][0]


def error(r: httpx.Response, status: int, code: str) -> None:
    assert r.status_code == status, r.text
    assert r.json()["error"]["code"] == code


async def test_a_public_webcast_is_served_with_caching_headers(
        app_client: tuple[FastAPI, httpx.AsyncClient]) -> None:
    app, client = app_client
    mid, _ = await meeting(client, webcast="public")
    segment = webcast_files(app, mid)
    r = await client.get(f"/webcast/{mid}/master.m3u8")
    assert r.status_code == 200 and r.headers["cache-control"] == "no-cache"
    assert r.headers["content-type"] == "application/vnd.apple.mpegurl"
    assert 'NAME="Français"' in r.text
    r = await client.get(f"/webcast/{mid}/floor/index.m3u8")
    assert r.status_code == 200 and segment in r.text
    r = await client.get(f"/webcast/{mid}/floor/{segment}")
    assert r.status_code == 200 and r.headers["content-type"] == "audio/mp4"
    assert r.headers["cache-control"] == "max-age=31536000, immutable"
    assert r.content[4:8] == b"styp"
    r = await client.get(f"/webcast/{mid}/floor/init.mp4")
    assert r.status_code == 200 and b"dOps" in r.content
    error(await client.get(f"/webcast/{mid}/fr/abc-99.m4s"), 404, "not_found")


async def test_unknown_off_and_bad_names_get_clean_errors(
        app_client: tuple[FastAPI, httpx.AsyncClient]) -> None:
    app, client = app_client
    error(await client.get("/webcast/m_nope/master.m3u8"), 404, "not_found")
    mid, _ = await meeting(client, webcast="off")
    webcast_files(app, mid)
    error(await client.get(f"/webcast/{mid}/master.m3u8"), 404, "not_found")
    mid, _ = await meeting(client, webcast="public")
    webcast_files(app, mid)
    for bad in ("floor/..%2F..%2Fsecret.key", "..%2Fsecret.key", "floor/%2e%2e", "x/index.m3u8",
                "floor/index.m3u8.tmp", "floor/.index.m3u8.tmp", "floor/a-1.m4s%00",
                "floor/../../secret.key", "FLOOR/init.mp4", "floor/abc-1.m4s/x"):
        r = await client.get(f"/webcast/{mid}/{bad}")
        assert r.status_code in (404, 422), (bad, r.status_code)
        assert "test-secret" not in r.text
    error(await client.get(f"/webcast/{mid}/floor/..%2F..%2Fsecret.key"), 422, "invalid_input")
    error(await client.get("/webcast/a..b/master.m3u8"), 404, "not_found")
    error(await client.post(f"/webcast/{mid}/master.m3u8"), 405, "method_not_allowed")
    error(await client.get("/webcast"), 404, "not_found")


async def test_a_token_webcast_wants_the_meetings_token(
        app_client: tuple[FastAPI, httpx.AsyncClient]) -> None:
    app, client = app_client
    mid, auth = await meeting(client, webcast="token")
    other, other_auth = await meeting(client, webcast="token")
    webcast_files(app, mid)
    url = f"/webcast/{mid}/master.m3u8"
    r = await client.get(url)
    error(r, 401, "unauthorized")
    assert r.json()["error"]["details"]["reason"] == "token_required"
    error(await client.get(url, params={"token": "nonsense"}), 401, "unauthorized")
    r = await client.post(f"/api/meetings/{other}/webcast/token", headers=other_auth)
    assert r.status_code == 200, r.text
    wrong = r.json()
    error(await client.get(url, params={"token": wrong["token"]}), 403, "forbidden")
    error(await client.post(f"/api/meetings/{mid}/webcast/token", headers=other_auth), 404,
          "not_found")
    given = (await client.post(f"/api/meetings/{mid}/webcast/token", headers=auth)).json()
    assert given["playlist"].endswith(f"/webcast/{mid}/master.m3u8?token={given['token']}")
    r = await client.get(url, headers={"Authorization": f"Bearer {given['token']}"})
    assert r.status_code == 200 and r.headers["cache-control"] == "private, no-cache"
    # the query sets a cookie for this meeting's path: the playlists' own URLs need no token
    fresh = httpx.AsyncClient(transport=client._transport, base_url="http://testserver")
    async with fresh:
        r = await fresh.get(url, params={"token": given["token"]})
        assert r.status_code == 200 and "mirp_webcast" in r.headers["set-cookie"]
        assert f"Path=/webcast/{mid}/" in r.headers["set-cookie"]
        r = await fresh.get(f"/webcast/{mid}/floor/index.m3u8")
        assert r.status_code == 200


async def test_the_organizer_lists_downloads_indexes_and_deletes_recordings(
        app_client: tuple[FastAPI, httpx.AsyncClient]) -> None:
    app, client = app_client
    mid, auth = await meeting(client, recording=True, retention_days=30)
    start = time.time() - 10
    rec = Recording(app.state.settings.data_dir / "recordings" / mid / "20261129T030000Z", mid,
                    "20261129T030000Z")
    for p in opus_packets(tone(300, 1.0)):
        rec.add("floor", p, start)
    rec.close(start + 1.0)
    # a speaking turn 0.2 s -> 0.8 s into the recording, an on-air turn after it
    at = datetime.fromtimestamp(start, UTC)
    await app.state.admission.record([
        SpeakingTurnRecord(mid, "p_someone", at + timedelta(seconds=0.2),
                           at + timedelta(seconds=0.8), "en"),
        OnAirTurnRecord(mid, "p_interp", "fr", "fr", at + timedelta(seconds=0.5),
                        at + timedelta(seconds=0.9))])
    listed = (await client.get(f"/api/meetings/{mid}/recordings", headers=auth)).json()
    assert listed["recording"] is True and listed["retention_days"] == 30
    (part,) = listed["parts"]
    assert part["part"] == "20261129T030000Z" and not part["running"]
    assert [c["channel"] for c in part["channels"]] == ["floor"]
    base = f"/api/meetings/{mid}/recordings/20261129T030000Z"
    r = await client.get(f"{base}/floor.opus", headers=auth)
    assert r.status_code == 200 and r.content[:4] == b"OggS"
    assert r.headers["content-type"] == "audio/ogg"
    index = (await client.get(f"{base}/index.json", headers=auth)).json()
    kinds = [(e["kind"], e["start"], e["end"]) for e in index["entries"]]
    assert kinds == [("speaker", 0.2, 0.8), ("on_air", 0.5, 0.9)]
    vtt = (await client.get(f"{base}/index.vtt", headers=auth)).text
    assert vtt.startswith("WEBVTT") and "00:00:00.200 --> 00:00:00.800" in vtt
    # someone else's meeting, bad names
    other = {"Authorization": f"Bearer {await organizer_token(client)}"}
    error(await client.get(f"/api/meetings/{mid}/recordings", headers=other), 404, "not_found")
    error(await client.get(f"{base}/floor.opus", headers=other), 404, "not_found")
    error(await client.get(f"{base}/de.opus", headers=auth), 404, "not_found")
    error(await client.get(f"/api/meetings/{mid}/recordings/..%2F..%2Fx/floor.opus",
                           headers=auth), 404, "not_found")
    assert (await client.delete(base, headers=auth)).status_code == 204
    assert (await client.get(f"/api/meetings/{mid}/recordings", headers=auth)).json()[
        "parts"] == []
    error(await client.delete(base, headers=auth), 404, "not_found")


async def test_options_are_checked(app_client: tuple[FastAPI, httpx.AsyncClient]) -> None:
    _, client = app_client
    mid, auth = await meeting(client)
    for bad in ({"webcast": "everyone"}, {"recording": "yes please"},
                {"retention_days": -1}):
        r = await client.patch(f"/api/meetings/{mid}", headers=auth, json={"options": bad})
        error(r, 422, "invalid_input")
    out = (await client.get(f"/api/meetings/{mid}", headers=auth)).json()["options"]
    assert (out["webcast"], out["recording"], out["retention_days"]) == ("off", False, None)
    assert json.dumps(out)


async def test_recordings_past_their_retention_are_deleted(
        app_client: tuple[FastAPI, httpx.AsyncClient]) -> None:
    app, client = app_client
    kept_for_ever, _ = await meeting(client, recording=True)
    thirty, _ = await meeting(client, recording=True, retention_days=30)
    root = app.state.settings.data_dir / "recordings"
    day = 86400.0

    def recorded(mid: str, part: str, ended_days_ago: float) -> Path:
        rec = Recording(root / mid / part, mid, part)
        for p in opus_packets(tone(300, 0.1)):
            rec.add("floor", p, time.time() - ended_days_ago * day - 1)
        rec.close(time.time() - ended_days_ago * day)
        return rec.directory

    old = recorded(thirty, "20261001T100000Z", 40)
    recent = recorded(thirty, "20261101T100000Z", 10)
    ancient = recorded(kept_for_ever, "20250101T100000Z", 400)
    assert await app.state.webcast.sweep() >= 1
    assert not old.exists() and recent.exists() and ancient.exists()
    assert json.loads((recent / "meta.json").read_text())["channels"]["floor"]


async def test_the_front_serves_each_new_version_revalidates_and_forgets_deleted_files(
        app_client: tuple[FastAPI, httpx.AsyncClient]) -> None:
    """The viewers' path (api/webcast.py WebcastFront, in front of the middlewares): files are
    kept in memory but each request sees the disk's current version; ETag/304; HEAD; the
    security headers and the /metrics count the middlewares would have added."""
    app, client = app_client
    mid, _ = await meeting(client, webcast="public")
    base: Path = app.state.settings.data_dir / "webcast" / mid
    r = Rendition(base / "floor", "abc", segment_packets=5)
    packets = opus_packets(tone(300, 0.3))
    for p in packets[:5]:
        r.add(p)
    url = f"/webcast/{mid}/floor/index.m3u8"
    first = await client.get(url)
    assert first.status_code == 200 and "abc-1.m4s" in first.text and "abc-2" not in first.text
    assert first.headers["x-content-type-options"] == "nosniff"
    assert "default-src 'self'" in first.headers["content-security-policy"]
    etag = first.headers["etag"]
    same = await client.get(url, headers={"If-None-Match": etag})
    assert same.status_code == 304 and same.content == b"" and same.headers["etag"] == etag
    for p in packets[5:10]:  # the worker renames a new playlist in
        r.add(p)
    newer = await client.get(url, headers={"If-None-Match": etag})
    assert newer.status_code == 200 and "abc-2.m4s" in newer.text
    assert newer.headers["etag"] != etag
    head = await client.head(f"/webcast/{mid}/floor/abc-2.m4s")
    segment = await client.get(f"/webcast/{mid}/floor/abc-2.m4s")
    assert head.status_code == 200 and head.content == b""
    assert int(head.headers["content-length"]) == len(segment.content) > 0
    (base / "floor" / "abc-2.m4s").unlink()  # out of the window
    error(await client.get(f"/webcast/{mid}/floor/abc-2.m4s"), 404, "not_found")
    error(await client.get(f"/webcast/{mid}/floor/abc-1.m4s?token=%00"), 422, "invalid_input")
    counted = app.state.tally.http
    assert counted[("GET", "/webcast/{meeting_id}/{file}", 304)] >= 1
    assert counted[("HEAD", "/webcast/{meeting_id}/{file}", 200)] >= 1
    assert counted[("GET", "/webcast/{meeting_id}/{file}", 404)] >= 1
