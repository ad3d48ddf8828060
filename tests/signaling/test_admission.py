"""Admission under a storm (signaling/admission.py and SessionHandler._hello), in memory: the gate
bounds and orders handshakes, one per participant; the hello timer stops when the hello arrives;
failures worth retrying close with 1013; the per-address offer limit; the heartbeat of a busy
room. The same behaviours against a real server process: tests/integration/test_admission.py."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from mirp.config import Limits, Settings
from mirp.errors import Unavailable
from mirp.ratelimit import TokenBuckets
from mirp.rooms.model import JoinGrant
from mirp.rooms.registry import RoomRegistry
from mirp.signaling.admission import AdmissionControl, AdmissionGate, admission_slots
from mirp.signaling.handlers import SessionHandler
from mirp.signaling.session import Session
from tests.rooms.test_runtime import Plane, Store
from tests.signaling.test_session import MemorySocket
from tests.support.wait import until


async def test_the_gate_admits_in_arrival_order_and_never_more_than_its_slots() -> None:
    gate = AdmissionGate(slots=2, max_waiting=100, wait_s=10.0)
    order: list[int] = []
    peak = 0
    release = asyncio.Event()

    async def hello(i: int) -> None:
        nonlocal peak
        async with gate.admit(f"token{i}"):
            order.append(i)
            peak = max(peak, gate.in_flight)
            await release.wait()

    tasks = []
    for i in range(10):
        tasks.append(asyncio.create_task(hello(i)))
        # they arrive in this order: each holds a slot or waits before the next starts
        await until(lambda: gate.in_flight + gate.waiting == len(tasks), f"hello {i} arrived")
    await until(lambda: gate.waiting == 8, "8 waiting")
    assert order == [0, 1]
    release.set()
    await asyncio.wait_for(asyncio.gather(*tasks), 5)
    assert order == list(range(10)) and peak == 2
    assert gate.in_flight == 0 and not gate._keys


async def test_one_handshake_per_participant_the_second_waits_without_a_slot() -> None:
    gate = AdmissionGate(slots=2, max_waiting=100, wait_s=10.0)
    first_in = asyncio.Event()
    release = asyncio.Event()
    seen: list[str] = []

    async def hello(name: str, token: str) -> None:
        async with gate.admit(token):
            seen.append(name)
            first_in.set()
            await release.wait()

    a = asyncio.create_task(hello("a1", "same"))
    await first_in.wait()
    b = asyncio.create_task(hello("a2", "same"))  # the same participant again (a second tab)
    c = asyncio.create_task(hello("c", "other"))  # takes the free slot: a2 holds none
    await until(lambda: "c" in seen, "the other participant admitted")
    assert seen == ["a1", "c"] and gate.in_flight == 2
    release.set()
    await asyncio.wait_for(asyncio.gather(a, b, c), 5)
    assert seen == ["a1", "c", "a2"] and not gate._keys


async def test_a_full_queue_or_a_long_wait_is_refused_and_gives_its_place_back() -> None:
    gate = AdmissionGate(slots=1, max_waiting=2, wait_s=0.2)
    hold = asyncio.Event()

    async def hello(token: str) -> None:
        async with gate.admit(token):
            await hold.wait()

    holder = asyncio.create_task(hello("t0"))
    await until(lambda: gate.in_flight == 1, "t0 admitted")
    waiters = [asyncio.create_task(hello(f"t{i}")) for i in (1, 2)]
    await until(lambda: gate.waiting == 2, "2 waiting")
    with pytest.raises(Unavailable) as full:
        await hello("t3")
    assert full.value.details["reason"] == "queue full" and full.value.ws_close == 1013
    for w in waiters:  # they waited past wait_s
        with pytest.raises(Unavailable) as late:
            await w
        assert late.value.details["reason"] == "waited too long"
    assert gate.waiting == 0
    hold.set()
    await holder
    async with gate.admit("t4"):  # the slot came back
        assert gate.in_flight == 1
    assert gate.in_flight == 0 and not gate._keys


async def test_a_cancelled_waiter_gives_its_place_back() -> None:
    gate = AdmissionGate(slots=1, max_waiting=10, wait_s=10.0)
    hold = asyncio.Event()

    async def hello(token: str) -> None:
        async with gate.admit(token):
            await hold.wait()

    holder = asyncio.create_task(hello("a"))
    await until(lambda: gate.in_flight == 1, "a admitted")
    gone = asyncio.create_task(hello("b"))  # its client hangs up while it waits
    await until(lambda: gate.waiting == 1, "b waiting")
    gone.cancel()
    await asyncio.gather(gone, return_exceptions=True)
    assert gate.waiting == 0
    hold.set()
    await holder
    assert gate.in_flight == 0 and not gate._keys


def test_slots_come_from_the_limits_or_sit_below_the_database_pool() -> None:
    assert admission_slots(Settings(limits=Limits(admission_slots=7))) == 7
    settings = Settings()
    derived = admission_slots(settings)
    assert 1 <= derived < settings.db_pool_size  # a connection is left to REST


def test_the_address_limiter_refuses_beyond_its_burst_and_says_how_long_to_wait() -> None:
    limiter = TokenBuckets(rate=1.0, burst=3)
    assert [limiter.take("10.0.0.1") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.take("10.0.0.1") > 0.0
    assert limiter.take("10.0.0.2") == 0.0  # another address has its own bucket


# ------------------------------------------------------------------ through a SessionHandler

class SlowHooks(Store):
    """Authorization that takes `delay_s` (a database under a storm), or fails like one away."""

    def __init__(self, delay_s: float = 0.0, fail: bool = False) -> None:
        super().__init__()
        self.delay_s = delay_s
        self.fail = fail

    async def authorize(self, token: str, meeting_id: str | None) -> JoinGrant:
        await asyncio.sleep(self.delay_s)
        if self.fail:
            raise ConnectionRefusedError("database unreachable")
        return await super().authorize(token, meeting_id)


def registry_with(hooks: Store, limits: Limits) -> RoomRegistry:
    return RoomRegistry(settings=Settings(limits=limits), media=Plane(),
                        store=hooks)


async def test_the_hello_timer_stops_when_the_hello_arrives_not_when_it_is_authorized() -> None:
    """Old code: the timer ran until authorization finished, so a slow database closed a
    client that had said hello in time with 4401 (final). Now it is welcomed."""
    limits = Limits()
    registry = registry_with(SlowHooks(delay_s=0.5), limits)
    t = MemorySocket()
    conn = SessionHandler(Session(t, limits), registry, hello_timeout_s=0.2)
    task = asyncio.create_task(conn.serve())
    t.incoming.put_nowait(json.dumps({"type": "hello", "id": 1, "token": "d1"}))
    await until(lambda: t.sent or t.closed, "welcome or close")
    assert t.closed is None and t.sent[0]["type"] == "welcome", (t.closed, t.sent)
    t.incoming.put_nowait(None)
    await asyncio.wait_for(task, 5)
    await registry.close()


@pytest.mark.parametrize("why", ["database away", "authorization stalled"])
async def test_a_hello_that_fails_for_a_passing_reason_closes_with_1013(why: str) -> None:
    limits = Limits(authorize_timeout_s=0.2)
    hooks = SlowHooks(fail=True) if why == "database away" else SlowHooks(delay_s=5.0)
    registry = registry_with(hooks, limits)
    t = MemorySocket()
    control = AdmissionControl(Settings(limits=limits))
    conn = SessionHandler(Session(t, limits), registry, admission=control)
    task = asyncio.create_task(conn.serve())
    t.incoming.put_nowait(json.dumps({"type": "hello", "id": 1, "token": "d1"}))
    await asyncio.wait_for(task, 5)
    assert t.closed is not None and t.closed[0] == Unavailable.ws_close == 1013
    error: dict[str, Any] = t.sent[-1]
    assert error["code"] == "unavailable" and error["fatal"] and error["details"]["retry_after_s"]
    assert conn.admission.gate.in_flight == 0  # the slot came back
    await registry.close()


async def test_offers_from_one_address_beyond_its_limit_get_rate_limited() -> None:
    limits = Limits(offers_per_ip_per_s=0.01, offers_per_ip_burst=3)
    registry = registry_with(Store(), limits)
    admission = AdmissionControl(Settings(limits=limits))
    replies: list[dict[str, Any]] = []
    for token in ("d1", "d2"):  # two participants behind one address share its bucket
        t = MemorySocket()
        conn = SessionHandler(Session(t, limits), registry, admission=admission,
                          client_ip="192.0.2.7")
        task = asyncio.create_task(conn.serve())
        t.incoming.put_nowait(json.dumps({"type": "hello", "id": 0, "token": token}))
        for i in range(1, 4):
            t.incoming.put_nowait(json.dumps({"type": "offer", "id": i, "sdp": "v=0"}))
        def answered(sock: MemorySocket = t) -> bool:
            return sum(m.get("id") in (1, 2, 3) for m in sock.sent) == 3

        await until(answered, "replies")
        replies += [m for m in t.sent if m.get("id") in (1, 2, 3)]
        assert t.closed is None
        t.incoming.put_nowait(None)
        await asyncio.wait_for(task, 5)
    codes = [m.get("code", m["type"]) for m in replies]
    assert codes == ["answer"] * 3 + ["rate_limited"] * 3, codes
    assert replies[-1]["details"]["retry_after_s"] > 0
    await registry.close()


async def test_a_client_that_only_answers_pings_stays_in_a_busy_room() -> None:
    """Old code pinged only when the server had sent nothing for a heartbeat: a room that sends
    all the time never pinged, and dropped the (watched) client as silent after 3 heartbeats.
    heartbeat_s is 0.25 s here (0.75 s of slack on a loaded machine): 20 heartbeats."""
    t = MemorySocket()
    s = Session(t, Limits(outbox_messages=256, heartbeat_s=0.25))

    async def handler(raw: str | bytes) -> None:
        s.watched = True  # as after a `pong`

    async def busy_room() -> None:
        while True:
            s.send({"type": "floor", "holders": []})
            await asyncio.sleep(0.01)

    async def answer_pings() -> None:
        answered = 0
        while True:
            pings = sum(m["type"] == "ping" for m in t.sent)
            while answered < pings:
                t.incoming.put_nowait('{"type":"pong"}')
                answered += 1
            await asyncio.sleep(0.02)

    run = asyncio.create_task(s.run(handler))
    helpers = [asyncio.create_task(busy_room()), asyncio.create_task(answer_pings())]
    await until(lambda: sum(m["type"] == "ping" for m in t.sent) >= 20 or run.done(),
                "20 pings", within=30.0)
    assert not run.done() and s.close_code is None, (s.close_code, s.close_reason)
    for h in helpers:
        h.cancel()
    await t.close(1000, "bye")
    await asyncio.wait_for(run, 5)
