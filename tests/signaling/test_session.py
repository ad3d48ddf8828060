"""The Session's loops over an in-memory socket: a slow reader is cut off, not buffered;
a close flushes what was queued; a handler failure does not end the Session; heartbeats."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from mirp.config import Limits
from mirp.errors import Conflict, TooSlow
from mirp.signaling.session import GOING_AWAY, Session
from tests.support.wait import until


class MemorySocket:
    """A socket in memory: `incoming` is what the client sends; `blocked` stalls our sends
    (a client that does not read)."""

    def __init__(self) -> None:
        self.incoming: asyncio.Queue[str | None] = asyncio.Queue()
        self.sent: list[dict[str, Any]] = []
        self.closed: tuple[int, str] | None = None
        self.readable = asyncio.Event()
        self.readable.set()

    async def receive(self) -> str | bytes | None:
        if self.closed is not None:
            return None
        return await self.incoming.get()

    async def send(self, text: str) -> None:
        await self.readable.wait()
        self.sent.append(json.loads(text))

    async def close(self, code: int, reason: str) -> None:
        if self.closed is None:
            self.closed = (code, reason)
            self.incoming.put_nowait(None)


def limits(**kw: Any) -> Limits:
    return Limits(**{"outbox_messages": 8, "heartbeat_s": 10.0, **kw})


async def echo(session: Session) -> Callable[[str | bytes], Awaitable[None]]:
    async def handler(raw: str | bytes) -> None:
        session.send({"type": "echo", "raw": raw})

    return handler


async def test_messages_flow_both_ways_in_order() -> None:
    t = MemorySocket()
    s = Session(t, limits())
    task = asyncio.create_task(s.run(await echo(s)))
    for i in range(20):
        t.incoming.put_nowait(f"m{i}")
    await until(lambda: len(t.sent) == 20, "20 echoes")
    assert [m["raw"] for m in t.sent] == [f"m{i}" for i in range(20)]
    t.incoming.put_nowait(None)  # the client goes away
    await asyncio.wait_for(task, 5)
    assert s.close_code == 1000


async def test_a_client_that_does_not_read_is_disconnected_not_buffered() -> None:
    t = MemorySocket()
    t.readable.clear()  # the client stops reading
    s = Session(t, limits(outbox_messages=8))
    task = asyncio.create_task(s.run(await echo(s)))
    for i in range(100):
        s.send({"type": "event", "n": i})
    await asyncio.wait_for(task, 5)  # the session ended by itself
    assert s.close_code == TooSlow.ws_close == 4408
    assert s._outbox.qsize() <= 8  # never more than the bound
    assert t.closed is not None and t.closed[0] == 4408
    s.send({"type": "late"})  # harmless after the end
    assert s._outbox.qsize() <= 8


async def test_close_flushes_queued_messages_then_the_error_then_closes() -> None:
    t = MemorySocket()
    s = Session(t, limits())
    task = asyncio.create_task(s.run(await echo(s)))
    s.send({"type": "a"})
    s.send({"type": "b"})
    s.close(Conflict.ws_close, "replaced", Conflict("connected elsewhere"), msg_id=3)
    s.send({"type": "after-close"})  # dropped
    await asyncio.wait_for(task, 5)
    assert [m["type"] for m in t.sent] == ["a", "b", "error"]
    assert t.sent[-1]["code"] == "conflict" and t.sent[-1]["fatal"] is True
    assert t.sent[-1]["id"] == 3
    assert t.closed == (4409, "replaced")


async def test_a_failing_handler_answers_an_error_and_the_session_reads_on() -> None:
    t = MemorySocket()
    s = Session(t, limits())

    async def handler(raw: str | bytes) -> None:
        if raw == "boom":
            raise RuntimeError("bug")
        s.send({"type": "ok", "raw": raw})

    task = asyncio.create_task(s.run(handler))
    t.incoming.put_nowait("boom")
    t.incoming.put_nowait("fine")
    await until(lambda: len(t.sent) == 2, "two replies")
    assert t.sent[0]["type"] == "error" and t.sent[0]["code"] == "internal"
    assert t.sent[1] == {"type": "ok", "raw": "fine"}
    await s.socket.close(1000, "bye")
    await asyncio.wait_for(task, 5)


async def test_heartbeat_pings_a_quiet_line_and_drops_a_silent_watched_client() -> None:
    t = MemorySocket()
    s = Session(t, limits(heartbeat_s=0.2))

    async def handler(raw: str | bytes) -> None:
        s.watched = True  # as after a `pong`

    task = asyncio.create_task(s.run(handler))
    await until(lambda: any(m["type"] == "ping" for m in t.sent), "a ping")
    t.incoming.put_nowait('{"type":"pong"}')
    # then silence: the watched client is closed with 1001 (it may reconnect)
    await asyncio.wait_for(task, 10)
    assert s.close_code == GOING_AWAY
    assert t.closed is not None and t.closed[0] == GOING_AWAY


@pytest.mark.parametrize("broken", ["receive", "send"])
async def test_a_broken_socket_ends_the_session(broken: str) -> None:
    t = MemorySocket()

    async def fail(*_: Any) -> Any:
        raise ConnectionResetError("gone")

    setattr(t, broken, fail)
    s = Session(t, limits())
    task = asyncio.create_task(s.run(await echo(s)))
    s.send({"type": "x"})
    await asyncio.wait_for(task, 5)
    assert s.close_code is not None


async def test_a_client_that_sends_but_never_reads_is_cut_off() -> None:
    t = MemorySocket()
    t.readable.clear()
    s = Session(t, limits(outbox_messages=8, heartbeat_s=0.2))
    task = asyncio.create_task(s.run(await echo(s)))
    for i in range(50):
        t.incoming.put_nowait(f"m{i}")
    await asyncio.wait_for(task, 5)
    assert s.close_code == TooSlow.ws_close
    assert s.received < 50  # we stopped reading it rather than buffering its replies
