"""The Bus's contract, held against LocalBus and RedisBus alike: one envelope encoding,
ordered delivery to every subscriber, bounded queues (a slow subscriber is cut off, never
buffered without end), request/reply with a deadline, and publishes fenced by the lease."""

from __future__ import annotations

import asyncio

import pytest

from mirp.cluster.bus import MAX_BODY, Envelope, Kind, Subscription
from mirp.errors import (
    Conflict,
    InvalidInput,
    InvalidMessage,
    MessageTooLarge,
    TooSlow,
    Unavailable,
)
from tests.cluster.conftest import Cluster
from tests.support.wait import Seen, until

TTL = 0.4


def event(seq: int, body: bytes = b"x", epoch: int = 0) -> Envelope:
    return Envelope(Kind.EVENT, "origin", body, epoch=epoch, seq=seq)


async def take(sub: Subscription, n: int) -> list[Envelope]:
    async with asyncio.timeout(20):  # a hang guard, not a timing assertion
        return [await sub.get() for _ in range(n)]


def test_an_envelope_survives_its_encoding() -> None:
    env = Envelope(Kind.COMMAND, "n1", b"\x00\xffbody", epoch=7, seq=2**40, reply_to="r.1",
                   corr="c-é")
    assert Envelope.decode(env.encode()) == env
    assert Envelope.decode(Envelope(Kind.MEDIA, "", b"").encode()) == Envelope(Kind.MEDIA, "", b"")


@pytest.mark.parametrize("data", [b"", b"\x01", b"\x02" + bytes(30),
                                  Envelope(Kind.EVENT, "abc", b"").encode()[:-1],
                                  b"\x01\x09" + bytes(22)])
def test_a_bad_envelope_is_a_typed_error(data: bytes) -> None:
    with pytest.raises(InvalidMessage):
        Envelope.decode(data)


async def test_every_subscriber_gets_every_message_in_order(cluster: Cluster) -> None:
    pub, b1, b2 = cluster.bus("origin"), cluster.bus("edge1"), cluster.bus("edge2")
    s1 = await b1.subscribe("room.m1.events")
    s2 = await b2.subscribe("room.m1.events")
    other = await b2.subscribe("room.m2.events")
    for seq in range(1, 51):
        assert await pub.publish("room.m1.events", event(seq, seq.to_bytes(2, "big"))) >= 1
    for sub in (s1, s2):
        got = await take(sub, 50)
        assert [e.seq for e in got] == list(range(1, 51))
        assert got[9] == event(10, (10).to_bytes(2, "big"))
    await pub.publish("room.m2.events", event(99))
    assert (await take(other, 1))[0].seq == 99


async def test_after_unsubscribe_nothing_arrives_and_the_stream_ends(cluster: Cluster) -> None:
    pub, bus = cluster.bus("origin"), cluster.bus("edge")
    sub = await bus.subscribe("t1")
    await bus.unsubscribe(sub)
    assert await pub.publish("t1", event(1)) == 0
    with pytest.raises(StopAsyncIteration):
        await sub.get()
    assert [e async for e in sub] == []


async def test_a_slow_subscriber_is_cut_off_and_the_others_go_on(cluster: Cluster) -> None:
    pub, bus = cluster.bus("origin"), cluster.bus("edge")
    slow = await bus.subscribe("t1", maxsize=10)
    fast = await bus.subscribe("t1", maxsize=1000)
    for seq in range(1, 31):
        await pub.publish("t1", event(seq))
    assert [e.seq for e in await take(fast, 30)] == list(range(1, 31))
    await until(lambda: slow.state == "closed" or Seen(slow.state), "the slow one to be cut")
    with pytest.raises(TooSlow):
        await slow.get()
    with pytest.raises(TooSlow):  # and every later read says the same
        await slow.get()
    await pub.publish("t1", event(31))
    assert (await take(fast, 1))[0].seq == 31


async def test_request_and_reply(cluster: Cluster) -> None:
    origin, edge = cluster.bus("origin"), cluster.bus("edge")
    commands = await origin.subscribe("room.m1.cmd")

    async def serve() -> None:
        async for req in commands:
            await origin.reply(req, Envelope(Kind.REPLY, "", b"ok:" + req.body))

    server = asyncio.create_task(serve())
    try:
        answers = await asyncio.gather(*(
            edge.request("room.m1.cmd", Envelope(Kind.COMMAND, "", str(i).encode()), 20)
            for i in range(10)))
        assert [a.body for a in answers] == [b"ok:" + str(i).encode() for i in range(10)]
        assert all(a.kind == Kind.REPLY and a.sender == "origin" for a in answers)
    finally:
        server.cancel()


async def test_a_request_nobody_serves_or_answers_is_unavailable(cluster: Cluster) -> None:
    origin, edge = cluster.bus("origin"), cluster.bus("edge")
    with pytest.raises(Unavailable, match="nobody serves"):
        await edge.request("room.none.cmd", Envelope(Kind.COMMAND, "", b"?"), 20)
    mute = await origin.subscribe("room.mute.cmd")
    with pytest.raises(Unavailable, match="no reply"):
        await edge.request("room.mute.cmd", Envelope(Kind.COMMAND, "", b"?"), 0.3)
    assert (await take(mute, 1))[0].body == b"?"
    with pytest.raises(InvalidInput):
        await origin.reply(Envelope(Kind.EVENT, "x", b""), Envelope(Kind.REPLY, "", b""))


async def test_fenced_publish_refuses_a_stale_origin(cluster: Cluster) -> None:
    d = cluster.directory()
    old_origin, new_origin, edge = cluster.bus("a"), cluster.bus("b"), cluster.bus("edge")
    sub = await edge.subscribe("room.m1.events")
    old = await d.acquire("m1", "a", TTL)
    assert await old_origin.publish("room.m1.events", event(1, epoch=old.epoch), fence=old) >= 1
    # "a" is paused past its TTL; "b" takes the meeting over.
    new = await until(lambda: _try_acquire(cluster, "m1", "b"), "b to take the lease over")
    await new_origin.publish("room.m1.events", event(2, epoch=new.epoch), fence=new)
    with pytest.raises(Conflict) as refused:  # "a" resumes: its publish is refused
        await old_origin.publish("room.m1.events", event(3, epoch=old.epoch), fence=old)
    assert refused.value.details["current"] == new.epoch
    await new_origin.publish("room.m1.events", event(4, epoch=new.epoch), fence=new)
    got = await take(sub, 3)
    assert [(e.seq, e.epoch) for e in got] == [(1, 1), (2, 2), (4, 2)]


async def test_bad_topics_and_bodies_are_refused(cluster: Cluster) -> None:
    bus = cluster.bus("n")
    for bad in ("", "a b", "t*"):
        with pytest.raises(InvalidInput):
            await bus.publish(bad, event(1))
        with pytest.raises(InvalidInput):
            await bus.subscribe(bad)
    with pytest.raises(MessageTooLarge):
        await bus.publish("t", event(1, bytes(MAX_BODY + 1)))


async def _try_acquire(cluster: Cluster, meeting: str, node_id: str) -> object:
    try:
        return await cluster.directory().acquire(meeting, node_id, 60)
    except Conflict as exc:
        return Seen(exc.details)

