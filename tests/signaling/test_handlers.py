"""A SessionHandler (hello, dispatch, errors) over an in-memory socket, with the real registry and
Room (fakes for the store hooks, engine and peers: tests/rooms/test_runtime.py)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from mirp.config import Limits, Settings
from mirp.rooms.registry import RoomRegistry
from mirp.signaling.handlers import NO_HELLO_CLOSE, SessionHandler
from mirp.signaling.session import Session
from tests.rooms.test_runtime import Plane, Store
from tests.signaling.test_session import MemorySocket
from tests.support.wait import until


async def connect(registry: RoomRegistry, limits: Limits) -> tuple[MemorySocket, Any]:
    t = MemorySocket()
    conn = SessionHandler(Session(t, limits), registry)
    return t, asyncio.create_task(conn.serve())


async def test_a_session_survives_bad_input_of_every_kind() -> None:
    limits = Limits(max_message_bytes=2048)
    registry = RoomRegistry(
        settings=Settings(limits=limits), media=Plane(), store=Store()
    )
    t, task = await connect(registry, limits)
    t.incoming.put_nowait(json.dumps({"type": "hello", "id": 1, "token": "d1"}))
    await until(lambda: t.sent and t.sent[0]["type"] == "welcome", "welcome")
    for raw in (
        "{",
        json.dumps({"type": "booth_chat", "id": 2, "text": "x" * 3000}),
        json.dumps({"type": "nope", "id": 3}),
        json.dumps({"type": "hello", "id": 4, "token": "d1"}),
        json.dumps({"type": "on_air", "id": 5, "on": True}),
        json.dumps({"type": "offer", "id": 6, "sdp": "bad"}),
        json.dumps({"type": "floor_request", "id": 7}),
    ):
        t.incoming.put_nowait(raw)
    await until(lambda: len(t.sent) >= 8 and t.sent, "replies")
    replies = [
        (m["type"], m.get("id"), m.get("code")) for m in t.sent if m["type"] in ("ack", "error")
    ]
    assert replies[:7] == [
        ("error", None, "invalid_message"),
        ("error", None, "message_too_large"),
        ("error", 3, "invalid_message"),
        ("error", 4, "conflict"),
        ("error", 5, "forbidden"),
        ("error", 6, "invalid_sdp"),
        ("ack", 7, None),
    ]
    assert t.closed is None
    t.incoming.put_nowait(None)
    await asyncio.wait_for(task, 5)
    await registry.close()


async def test_before_hello_errors_are_fatal_and_a_late_hello_times_out() -> None:
    limits = Limits(heartbeat_s=1.0)
    registry = RoomRegistry(
        settings=Settings(limits=limits), media=Plane(), store=Store()
    )
    t, task = await connect(registry, limits)
    t.incoming.put_nowait(json.dumps({"type": "hello", "token": "stranger"}))
    await asyncio.wait_for(task, 5)
    assert t.closed is not None and t.closed[0] == 4401
    assert t.sent[-1]["code"] == "unauthorized" and t.sent[-1]["fatal"] is True
    conn = SessionHandler(Session(t2 := MemorySocket(), limits), registry, hello_timeout_s=0.1)
    await asyncio.wait_for(conn.serve(), 5)  # says nothing: closed after the hello timeout
    assert t2.closed is not None and t2.closed[0] == NO_HELLO_CLOSE  # retryable, not 4401
    await registry.close()


async def test_a_flooding_client_is_refused_beyond_its_rate_and_stays_connected() -> None:
    from mirp.signaling.handlers import RATE_BURST

    limits = Limits(outbox_messages=1024)
    registry = RoomRegistry(settings=Settings(limits=limits), media=Plane(), store=Store())
    t, task = await connect(registry, limits)
    t.incoming.put_nowait(json.dumps({"type": "hello", "id": 0, "token": "d1"}))
    await until(lambda: t.sent and t.sent[0]["type"] == "welcome", "welcome")
    for i in range(1, 201):
        t.incoming.put_nowait(json.dumps({"type": "ping", "id": i}))
    await until(lambda: sum(m["type"] in ("pong", "error") for m in t.sent) >= 200,
                "200 replies")
    pongs = [m for m in t.sent if m["type"] == "pong"]
    refused = [m for m in t.sent if m["type"] == "error"]
    assert RATE_BURST - 1 <= len(pongs) < 200 and refused
    assert all(m["code"] == "unavailable" for m in refused)
    assert t.closed is None
    t.incoming.put_nowait(None)
    await asyncio.wait_for(task, 5)
    await registry.close()
