"""Decisions made outside a room (REST today, a cluster Bus later) reach it through the
registry's plain-data methods: revoke an invitation, meeting deleted, meeting status. The real
Room and RoomRuntime, with the recording fakes of test_runtime.py."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

import pytest

from mirp.config import Limits, Settings
from mirp.errors import Conflict, Forbidden
from mirp.rooms import commands as c
from mirp.rooms.model import LifecycleRecord, MeetingSpec
from mirp.rooms.registry import RoomRegistry
from mirp.rooms.runtime import RoomRuntime
from tests.rooms.test_runtime import GRANTS, FakeSession, Plane, Store
from tests.rooms.test_runtime_actor import hold
from tests.support.wait import until

# d1 and d2 joined through the same open link; the chair through its own invitation
LINKED = {k: replace(g, invitation_id="i_link" if k in ("d1", "d2") else f"i_{k}")
          for k, g in GRANTS.items()}


class LinkStore(Store):
    def __init__(self) -> None:
        super().__init__()
        self.spec_delay = 0.01

    async def authorize(self, token: str, meeting_id: str | None) -> Any:
        await super().authorize(token, meeting_id)
        return LINKED[token]

    async def load_spec(self, meeting_id: str) -> MeetingSpec:
        spec = await super().load_spec(meeting_id)
        await asyncio.sleep(self.spec_delay)  # a slow database
        # as the store does: the removals it committed are in the spec
        return replace(spec, removed_participants=frozenset(self.removed))


@pytest.fixture
async def parts() -> Any:
    store = LinkStore()
    registry = RoomRegistry(settings=Settings(limits=Limits(reconnect_grace_s=30.0)),
                            media=Plane(), store=store, idle_close_s=60)
    yield registry, store
    await registry.close()


async def enter(registry: RoomRegistry, key: str) -> tuple[RoomRuntime, FakeSession]:
    session = FakeSession(key)
    return await registry.join(await registry.authorize(key), session), session


async def test_revoke_expels_everyone_of_that_invitation(parts: Any) -> None:
    registry, _ = parts
    rt, chair = await enter(registry, "chair")
    _, d1 = await enter(registry, "d1")
    _, d2 = await enter(registry, "d2")
    await rt.command("p_d1", d1, c.FloorRequest())
    await rt.leave_session("p_d2", d2)  # d2 is within its grace period: expelled all the same
    gone = await registry.revoke_invitation("m1", "i_link")
    assert sorted(gone) == ["p_d1", "p_d2"]
    assert d1.closed is not None and d1.closed[0] == 4403
    assert d1.of("error") == [{"type": "error", "code": "forbidden"}]
    assert chair.closed is None
    assert {m["participant_id"] for m in chair.of("participant_left")} == {"p_d1", "p_d2"}
    assert chair.of("floor")[-1]["speakers"] == []
    with pytest.raises(Conflict):  # the session is no longer the room's: nothing is acted on
        await rt.command("p_d1", d1, c.FloorRequest())
    assert await registry.revoke_invitation("m1", "i_link") == []  # idempotent
    assert await registry.revoke_invitation("no-room", "i_link") == []


async def test_deleted_meeting_closes_every_session_and_the_room(parts: Any) -> None:
    registry, _ = parts
    _, chair = await enter(registry, "chair")
    _, d1 = await enter(registry, "d1")
    await registry.meeting_deleted("m1")
    assert chair.closed is not None and d1.closed is not None
    assert {chair.closed[0], d1.closed[0]} == {4404}
    assert d1.of("error") == [{"type": "error", "code": "not_found"}]
    assert registry.get("m1") is None


async def test_status_closed_is_the_chairs_close_and_open_is_followed(parts: Any) -> None:
    registry, store = parts
    _, chair = await enter(registry, "chair")
    _, d1 = await enter(registry, "d1")
    await registry.meeting_status("m1", "open")  # already open: nothing happens
    assert not chair.of("meeting")
    await registry.meeting_status("m1", "closed", by="organizer")
    assert chair.closed == (4410, "the meeting is closed") and d1.closed == chair.closed
    assert chair.of("meeting")[-1]["closed"] is True
    await registry.recorder.flush()
    kinds = [r.kind for b in store.batches for r in b if isinstance(r, LifecycleRecord)]
    assert kinds == ["closed"]
    with pytest.raises(ValueError):
        await registry.meeting_status("m1", "nonsense")


async def test_a_room_being_opened_is_waited_for(parts: Any) -> None:
    """The room read the database before the decision: it is told once it is open."""
    registry, store = parts
    store.spec_delay = 0.2
    joining = asyncio.ensure_future(enter(registry, "d1"))
    await until(lambda: store.loads == 1, "the room opening (loading its spec)")
    assert registry.get("m1") is None
    decided = asyncio.ensure_future(registry.meeting_status("m1", "closed"))
    _, d1 = await joining
    await decided
    assert d1.closed is not None and d1.closed[0] == 4410


async def test_a_busy_room_still_gets_the_decision(parts: Any) -> None:
    """A decision REST committed reaches a room whose command queue is full: it waits for the
    room's task instead of being refused (it used to be retried for ~1 s, then dropped)."""
    registry, _ = parts
    rt, d1 = await enter(registry, "d1")
    release, blocked = await hold(rt)
    decided = asyncio.ensure_future(registry.revoke_invitation("m1", "i_link"))
    await until(lambda: rt.actor.reports, "the decision waiting for the room")
    assert not decided.done()
    release.set()
    await blocked
    assert await decided == ["p_d1"]
    assert d1.closed is not None and d1.closed[0] == 4403


async def test_interpreters_of_a_removed_booth_leave(parts: Any) -> None:
    registry, _ = parts
    _, chair = await enter(registry, "chair")
    _, fr1 = await enter(registry, "fr1")
    assert await registry.booths_changed("m1", ["fr"]) == []  # fr stays: nothing happens
    assert await registry.booths_changed("m1", []) == ["p_fr1"]
    assert fr1.closed is not None and fr1.closed[0] == 4403
    assert chair.closed is None
    assert chair.of("participant_left")[-1]["participant_id"] == "p_fr1"


async def test_a_removal_has_one_home_the_store(parts: Any) -> None:
    """The registry keeps no list of removals of its own: once the room is closed, the store
    refuses the removed participant's token, and a room opened again learns the removal from
    the spec the store gives it (its Roster), refusing even a grant admitted before."""
    registry, store = parts
    rt, chair = await enter(registry, "chair")
    await enter(registry, "d2")
    early = await registry.authorize("d2")  # admitted before the removal
    await rt.command("p_chair", chair, c.ParticipantRemove("p_d2"))
    assert store.removed == {"p_d2"}  # committed before the ack
    await rt.close()
    assert registry.get("m1") is None
    with pytest.raises(Forbidden):
        await registry.authorize("d2")
    with pytest.raises(Forbidden) as info:
        await registry.join(early, FakeSession("d2 again"))
    assert info.value.details["reason"] == "removed"
    reopened = registry.get("m1")
    assert reopened is not None and reopened.room.removed == {"p_d2"}
