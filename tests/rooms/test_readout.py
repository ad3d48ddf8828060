"""The rooms' read-out for /metrics (RoomRegistry.readout): a flooded room shows its queue depth
and its refusals, and the counts of a room outlive it (counters never go down)."""

from __future__ import annotations

from typing import Any

from mirp.rooms.registry import RoomRegistry
from tests.rooms.test_runtime_actor import QUEUE, enter, hold, parts  # noqa: F401
from tests.support.wait import Seen, until


async def test_a_flooded_room_shows_its_depth_and_refusals(parts: Any) -> None:  # noqa: F811
    registry: RoomRegistry = parts[0]
    empty = registry.readout()
    assert (empty.rooms, empty.sessions, empty.queue_depth_max) == (0, 0, 0)
    rt, _ = await enter(registry, "d1")
    await enter(registry, "chair")
    joined = registry.readout()
    assert (joined.rooms, joined.sessions) == (1, 2)
    assert sum(joined.listeners.values()) == 2 and "floor" in joined.listeners
    release, blocked = await hold(rt)  # the task held in a job, the queue full
    try:
        flooded = registry.readout()
    finally:
        release.set()
        await blocked
    assert flooded.queue_depth_max == flooded.queue_depth_sum == QUEUE
    # refused: the job submit_nowait could not queue, and the call that met a full queue
    assert flooded.commands_refused == joined.commands_refused + 2

    def drained() -> object:
        now = registry.readout()
        return now.queue_depth_sum == 0 or Seen(now)

    await until(drained, "the queue drained")
    before_close = registry.readout()
    assert before_close.commands_handled >= joined.commands_handled + QUEUE + 1
    await rt.close()
    await until(lambda: not registry.rooms or Seen(list(registry.rooms)), "the room closed")
    closed = registry.readout()
    assert closed.rooms == 0 and closed.sessions == 0 and closed.listeners == {}
    assert closed.commands_handled >= before_close.commands_handled  # kept after the room
    assert closed.commands_refused == before_close.commands_refused
