"""The Room actor shell (rooms/runtime.py) and the registry (rooms/registry.py) with the real
Room, driven through in-memory outlets. The engine and the peer factory are recording fakes:
here we check what the runtime asks of them (the real ones are in tests/integration)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from typing import Any

import pytest

from mirp.config import Settings
from mirp.errors import Forbidden, InvalidSdp, MirpError, NotFound, Unauthorized, Unavailable
from mirp.media.plan import FeedKey, MixPlan
from mirp.rooms import commands as c
from mirp.rooms.model import (
    AttendanceRecord,
    BoothSpec,
    JoinGrant,
    MeetingSpec,
    MeetingStatus,
    Record,
    RemovalRecord,
    Role,
)
from mirp.rooms.registry import RoomRegistry
from mirp.rooms.runtime import RoomRuntime


class Outlet:
    def __init__(self, name: str) -> None:
        self.id = f"s_{name}"
        self.messages: list[dict[str, Any]] = []
        self.closed: tuple[int, str] | None = None

    def send_json(self, text: str) -> None:
        if self.closed is None:
            self.messages.append(json.loads(text))

    def send(self, message: dict[str, Any]) -> None:
        self.send_json(json.dumps(message))

    def welcome(self, participant_id: str, room: dict[str, Any], seq: int, resumed: bool) -> None:
        self.send(
            {
                "type": "welcome",
                "participant_id": participant_id,
                "room": room,
                "seq": seq,
                "resumed": resumed,
            }
        )

    def close(
        self,
        code: int,
        reason: str,
        error: MirpError | None = None,
        msg_id: int | str | None = None,
    ) -> None:
        if self.closed is None:
            if error is not None:
                self.send({"type": "error", "code": error.code})
            self.closed = (code, reason)

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if m["type"] == kind]


class Engine:
    def __init__(self) -> None:
        self.plan = MixPlan.of()
        self.sources: dict[str, Any] = {}
        self.listeners: dict[str, FeedKey] = {}
        self.calls: list[tuple[str, ...]] = []
        self.on_levels: Any = None

    def add_source(self, source_id: str, receiver: Any, track: Any) -> None:
        self.sources[source_id] = track
        self.calls.append(("add_source", source_id))

    def remove_source(self, source_id: str) -> None:
        self.sources.pop(source_id, None)
        self.calls.append(("remove_source", source_id))

    def apply(self, plan: MixPlan) -> None:
        self.plan = plan

    def add_listener(self, listener_id: str, sender: Any, key: FeedKey) -> None:
        self.listeners[listener_id] = key
        self.calls.append(("add_listener", listener_id, str(key)))

    def switch(self, listener_id: str, key: FeedKey) -> None:
        assert listener_id in self.listeners
        self.listeners[listener_id] = key
        self.calls.append(("switch", listener_id, str(key)))

    def remove_listener(self, listener_id: str) -> None:
        self.listeners.pop(listener_id, None)
        self.calls.append(("remove_listener", listener_id))


class Peer:
    def __init__(self, peer_id: str) -> None:
        self.peer_id = peer_id
        self.sender: Any = None
        self.closed = False
        self.on_track: Any = None
        self.on_gone: Any = None
        self.candidates: list[Any] = []

    async def accept_offer(self, sdp: str) -> str:
        await asyncio.sleep(0)
        if sdp == "bad":
            raise InvalidSdp("no audio")
        self.sender = object()
        self.on_track("receiver", f"track-{self.peer_id}")  # the microphone arrives
        return f"answer-to-{sdp}"

    async def add_remote_candidate(self, candidate: Any) -> None:
        self.candidates.append(candidate)

    async def close(self) -> None:
        self.closed = True


class Peers:
    def __init__(self) -> None:
        self.created: list[Peer] = []

    def create_session(self, peer_id: str) -> Peer:
        peer = Peer(peer_id)
        self.created.append(peer)
        return peer


SPEC = MeetingSpec(
    id="m1",
    title="T",
    languages=("en", "fr"),
    status=MeetingStatus.OPEN,
    booths=(BoothSpec("fr", understands=frozenset({"en"})),),
)
GRANTS = {
    "chair": JoinGrant("m1", "p_chair", "Chair", Role.CHAIR),
    "d1": JoinGrant("m1", "p_d1", "D1", Role.DELEGATE),
    "d2": JoinGrant("m1", "p_d2", "D2", Role.DELEGATE),
    "fr1": JoinGrant("m1", "p_fr1", "FR1", Role.INTERPRETER, booth="fr"),
}


class Hooks:
    def __init__(self) -> None:
        self.batches: list[list[Record]] = []
        self.removed: set[str] = set()
        self.loads = 0

    async def authorize(self, token: str, meeting_id: str | None) -> JoinGrant:
        grant = GRANTS.get(token)
        if grant is None:
            raise Unauthorized("bad token")
        if meeting_id is not None and meeting_id != grant.meeting_id:
            raise Forbidden("another meeting")
        if grant.participant_id in self.removed:
            raise Forbidden("removed")
        return grant

    async def load_spec(self, meeting_id: str) -> MeetingSpec:
        self.loads += 1
        await asyncio.sleep(0.01)
        if meeting_id != "m1":
            raise NotFound("no meeting")
        return SPEC

    async def record(self, records: Sequence[Record]) -> None:
        self.batches.append(list(records))
        for r in records:
            if isinstance(r, RemovalRecord):
                self.removed.add(r.participant_id)


@pytest.fixture
async def parts() -> Any:
    engine, peers, hooks = Engine(), Peers(), Hooks()
    registry = RoomRegistry(
        settings=Settings(limits={"reconnect_grace_s": 0.3}),
        engine=engine,
        peers=peers,
        hooks=hooks,
        idle_close_s=60,
    )
    yield registry, engine, peers, hooks
    await registry.close()


async def join(
    registry: RoomRegistry, key: str, outlet: Outlet | None = None
) -> tuple[RoomRuntime, Outlet]:
    outlet = outlet or Outlet(key)
    grant = await registry.authorize(key)
    return await registry.join(grant, outlet), outlet


async def test_welcome_then_numbered_events_in_one_order(parts: Any) -> None:
    registry, *_ = parts
    rt, chair = await join(registry, "chair")
    _, d1 = await join(registry, "d1")
    _, d2 = await join(registry, "d2")
    await rt.command("p_d1", d1, c.FloorRequest())
    await rt.command("p_d2", d2, c.FloorRequest())
    await rt.command("p_chair", chair, c.FloorGive("p_d1"), {"type": "ack", "id": 5})
    for o in (chair, d1, d2):
        assert o.messages[0]["type"] == "welcome"
        seqs = [m["seq"] for m in o.messages[1:] if "seq" in m]
        assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    start = d2.messages[0]["seq"]
    assert [m for m in chair.of("floor") if m["seq"] > start] == [
        m for m in d2.of("floor") if m["seq"] > start
    ]
    # the ack precedes the events of its command
    ack = chair.messages.index({"type": "ack", "id": 5})
    assert chair.messages[ack + 1]["seq"] > chair.messages[ack - 1].get("seq", 0)
    assert chair.of("floor")[-1]["holders"] == ["p_d1"]


async def test_refused_command_raises_typed_error_and_changes_nothing(parts: Any) -> None:
    registry, *_ = parts
    rt, d1 = await join(registry, "d1")
    before = rt.seq
    with pytest.raises(Forbidden):
        await rt.command("p_d1", d1, c.FloorGive("p_d1"))
    assert rt.seq == before
    await rt.command("p_d1", d1, c.FloorRequest())  # the runtime goes on
    assert rt.seq > before


async def test_full_command_queue_is_unavailable(parts: Any) -> None:
    from mirp.rooms.room import Room

    _, engine, peers, _ = parts
    rt = RoomRuntime(Room(SPEC), engine=engine, peers=peers, recorder=Recorder(), queue_size=2)
    calls = [asyncio.ensure_future(rt.call(lambda room, now, i=i: i)) for i in range(5)]
    await asyncio.sleep(0.01)  # the task is not started: two wait in the queue
    refused = [f for f in calls if f.done() and isinstance(f.exception(), Unavailable)]
    assert len(refused) == 3
    rt.start()
    assert await asyncio.gather(*(f for f in calls if f not in refused)) == [0, 1]
    await rt.close()


class Recorder:
    def put(self, record: Record) -> None:
        pass


async def test_peer_media_follow_the_room(parts: Any) -> None:
    registry, engine, peers, _ = parts
    rt, chair = await join(registry, "chair")
    _, d1 = await join(registry, "d1")
    _, fr1 = await join(registry, "fr1")
    for pid, o in (("p_chair", chair), ("p_d1", d1), ("p_fr1", fr1)):
        assert await rt.offer(pid, o, "v=0 " + pid) == "answer-to-v=0 " + pid
    assert set(engine.sources) == {"p_chair", "p_d1", "p_fr1"}  # every microphone is drained
    assert engine.plan.sources() == frozenset()  # ... and none is mixed yet
    assert engine.listeners["p_d1"] == FeedKey("m1/floor")
    await rt.command("p_chair", chair, c.FloorGive("p_d1"))
    assert engine.plan.sources() == {"p_d1"}
    assert engine.listeners["p_d1"] == FeedKey("m1/floor", minus="p_d1")  # mix-minus
    await rt.command("p_d1", d1, c.Subscribe("fr", None))
    await rt.command("p_fr1", fr1, c.OnAir(True))
    assert engine.listeners["p_d1"] == FeedKey("m1/fr")
    assert engine.plan.sources() == {"p_d1", "p_fr1"}
    # a bad offer: typed error, nothing left behind
    with pytest.raises(InvalidSdp):
        await rt.offer("p_d1", d1, "bad")
    assert "p_d1" not in engine.sources and "p_d1" not in engine.listeners
    assert peers.created[-1].closed
    # a good one again, then the peer vanishes: released, the client told to make a new one
    rt.reoffer_s = 0.05
    await rt.offer("p_d1", d1, "again")
    assert "p_d1" in engine.sources
    peers.created[-1].on_gone("timeout")
    assert "p_d1" not in engine.sources and "p_d1" not in engine.listeners
    assert d1.of("peer_closed") == [{"type": "peer_closed", "reason": "timeout"}]
    await rt.offer("p_d1", d1, "renewed")  # it does: the Session goes on
    await asyncio.sleep(0.1)
    assert d1.closed is None and "p_d1" in engine.sources
    peers.created[-1].on_gone("failed")  # this time no new offer comes: closed with 1001
    await asyncio.sleep(0.1)
    assert d1.closed is not None and d1.closed[0] == 1001
    # the session ends: everything of that participant is released
    await rt.leave_session("p_fr1", fr1)
    assert "p_fr1" not in engine.sources and "p_fr1" not in engine.listeners
    assert all(p.closed for p in peers.created if p.peer_id == "p_fr1")


async def test_reconnect_replaces_session_and_grace_keeps_the_floor(parts: Any) -> None:
    registry, *_ = parts
    rt, chair = await join(registry, "chair")
    _, d1 = await join(registry, "d1")
    await rt.command("p_chair", chair, c.FloorGive("p_d1"))
    _, d1b = await join(registry, "d1", Outlet("d1b"))
    assert d1.closed is not None and d1.closed[0] == 4409
    assert d1b.messages[0]["room"]["floor"]["holders"] == ["p_d1"]
    await rt.leave_session("p_d1", d1)  # the old session's end changes nothing
    assert chair.of("floor")[-1]["holders"] == ["p_d1"]
    await rt.leave_session("p_d1", d1b)  # lost; the tick drops them after the grace (0.3 s)
    for _ in range(100):
        if chair.of("participant_left"):
            break
        await asyncio.sleep(0.02)
    assert chair.of("participant_left")[-1]["participant_id"] == "p_d1"
    assert chair.of("floor")[-1]["holders"] == []


async def test_removal_closes_bars_and_records(parts: Any) -> None:
    registry, _, _, hooks = parts
    rt, chair = await join(registry, "chair")
    _, d2 = await join(registry, "d2")
    await rt.command("p_chair", chair, c.ParticipantRemove("p_d2"))
    assert d2.of("removed") and d2.closed == (4403, "removed from the meeting")
    with pytest.raises(Forbidden):
        await join(registry, "d2")
    await registry.recorder.flush()
    records = [r for batch in hooks.batches for r in batch]
    assert any(isinstance(r, RemovalRecord) and r.participant_id == "p_d2" for r in records)
    assert any(isinstance(r, AttendanceRecord) and r.kind == "join" for r in records)


async def test_registry_opens_once_routes_and_closes(parts: Any) -> None:
    registry, _, _, hooks = parts
    outs = [Outlet(k) for k in ("chair", "d1", "d2", "fr1")]
    grants = [await registry.authorize(k) for k in ("chair", "d1", "d2", "fr1")]
    runtimes = await asyncio.gather(
        *(registry.join(g, o) for g, o in zip(grants, outs, strict=True))
    )
    assert len({id(r) for r in runtimes}) == 1 and hooks.loads == 1
    view = registry.overview("m1")
    assert view is not None and view["sessions"] == 4 and view["connected"] == 4
    assert registry.overview("other") is None
    with pytest.raises(Forbidden):
        await registry.authorize("d1", "other")
    with pytest.raises(Unauthorized):
        await registry.authorize("nobody")
    # idle: every session gone, the room closes by itself and records the leaves
    rt = runtimes[0]
    for g, o in zip(grants, outs, strict=True):
        await rt.leave_session(g.participant_id, o)
    rt.idle_close_s = 0.0
    rt.submit_nowait(lambda room, now: None)
    for _ in range(200):
        if registry.overview("m1") is None:
            break
        await asyncio.sleep(0.02)
    assert registry.overview("m1") is None
    await registry.recorder.flush()
    leaves = [
        r for b in hooks.batches for r in b if isinstance(r, AttendanceRecord) and r.kind == "leave"
    ]
    assert {r.participant_id for r in leaves} == {g.participant_id for g in grants}
    # a new join opens a fresh room
    rt2, _ = await join(registry, "d1")
    assert rt2 is not rt and hooks.loads == 2
    await registry.close()
    await registry.close()  # idempotent
    assert registry.overview("m1") is None
