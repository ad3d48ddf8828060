"""The Room actor shell (rooms/runtime.py) and the registry (rooms/registry.py) with the real
Room, driven through in-memory fake Sessions. The media plane is a recording fake: we check what
the runtime asks of it (the real ones are in tests/media and tests/integration)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Sequence
from typing import Any

import pytest

from mirp.config import Limits, Settings
from mirp.errors import (
    Conflict,
    Forbidden,
    InvalidSdp,
    MirpError,
    NotFound,
    Unauthorized,
    Unavailable,
)
from mirp.media.plan import FeedKey, MixPlan
from mirp.media.plane import EventCallback, PeerGone, PlaneStats
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
from mirp.rooms.room import Room
from mirp.rooms.runtime import RoomRuntime
from tests.support.wait import until


class FakeSession:
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


class Plane:
    """A recording MediaPlane: peers, sources and listeners as the real plane would hold them
    (the microphone arrives with the answer); `gone()` plays a peer vanishing."""

    def __init__(self) -> None:
        self.plan = MixPlan.of()
        self.peers: dict[str, int] = {}  # peer id -> generation
        self.sources: set[str] = set()
        self.listeners: dict[str, FeedKey] = {}
        self.candidates: list[tuple[str, Any]] = []
        self.closed_peers: list[str] = []
        self.on_event: EventCallback | None = None
        self.generation = 0
        self.release = asyncio.Event()  # an offer of "slow" waits for it

    async def start(self) -> None:
        pass

    async def close(self) -> None:
        pass

    async def offer(self, peer_id: str, sdp: str) -> str:
        self._release(peer_id)
        self.generation += 1
        self.peers[peer_id] = self.generation
        await asyncio.sleep(0)
        if sdp == "slow":
            await self.release.wait()
        if sdp == "bad":
            self._release(peer_id)
            raise InvalidSdp("no audio")
        self.sources.add(peer_id)
        return f"answer-to-{sdp}"

    async def candidate(self, peer_id: str, candidate: Any) -> None:
        if peer_id not in self.peers:
            raise NotFound("no such peer")
        self.candidates.append((peer_id, candidate))

    def _release(self, peer_id: str) -> None:
        self.peers.pop(peer_id, None)
        self.sources.discard(peer_id)
        self.listeners.pop(peer_id, None)

    def close_peer(self, peer_id: str) -> None:
        self.closed_peers.append(peer_id)
        self._release(peer_id)

    def apply(self, plan: MixPlan) -> None:
        self.plan = plan

    def listen(self, peer_id: str, key: FeedKey) -> None:
        if peer_id in self.peers:
            self.listeners[peer_id] = key

    def unlisten(self, peer_id: str) -> None:
        self.listeners.pop(peer_id, None)

    async def stats(self) -> PlaneStats:
        raise NotImplementedError

    def gone(self, peer_id: str, reason: str) -> None:
        generation = self.peers[peer_id]
        self._release(peer_id)
        assert self.on_event is not None
        self.on_event(PeerGone(peer_id, generation, reason))


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


class Store:
    """The store as the rooms see it (registry.RoomStore): grants by token, one spec, and
    the records it was given (a RemovalRecord bars that participant, as the database does)."""

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
    plane, store = Plane(), Store()
    registry = RoomRegistry(
        settings=Settings(limits=Limits(reconnect_grace_s=0.3)),
        media=plane,
        store=store,
        idle_close_s=60,
    )
    yield registry, plane, store
    await registry.close()


async def join(
    registry: RoomRegistry, key: str, session: FakeSession | None = None
) -> tuple[RoomRuntime, FakeSession]:
    session = session or FakeSession(key)
    grant = await registry.authorize(key)
    return await registry.join(grant, session), session


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
    registry, *_ = parts
    rt = RoomRuntime(Room(SPEC), plane=registry.shared.scope("m1"), recorder=Recorder(),
                     queue_size=2)
    def job(i: int) -> Callable[[Room, float], int]:
        return lambda room, now: i

    calls = [asyncio.ensure_future(rt.call(job(i))) for i in range(5)]
    # the task is not started: two wait in the queue, three are refused at once
    refused = await until(lambda: [f for f in calls if f.done()], "three refusals")
    assert len(refused) == 3 and all(isinstance(f.exception(), Unavailable) for f in refused)
    rt.start()
    assert await asyncio.gather(*(f for f in calls if f not in refused)) == [0, 1]
    await rt.close()


class Recorder:
    def put(self, record: Record) -> None:
        pass


async def test_peer_media_follow_the_room(parts: Any) -> None:
    registry, plane, _ = parts
    rt, chair = await join(registry, "chair")
    _, d1 = await join(registry, "d1")
    _, fr1 = await join(registry, "fr1")
    for pid, o in (("p_chair", chair), ("p_d1", d1), ("p_fr1", fr1)):
        assert await rt.offer(pid, o, "v=0 " + pid) == "answer-to-v=0 " + pid
    assert plane.sources == {"p_chair", "p_d1", "p_fr1"}  # every microphone is drained
    assert plane.plan.sources() == frozenset()  # ... and none is mixed yet
    assert plane.listeners["p_d1"] == FeedKey("m1/floor")
    await rt.command("p_chair", chair, c.FloorGive("p_d1"))
    assert plane.plan.sources() == {"p_d1"}
    assert plane.listeners["p_d1"] == FeedKey("m1/floor", minus="p_d1")  # mix-minus
    await rt.command("p_d1", d1, c.Subscribe("fr", None))
    await rt.command("p_fr1", fr1, c.OnAir(True))
    assert plane.listeners["p_d1"] == FeedKey("m1/fr")
    assert plane.plan.sources() == {"p_d1", "p_fr1"}
    # a bad offer: typed error, nothing left behind
    with pytest.raises(InvalidSdp):
        await rt.offer("p_d1", d1, "bad")
    assert "p_d1" not in plane.peers and "p_d1" not in plane.listeners
    assert not rt.media.has_peer("p_d1")
    # a good one again, then the peer vanishes: released, the client told to make a new one
    rt.peers.reoffer_s = 30.0
    await rt.offer("p_d1", d1, "again")
    assert "p_d1" in plane.sources and plane.listeners["p_d1"] == FeedKey("m1/fr")
    plane.gone("p_d1", "timeout")
    await until(lambda: d1.of("peer_closed"), "peer_closed")
    assert d1.of("peer_closed") == [{"type": "peer_closed", "reason": "timeout"}]
    assert not rt.media.has_peer("p_d1") and "p_d1" not in rt.media.feed_of
    await rt.offer("p_d1", d1, "renewed")  # it does: the Session goes on
    assert plane.listeners["p_d1"] == FeedKey("m1/fr")  # told again what to hear
    assert rt.actor.timer(("reoffer", "p_d1")) is None  # the re-offer deadline is withdrawn
    assert d1.closed is None and "p_d1" in plane.sources
    rt.peers.reoffer_s = 0.05
    plane.gone("p_d1", "failed")  # this time no new offer comes: closed with 1001
    await until(lambda: d1.closed is not None, "d1 closed")
    assert d1.closed is not None and d1.closed[0] == 1001
    # a late candidate of a peer already gone is harmless; a live peer's reaches the plane
    await rt.candidate("p_d1", {"candidate": ""})
    await rt.candidate("p_fr1", None)
    assert plane.candidates == [("p_fr1", None)]
    # the session ends: everything of that participant is released
    await rt.leave_session("p_fr1", fr1)
    assert "p_fr1" not in plane.peers and "p_fr1" not in plane.listeners
    assert "p_fr1" in plane.closed_peers


async def test_a_stale_offer_never_revives_a_detached_peer(parts: Any) -> None:
    """A session replaced while its offer is in the media plane: the answer comes back, but the
    peer is closed and the offer refused (the plane is not left holding an orphan)."""
    registry, plane, _ = parts
    rt, d1 = await join(registry, "d1")
    slow = asyncio.ensure_future(rt.offer("p_d1", d1, "slow"))
    await until(lambda: "p_d1" in plane.peers, "offer in the plane")
    await join(registry, "d1", FakeSession("d1b"))  # the replacement detaches the peer
    plane.release.set()  # the answer comes back after that
    with pytest.raises(Conflict):
        await slow
    assert "p_d1" not in plane.peers and not rt.media.has_peer("p_d1")


async def test_reconnect_replaces_session_and_grace_keeps_the_floor(parts: Any) -> None:
    registry, *_ = parts
    rt, chair = await join(registry, "chair")
    _, d1 = await join(registry, "d1")
    await rt.command("p_chair", chair, c.FloorGive("p_d1"))
    _, d1b = await join(registry, "d1", FakeSession("d1b"))
    assert d1.closed is not None and d1.closed[0] == 4409
    assert d1b.messages[0]["room"]["floor"]["holders"] == ["p_d1"]
    await rt.leave_session("p_d1", d1)  # the old session's end changes nothing
    assert chair.of("floor")[-1]["holders"] == ["p_d1"]
    await rt.leave_session("p_d1", d1b)  # lost; the tick drops them after the grace (0.3 s)
    await until(lambda: chair.of("participant_left"), "participant_left")
    assert chair.of("participant_left")[-1]["participant_id"] == "p_d1"
    assert chair.of("floor")[-1]["holders"] == []


async def test_removal_closes_bars_and_records(parts: Any) -> None:
    registry, _, store = parts
    rt, chair = await join(registry, "chair")
    _, d2 = await join(registry, "d2")
    await rt.command("p_chair", chair, c.ParticipantRemove("p_d2"))
    assert d2.of("removed") and d2.closed == (4403, "removed from the meeting")
    with pytest.raises(Forbidden):
        await join(registry, "d2")
    await registry.recorder.flush()
    records = [r for batch in store.batches for r in batch]
    assert any(isinstance(r, RemovalRecord) and r.participant_id == "p_d2" for r in records)
    assert any(isinstance(r, AttendanceRecord) and r.kind == "join" for r in records)


async def test_registry_opens_once_routes_and_closes(parts: Any) -> None:
    registry, _, store = parts
    outs = [FakeSession(k) for k in ("chair", "d1", "d2", "fr1")]
    grants = [await registry.authorize(k) for k in ("chair", "d1", "d2", "fr1")]
    runtimes = await asyncio.gather(
        *(registry.join(g, o) for g, o in zip(grants, outs, strict=True))
    )
    assert len({id(r) for r in runtimes}) == 1 and store.loads == 1
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
    await until(lambda: registry.overview("m1") is None, "the idle room closed")
    await registry.recorder.flush()
    leaves = [
        r for b in store.batches for r in b if isinstance(r, AttendanceRecord) and r.kind == "leave"
    ]
    assert {r.participant_id for r in leaves} == {g.participant_id for g in grants}
    # a new join opens a fresh room
    rt2, _ = await join(registry, "d1")
    assert rt2 is not rt and store.loads == 2
    await registry.close()
    await registry.close()  # idempotent
    assert registry.overview("m1") is None
