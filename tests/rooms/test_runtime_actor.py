"""Every change through the actor (rooms/actor.py): what the media plane reports about a room's
peers is applied in the room task even when its command queue is full, and the actor's timers
run in the task. Each test here failed when those reports went through the bounded queue (a
full queue dropped them: a gone peer stayed counted, its client was never told)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from mirp.config import Limits, Settings
from mirp.errors import Unavailable
from mirp.rooms import commands as c
from mirp.rooms.actor import Actor
from mirp.rooms.registry import RoomRegistry
from mirp.rooms.room import Room
from mirp.rooms.runtime import RoomRuntime
from tests.rooms.test_runtime import FakeSession, Plane, Store
from tests.support.wait import Seen, until

QUEUE = 4


@pytest.fixture
async def parts() -> Any:
    plane = Plane()
    registry = RoomRegistry(
        settings=Settings(limits=Limits(reconnect_grace_s=30.0, room_queue_commands=QUEUE)),
        media=plane, store=Store(), idle_close_s=60)
    yield registry, plane
    await registry.close()


async def enter(registry: RoomRegistry, key: str) -> tuple[RoomRuntime, FakeSession]:
    session = FakeSession(key)
    return await registry.join(await registry.authorize(key), session), session


async def hold(rt: RoomRuntime) -> tuple[asyncio.Event, asyncio.Future[None]]:
    """Block the room task in a job, then fill its command queue: a room under a flood."""
    release = asyncio.Event()
    entered = asyncio.Event()

    async def busy(room: Room, now: float) -> None:
        entered.set()
        await release.wait()

    blocked = asyncio.ensure_future(rt.call_async(busy))
    await until(entered.is_set, "the room task busy")
    while rt.submit_nowait(lambda room, now: None):
        pass
    with pytest.raises(Unavailable):  # the queue is full: a command is refused
        await rt.call(lambda room, now: None)
    return release, blocked


async def test_a_peer_gone_while_the_queue_is_full_is_not_lost(parts: Any) -> None:
    registry, plane = parts
    rt, d1 = await enter(registry, "d1")
    await rt.offer("p_d1", d1, "v=0")
    release, blocked = await hold(rt)
    plane.gone("p_d1", "failed")
    release.set()
    await blocked
    await until(lambda: d1.of("peer_closed") or Seen(d1.messages[-3:]), "peer_closed sent")
    assert d1.of("peer_closed") == [{"type": "peer_closed", "reason": "failed"}]
    assert not rt.media.has_peer("p_d1")


async def test_a_cancelled_offer_is_forgotten_even_when_the_queue_is_full(parts: Any) -> None:
    registry, plane = parts
    rt, d1 = await enter(registry, "d1")
    offer = asyncio.ensure_future(rt.offer("p_d1", d1, "slow"))
    await until(lambda: "p_d1" in plane.peers, "the offer in the plane")
    release, blocked = await hold(rt)
    offer.cancel()
    with pytest.raises(asyncio.CancelledError):
        await offer
    release.set()
    await blocked
    await until(lambda: not rt.media.has_peer("p_d1") or Seen(rt.media.offering),
                "the cancelled offer forgotten")


async def test_levels_reach_a_busy_room(parts: Any) -> None:
    registry, _ = parts
    rt, chair = await enter(registry, "chair")
    _, d1 = await enter(registry, "d1")
    await rt.offer("p_d1", d1, "v=0")
    await rt.command("p_chair", chair, c.FloorGive("p_d1"))  # d1's microphone is mixed
    release, blocked = await hold(rt)
    rt.levels({"p_d1": -90.0})  # silent...
    rt.levels({"p_d1": -5.0})  # ...then speaking: the newest report is the one applied
    assert not rt.room.participants["p_d1"].speaking
    release.set()
    await blocked
    await until(lambda: rt.room.participants["p_d1"].speaking, "the newest level applied")


async def test_timers_and_reports_run_in_the_task_in_order() -> None:
    ran: list[str] = []
    actor: Actor[list[str]] = Actor(
        ran, name="t", queue_size=1, clock=asyncio.get_running_loop().time,
        next_deadline=lambda state: None, tick=lambda state, now: state.append("tick"))
    actor.at("a", actor.clock() + 0.01, lambda state, now: state.append("timer a"))
    actor.at("b", actor.clock() + 0.01, lambda state, now: state.append("timer b"))
    actor.cancel("b")
    actor.notify("n", lambda state, now: state.append("old report"))
    actor.notify("n", lambda state, now: state.append("report"))
    actor.start()
    await until(lambda: "timer a" in ran, "the timer ran")
    assert ran[0] == "report" and "old report" not in ran and "timer b" not in ran
    assert await actor.call(lambda state, now: len(state)) >= 2
    await actor.call(lambda state, now: actor.stop())
    await actor.wait_closed()
    actor.notify("late", lambda state, now: state.append("late"))  # closed: ignored
    assert "late" not in ran


async def test_a_flooded_room_still_closes_at_shutdown(parts: Any) -> None:
    """Server shutdown reaches a room whose queue is full (it used to wait for ever)."""
    registry, _ = parts
    rt, d1 = await enter(registry, "d1")
    release, blocked = await hold(rt)
    closing = asyncio.ensure_future(registry.close())
    release.set()
    await blocked
    await until(closing.done, "the registry closed")
    assert rt.closing and d1.closed is not None and d1.closed[0] == 1001
