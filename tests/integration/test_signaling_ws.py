"""The WebSocket protocol against the real app (uvicorn on 127.0.0.1, real store, real Room):
admission, typed errors that leave the Session usable, shared event order, resume, removal."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
import uvicorn

from mirp.app import create_app
from mirp.errors import Conflict, Forbidden, Unauthorized
from mirp.signaling.closes import BY_CODE, SERVER_RESTART_CLOSE
from tests.integration.conftest import Harness, WsClient
from tests.support.factory import app_settings, join_token, make_meeting
from tests.support.procs import free_port
from tests.support.wait import until


async def test_bad_input_gets_typed_errors_and_the_session_stays_usable(harness: Harness) -> None:
    d = await harness.session("delegate1")
    await d.send_raw("{this is not json")
    await d.send_raw(json.dumps({"type": "launch", "id": 91}))
    await d.send_raw(json.dumps({"type": "subscribe", "id": 92}))  # missing channel
    await d.send_raw(json.dumps({"type": "on_air", "id": 93, "on": "yes"}))
    await d.send_raw(json.dumps({"type": "ping", "id": 94, "v": 9}))
    await d.send_raw(b"\x00\x01binary")
    errors = await until(lambda: len(d.events("error")) >= 6 and d.events("error"), "6 errors")
    assert [e["code"] for e in errors] == ["invalid_message"] * 6
    assert [e.get("id") for e in errors] == [None, 91, 92, 93, 94, None]
    # a command this role may not send: typed error, state unchanged
    refused = await d.request("floor_give", participant_id=d.welcome["participant_id"])  # type: ignore[index]
    assert refused["type"] == "error" and refused["code"] == "forbidden"
    refused = await d.request("on_air", on=True)
    assert refused["type"] == "error" and refused["code"] == "forbidden"
    refused = await d.request("subscribe", channel="xx")
    assert refused["type"] == "error" and refused["code"] in ("invalid_input", "not_found")
    # bad SDP: typed, not fatal
    bad = await d.request("offer", sdp="v=0\r\nthis is no offer\r\n")
    assert bad["type"] == "error" and bad["code"] == "invalid_sdp"
    # a quality report is taken, in the units and names docs/protocol.md gives (getStats's);
    # the names docs/rooms.md used to give are refused
    assert (await d.request("quality", rtt=0.03, loss=0.0, grade="good"))["type"] == "ack"
    old_names = await d.request("quality", grade="good", rtt_ms=30.0, loss_pct=0.0)
    assert old_names["code"] == "invalid_message"
    assert [f["field"] for f in old_names["details"]["fields"]] == ["rtt_ms", "loss_pct"]
    # `relay` is `subscribe` now (one message per intent)
    assert (await d.request("relay", source="floor"))["code"] == "invalid_message"
    # and the Session still works
    assert (await d.request("floor_request", kind="speak"))["type"] == "ack"
    pong = await d.request("ping", t=1.5)
    assert pong == {"type": "pong", "id": pong["id"], "t": 1.5}
    assert d.closed is None


async def test_oversized_message_is_refused(harness: Harness) -> None:
    d = await harness.session("delegate1")
    # over max_message_bytes (64 KiB): a typed error, and the Session reads on
    await d.send_raw(json.dumps({"type": "booth_chat", "id": "big", "text": "x" * 70_000}))
    assert (await d.request("ping"))["type"] == "pong"
    assert [e["code"] for e in d.events("error")] == ["message_too_large"]
    assert d.closed is None
    # beyond the WebSocket layer's own limit (limits.ws_frame_bytes) the frame is refused: 1009
    await d.send_raw(json.dumps({"type": "booth_chat", "text": "x" * 300_000}))
    closed = await d.wait_closed()
    assert closed[0] == 1009
    again = await harness.session("delegate1")  # the participant may come back
    assert (await again.request("ping"))["type"] == "pong"


async def test_admission_errors_end_the_session_with_44xx(harness: Harness) -> None:
    url = harness.url
    # no token / a forged token
    ws = await WsClient.open(url, "forged")
    await ws.send_raw(json.dumps({"type": "hello", "id": 1, "token": "not.a.token"}))
    assert (await ws.wait_closed())[0] == Unauthorized.ws_close
    assert ws.events("error")[0]["code"] == "unauthorized" and ws.events("error")[0]["fatal"]
    # anything but hello first
    ws = await WsClient.open(url, "no-hello")
    await ws.send_raw(json.dumps({"type": "floor_request", "id": 1}))
    assert (await ws.wait_closed())[0] == Unauthorized.ws_close
    # malformed before hello
    ws = await WsClient.open(url, "garbage")
    await ws.send_raw("garbage")
    assert (await ws.wait_closed())[0] == 4400
    # a token for another meeting, at /ws/{meeting_id}
    other = await make_meeting(harness.app, delegates=1, interpreters={}, observer=False)
    ws = await WsClient.open(f"{url}/{other.meeting_id}", "wrong-meeting")
    await ws.send_raw(json.dumps({"type": "hello", "token": harness.meeting.tokens["delegate1"]}))
    assert (await ws.wait_closed())[0] == Forbidden.ws_close
    assert ws.events("error")[0]["details"]["reason"] == "wrong_meeting"
    # ...and at /ws/{a meeting that does not exist}: the same (the path does not tell whether a
    # meeting exists: docs/protocol.md, 4403)
    ws = await WsClient.open(f"{url}/m_no_such_meeting", "no-such-meeting")
    await ws.send_raw(json.dumps({"type": "hello", "token": harness.meeting.tokens["delegate1"]}))
    assert (await ws.wait_closed())[0] == Forbidden.ws_close
    assert ws.events("error")[0]["details"]["reason"] == "wrong_meeting"
    # the right meeting at /ws/{meeting_id} works
    ws = await WsClient.open(f"{url}/{harness.meeting.meeting_id}", "right-meeting")
    assert (await ws.hello(harness.meeting.tokens["delegate1"]))["type"] == "welcome"
    await ws.close()


async def test_everyone_sees_the_same_snapshot_and_event_order(harness: Harness) -> None:
    chair = await harness.session("chair")
    d1 = await harness.session("delegate1")
    d2 = await harness.session("delegate2")
    obs = await harness.session("observer")
    ids = {k: harness.meeting.people[k].participant_id for k in ("delegate1", "delegate2")}
    await d1.ok("floor_request")
    await d2.ok("floor_request", kind="point_of_order")
    await chair.ok("speakers_reorder", order=[ids["delegate1"], ids["delegate2"]])
    await chair.ok("floor_give", participant_id=ids["delegate1"])
    await chair.ok("floor_time_limit", seconds=90)
    clients = [chair, d1, d2, obs]

    def floors(c: WsClient) -> list[tuple[int, list[str]]]:
        return [(m["seq"], m["holders"]) for m in c.events("floor")]

    final = await until(
        lambda: all(
            c.last("floor") and c.last("floor")["time_limit_s"] == 90  # type: ignore
            for c in clients
        ),
        "the last floor event everywhere",
    )
    assert final
    # the same broadcast events, in the same order, with the same seq, for every Session
    for c in clients[1:]:
        start = c.welcome["seq"]  # type: ignore[index]
        mine = [f for f in floors(c) if f[0] > start]
        theirs = [f for f in floors(chair) if f[0] > start]
        assert mine == theirs, c.name
    seqs = [m["seq"] for m in obs.messages if "seq" in m and m["type"] != "welcome"]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    # a late joiner's snapshot equals what the others built from events
    late = await harness.session("delegate3")
    snap = late.welcome["room"]["floor"]  # type: ignore[index]
    assert snap["holders"] == [ids["delegate1"]] == chair.last("floor")["holders"]  # type: ignore
    assert [s["participant_id"] if isinstance(s, dict) else s for s in snap["speakers"]] == [
        ids["delegate2"]
    ]


async def test_reconnect_replaces_the_old_session_and_keeps_the_floor(harness: Harness) -> None:
    chair = await harness.session("chair")
    d1 = await harness.session("delegate1")
    pid = harness.meeting.people["delegate1"].participant_id
    await chair.ok("floor_give", participant_id=pid)
    await until(lambda: pid in (chair.last("floor") or {}).get("holders", []), "d1 holds floor")
    await d1.ok("subscribe", channel="fr", floor_under=-18)
    resume = d1.welcome["resume"]  # type: ignore[index]
    # a second connection with the same token: the first is closed with 4409
    d1b = await WsClient.open(harness.url, "delegate1-again")
    welcome = await d1b.hello(harness.meeting.tokens["delegate1"], resume=resume)
    assert welcome["type"] == "welcome" and welcome["resumed"] is True
    assert welcome["participant_id"] == pid
    assert (await d1.wait_closed())[0] == Conflict.ws_close
    assert welcome["room"]["floor"]["holders"] == [pid]
    # a lost connection (no goodbye) and a reconnect within the grace period: floor kept
    d1b.ws.transport.abort()
    await d1b.wait_closed()
    d1c = await harness.session("delegate1")
    assert d1c.welcome["room"]["floor"]["holders"] == [pid]  # type: ignore[index]
    # the listening choice is resumed too
    sub = await until(lambda: d1c.last("subscribed"), "subscribed after the reconnect")
    assert (sub["channel"], sub["floor_under"]) == ("fr", -18)
    assert pid in chair.last("floor")["holders"]  # type: ignore[index]


async def test_leave_for_good_gives_the_floor_back(harness: Harness) -> None:
    chair = await harness.session("chair")
    d1 = await harness.session("delegate1")
    pid = harness.meeting.people["delegate1"].participant_id
    await chair.ok("floor_give", participant_id=pid)
    await until(lambda: pid in (chair.last("floor") or {}).get("holders", []), "d1 holds floor")
    assert (await d1.request("leave"))["type"] == "ack"  # answered like every command
    assert (await d1.wait_closed())[0] == 1000
    await until(lambda: pid not in chair.last("floor")["holders"], "floor released")  # type: ignore
    left = await until(lambda: chair.events("participant_left"), "participant_left")
    assert left[-1]["participant_id"] == pid


async def test_removed_participant_cannot_rejoin(harness: Harness) -> None:
    chair = await harness.session("chair")
    d2 = await harness.session("delegate2")
    pid = harness.meeting.people["delegate2"].participant_id
    await chair.ok("participant_remove", participant_id=pid)
    assert (await d2.wait_closed())[0] == Forbidden.ws_close
    assert d2.events("removed"), d2.messages[-3:]
    again = await WsClient.open(harness.url, "delegate2-again")
    await again.send_raw(
        json.dumps({"type": "hello", "token": harness.meeting.tokens["delegate2"]})
    )
    assert (await again.wait_closed())[0] == Forbidden.ws_close
    assert again.events("error")[0]["code"] == "forbidden"
    # the removal reached the store: the token itself is refused there (after a restart too)
    await harness.rooms.recorder.flush()
    with pytest.raises(Forbidden):
        await harness.app.state.admission.authorize(harness.meeting.tokens["delegate2"], None)


async def test_meeting_close_ends_every_session(harness: Harness) -> None:
    chair = await harness.session("chair")
    d1 = await harness.session("delegate1")
    await chair.ok("meeting_close")
    for c in (chair, d1):
        assert (await c.wait_closed())[0] == 4410
        assert any(m.get("closed") for m in c.events("meeting"))
    await until(lambda: harness.rooms.overview(harness.meeting.meeting_id) is None, "room closed")


async def test_overview_and_idle_close(harness: Harness) -> None:
    mid = harness.meeting.meeting_id
    assert harness.rooms.overview(mid) is None
    d1 = await harness.session("delegate1")
    view = harness.rooms.overview(mid)
    assert view is not None and view["sessions"] == 1
    extra = await join_token(harness.app, harness.meeting, "observer", key="observer2")
    obs = await WsClient.open(harness.url, "observer2")
    assert (await obs.hello(extra.token))["type"] == "welcome"
    assert harness.rooms.overview(mid)["sessions"] == 2
    await d1.close()
    await obs.close()
    runtime = harness.rooms.get(mid)
    runtime.idle_close_s = 0.0  # shorten the idle wait for the test; the timer re-reads it
    runtime.submit_nowait(lambda room, now: None)  # wake the task
    await until(lambda: harness.rooms.overview(mid) is None, "idle room closed", within=30)


async def test_chair_commands_refuse_as_documented(harness: Harness) -> None:
    """What docs/protocol.md says of floor_give and floor_time_limit, as a client sees it."""
    chair = await harness.session("chair")
    await harness.session("observer")
    observer = harness.meeting.people["observer"].participant_id
    refused = await chair.request("floor_give", participant_id=observer)
    assert refused["code"] == "invalid_input", refused  # not a delegate or a chair
    refused = await chair.request("floor_give", participant_id="p_nobody")
    assert refused["code"] == "not_found", refused
    # 1..14,400 s (four hours), or null
    assert (await chair.request("floor_time_limit", seconds=14_400))["type"] == "ack"
    refused = await chair.request("floor_time_limit", seconds=14_401)
    assert refused["code"] == "invalid_message", refused
    assert (await chair.request("floor_time_limit", seconds=None))["type"] == "ack"


async def test_a_stopping_server_closes_with_a_documented_code_the_client_reconnects_on(
    tmp_path: Path,
) -> None:
    """SIGTERM: uvicorn closes every Session with 1012 (before the app's shutdown could say
    1001). The close-code table names it, and not as final, so a client reconnects."""
    port = free_port()
    settings = app_settings(tmp_path, host="127.0.0.1", port=port)
    app = create_app(settings)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    serving = asyncio.create_task(server.serve())
    await until(lambda: server.started or serving.done(), "the server listening")
    fx = await make_meeting(app, delegates=1, interpreters={}, observer=False)
    d1 = await WsClient.open(f"ws://127.0.0.1:{port}/ws", "delegate1")
    assert (await d1.hello(fx.tokens["delegate1"]))["type"] == "welcome"
    # what uvicorn's SIGTERM handler does (calling it would re-raise the signal at the end of
    # serve(), in this test process)
    server.should_exit = True
    code = (await d1.wait_closed())[0]
    await asyncio.wait_for(serving, 30)
    assert code in BY_CODE, f"close code {code} is not in docs/protocol.md's table"
    assert not BY_CODE[code].final, BY_CODE[code]
    assert code == SERVER_RESTART_CLOSE  # if uvicorn changes it, the table must say so
