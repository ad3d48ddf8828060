"""Offer admission that cannot be starved, with real aiortc peers over loopback: stalled
handshakes give their slot back, one handshake in flight per peer id, first come first served.
States and counters only: no durations are asserted."""

from __future__ import annotations

import asyncio

import pytest

from mirp.errors import Conflict
from mirp.media.admission import AdmissionGate
from mirp.media.peer import Peer, PeerFactory
from tests.support.rtc import RtcClient
from tests.support.wait import until

pytestmark = [pytest.mark.rtc, pytest.mark.timeout(180)]


async def test_gate_is_fifo_and_leaving_frees_at_once() -> None:
    gate = AdmissionGate(2)
    a, b = gate.enter(), gate.enter()
    queued = [gate.enter() for _ in range(4)]
    assert (a.state, b.state, gate.in_use, gate.waiting) == ("holding", "holding", 2, 4)
    assert [gate.position(t) for t in queued] == [0, 1, 2, 3]
    gate.leave(queued[1])  # leaves the queue: takes no slot, the others move up
    assert queued[1].future.cancelled() and [gate.position(t) for t in queued] == [0, None, 1, 2]
    order: list[int] = []

    async def wait(i: int) -> None:
        await queued[i].wait()
        order.append(i)

    waiters = [asyncio.ensure_future(wait(i)) for i in (3, 2, 0)]  # awaited out of order
    await asyncio.sleep(0)
    gate.leave(a)
    gate.leave(a)  # idempotent
    gate.leave(b)
    for _ in range(5):
        await asyncio.sleep(0)
    assert order == [0, 2] and gate.in_use == 2 and gate.position(queued[3]) == 0
    gate.leave(queued[0])
    await asyncio.gather(*waiters)
    assert order == [0, 2, 3] and gate.in_use == 2 and gate.waiting == 0


async def test_a_cancelled_waiter_never_keeps_a_slot() -> None:
    gate = AdmissionGate(1)
    holder, ticket = gate.enter(), gate.enter()
    waiter = asyncio.ensure_future(ticket.wait())
    await asyncio.sleep(0)
    waiter.cancel()  # the caller went away: the ticket still waits until its owner leaves
    await asyncio.sleep(0)
    assert ticket.state == "queued" and not ticket.future.cancelled()
    gate.leave(ticket)
    gate.leave(holder)
    assert gate.in_use == 0 and gate.waiting == 0


async def offer_never_answered(factory: PeerFactory, name: str) -> tuple[Peer, RtcClient,
                                                                        asyncio.Future[str]]:
    """A client that offers and then never starts ICE (its answer is never applied)."""
    client = RtcClient(name=name)
    offer = await client.offer()
    session = factory.create_peer(name)
    return session, client, asyncio.ensure_future(session.accept_offer(offer))


async def test_110_stalled_offers_do_not_starve_a_legitimate_peer() -> None:
    factory = PeerFactory(loopback_only=True, join_batch=100, handshake_stall_s=2.0,
                          handshake_timeout_s=600.0)
    gate = factory.admission
    clients = [RtcClient(name=f"s{i}") for i in range(110)]
    offers = [await c.offer() for c in clients]  # these clients never start ICE
    legit_client = RtcClient(tone_hz=440, name="legit")
    legit_offer = await legit_client.offer()
    sessions = [factory.create_peer(f"s{i}") for i in range(110)]
    tasks = [asyncio.ensure_future(s.accept_offer(o)) for s, o in zip(sessions, offers,
                                                                       strict=True)]
    legit = factory.create_peer("legit")
    answer = asyncio.ensure_future(legit.accept_offer(legit_offer))  # right behind them
    await asyncio.sleep(0)
    stalled = list(zip(sessions, clients, tasks, strict=True))
    # every slot taken by the stalled offers, the legit peer 11th in line
    assert (gate.in_use, gate.waiting, legit.watch.queue_position) == (100, 11, 10), (
        gate.in_use, gate.waiting, legit.watch.queue_position)
    first_position = 10
    watch = legit.watch
    await until(answer.done, lambda: f"legit: {watch.admission_state} at {watch.queue_position}"
                f"; in use {gate.in_use}, waiting {gate.waiting}", 90)
    await legit_client.accept_answer(answer.result())
    await legit_client.wait_connected(30)
    await legit.wait_connected(30)
    # the legit peer connected while every stalled offer is still pending: nothing timed out,
    # the stalled ones just gave their slots back
    pending = [s for s, _c, _t in stalled if not s.closed and not s.connected
               and s.gone_reason is None]
    assert len(pending) == 110, [(s.peer_id, s.state, s.gone_reason) for s, _c, _t in stalled]
    # it waited for exactly the slots of those ahead of it, given back by stalled handshakes
    assert sum(s.watch.stalled for s, _c, _t in stalled) >= first_position + 1
    assert legit.connected and legit.watch.admission_state == "done" and not legit.watch.stalled
    await until(lambda: gate.in_use == 0, lambda: f"in use {gate.in_use}", 30)
    for _s, client, _t in stalled:
        await client.close()
    await legit_client.close()
    await factory.close()
    assert gate.in_use == 0 and gate.waiting == 0


async def test_one_handshake_in_flight_per_peer_id() -> None:
    factory = PeerFactory(loopback_only=True, join_batch=1, handshake_stall_s=600.0)
    gate = factory.admission
    a1, _ca1, t_a1 = await offer_never_answered(factory, "a")
    await until(t_a1.done, lambda: "first offer of a answered", 20)
    b, cb, t_b = await offer_never_answered(factory, "b")
    await until(lambda: b.watch.admission_state == "queued", lambda: b.watch.admission_state, 10)
    reasons: list[str] = []
    a1.on_gone = reasons.append
    # a new offer of "a" cancels the old one: its slot goes to b, first in line
    a2_client = RtcClient(tone_hz=440, name="a2")
    a2 = factory.create_peer("a")
    assert reasons == ["replaced"] and b.watch.admission_state == "holding" and gate.in_use == 1
    t_a2 = asyncio.ensure_future(a2.accept_offer(await a2_client.offer()))
    await until(lambda: a2.watch.queue_position == 0, lambda: f"a2 at {a2.watch.queue_position}",
                10)
    # a third offer of "a" while the second still waits: the second leaves the queue
    a3_client = RtcClient(tone_hz=440, name="a3")
    a3 = factory.create_peer("a")
    with pytest.raises(Conflict):
        await t_a2
    assert gate.waiting == 0 and factory.peers["a"] is a3
    t_a3 = asyncio.ensure_future(a3.accept_offer(await a3_client.offer()))
    await until(lambda: a3.watch.queue_position == 0, lambda: f"a3 at {a3.watch.queue_position}",
                10)
    await cb.accept_answer(await t_b)  # b finishes: a3 gets the slot and connects
    await cb.wait_connected()
    await a3_client.accept_answer(await asyncio.wait_for(t_a3, 30))
    await a3_client.wait_connected()
    await a3.wait_connected(10)
    assert a1.closed and a2.closed and not a3.closed and gate.in_use == 0
    for c in (_ca1, cb, a2_client, a3_client):
        await c.close()
    await factory.close()
