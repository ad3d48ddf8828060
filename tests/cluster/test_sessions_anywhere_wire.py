"""Sessions anywhere as a client sees them: signaling's real SessionHandler and Session (over an
in-memory socket, tests/signaling/test_session.py) on the origin and on the edge, with the doors
of tests/cluster/test_sessions_anywhere.py (Local and Redis). The client cannot tell where it
landed: the same welcome, the same error for the same refused command, the same acks."""

from __future__ import annotations

import asyncio
import json
from functools import partial
from typing import Any

from mirp.config import Limits
from mirp.rooms.placement import ClusterDoor
from mirp.signaling.handlers import SessionHandler
from mirp.signaling.session import Session
from tests.cluster.test_sessions_anywhere import Node
from tests.cluster.test_sessions_anywhere import nodes as nodes  # the fixture
from tests.signaling.test_session import MemorySocket
from tests.support.wait import Seen, until

LIMITS = Limits(reconnect_grace_s=30.0)


async def connect(door: ClusterDoor, token: str) -> tuple[MemorySocket, asyncio.Task[None]]:
    socket = MemorySocket()
    task = asyncio.create_task(SessionHandler(Session(socket, LIMITS), door, "m1").serve())
    socket.incoming.put_nowait(json.dumps({"type": "hello", "id": 1, "token": token}))
    await until(lambda: [m for m in socket.sent if m["type"] == "welcome"]
                or Seen(socket.sent), f"{token}'s welcome")
    return socket, task


def replies(socket: MemorySocket, msg_id: int) -> list[dict[str, Any]]:
    return [m for m in socket.sent if m.get("id") == msg_id]


async def test_a_client_cannot_tell_the_edge_from_the_origin(
        nodes: tuple[Node, Node]) -> None:
    origin, edge = nodes
    chair, chair_task = await connect(origin.door, "chair")
    here, here_task = await connect(origin.door, "d1")
    there, there_task = await connect(edge.door, "d2")
    welcomes = [next(m for m in s.sent if m["type"] == "welcome") for s in (here, there)]
    assert welcomes[0].keys() == welcomes[1].keys()
    assert welcomes[0]["room"].keys() == welcomes[1]["room"].keys()
    for s in (here, there):  # a delegate may not give the floor: refused alike
        s.incoming.put_nowait(json.dumps({"type": "floor_give", "id": 5,
                                          "participant_id": "p_d1"}))
        s.incoming.put_nowait(json.dumps({"type": "floor_request", "id": 6}))
    def acked(s: MemorySocket) -> Any:
        return replies(s, 6) or Seen(s.sent)

    for s in (here, there):
        await until(partial(acked, s), "the floor request acked")
    assert replies(here, 5) == replies(there, 5)
    assert replies(here, 5)[0]["type"] == "error" and replies(here, 5)[0]["code"] == "forbidden"
    assert replies(here, 6) == replies(there, 6) == [{"type": "ack", "id": 6}]
    there.incoming.put_nowait(json.dumps({"type": "offer", "id": 7, "sdp": "v=0"}))
    await until(lambda: replies(there, 7) or Seen(there.sent), "the offer answered")
    assert replies(there, 7)[0]["code"] == "unavailable"

    def speakers(s: MemorySocket) -> list[str]:
        floors = [m for m in s.sent if m["type"] == "floor"]
        return [e["participant_id"] for e in floors[-1]["speakers"]] if floors else []

    def both(s: MemorySocket) -> Any:
        return len(speakers(s)) == 2 or Seen(speakers(s))

    for s in (chair, here, there):  # one order everywhere (who asked first differs per run)
        await until(partial(both, s), "two speakers")
    assert speakers(chair) == speakers(here) == speakers(there)
    participants = origin.registry.rooms["m1"].room.participants
    there.incoming.put_nowait(None)  # the edge's client hangs up: the origin hears of it
    await asyncio.wait_for(there_task, 10)
    await until(lambda: not participants["p_d2"].connected or Seen(participants["p_d2"]),
                "d2 disconnected at the origin")
    for s, task in ((here, here_task), (chair, chair_task)):
        s.incoming.put_nowait(None)
        await asyncio.wait_for(task, 10)
