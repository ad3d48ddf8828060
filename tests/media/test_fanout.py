"""The fan-out with real aiortc listeners over loopback: pre-encoded Opus tones in, FFT out.

A small 20 ms clock here plays the engine's part: it publishes one packet per key per tick on
one media clock (pts = tick * 960), as MediaEngine does.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator, Mapping
from typing import Any

import av
import pytest
from aiortc.mediastreams import MediaStreamError

from mirp.media.fanout import Fanout
from mirp.media.peer import Peer, PeerFactory
from mirp.media.plan import FeedKey
from mirp.media.track import FeedTrack
from tests.support.audio import level_db_at, opus_packets, peak_hz, tone
from tests.support.rtc import RtcClient
from tests.support.wait import until

pytestmark = [pytest.mark.rtc, pytest.mark.timeout(90)]

FLOOR, FRENCH = FeedKey("floor"), FeedKey("fr")
TONES = {FLOOR: 440.0, FRENCH: 660.0}


class Clock:
    """Publishes each key's looping pre-encoded tone every 20 ms (deadline clock, no drift)."""

    def __init__(self, fanout: Fanout, tones: Mapping[FeedKey, float]) -> None:
        self.fanout = fanout
        self.packets = {k: opus_packets(tone(hz, 1.0, -12)) for k, hz in tones.items()}
        self.tick = 0
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        due = loop.time()
        while True:
            self.fanout.publish(self.tick * 960, {k: v[self.tick % len(v)]
                                                  for k, v in self.packets.items()})
            self.tick += 1
            due += 0.020
            await asyncio.sleep(max(0.0, due - loop.time()))

    def start(self) -> None:
        self._task = asyncio.ensure_future(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


@contextlib.asynccontextmanager
async def running(fast: bool) -> AsyncIterator[tuple[PeerFactory, Fanout, Clock]]:
    factory = PeerFactory(loopback_only=True, join_batch=25)
    fanout = Fanout(fast=fast)
    clock = Clock(fanout, TONES)
    clock.start()
    try:
        yield factory, fanout, clock
    finally:
        await clock.stop()
        await fanout.close()
        await factory.close()


async def join_listeners(factory: PeerFactory, fanout: Fanout, n: int, key: FeedKey,
                         prefix: str = "l") -> list[tuple[Peer, RtcClient]]:
    async def one(i: int) -> tuple[Peer, RtcClient]:
        session = factory.create_peer(f"{prefix}{i}")
        client = RtcClient(name=f"{prefix}{i}")
        await client.connect(session.accept_offer)
        assert session.sender is not None
        fanout.add(session.peer_id, session.sender, key)
        return session, client

    pairs = await asyncio.gather(*(one(i) for i in range(n)))
    await asyncio.gather(*(c.wait_connected(20) for _, c in pairs))
    return list(pairs)


def assert_hears(client: RtcClient, hz: float, other: float) -> None:
    x = client.recorded(0.5)
    assert abs(peak_hz(x) - hz) < 15, (client.name, peak_hz(x))
    assert level_db_at(x, hz) - level_db_at(x, other) > 30, client.name


def assert_continuous(client: RtcClient) -> None:
    """Every received packet follows the previous one: seq + 1 and timestamp + 960."""
    rtp = list(client.rtp)
    assert len(rtp) > 40
    assert len({p.ssrc for p in rtp}) == 1
    for a, b in itertools.pairwise(rtp):
        assert (b.sequence_number - a.sequence_number) % 65536 == 1, (a, b)
        assert (b.timestamp - a.timestamp) % 2**32 == 960, (a, b)


@pytest.mark.parametrize(("fast", "n"), [(True, 1), (True, 10), (False, 10), (True, 50)])
async def test_every_listener_hears_its_feed(fast: bool, n: int) -> None:
    async with running(fast) as (factory, fanout, _clock):
        pairs = await join_listeners(factory, fanout, n, FLOOR)
        assert fanout.keys_in_use() == {FLOOR}
        await asyncio.gather(*(c.wait_recorded(0.6, within_s=20) for _, c in pairs))
        for _, client in pairs:
            assert_hears(client, 440, 660)
        stats = fanout.stats()
        assert stats["listeners"] == n and stats["listeners_dropped"] == 0
        assert stats["fast" if fast else "fallback"] == n
        for session, client in pairs:
            await client.close()
            await session.close()


@pytest.mark.parametrize("fast", [True, False])
async def test_switch_changes_the_sound_without_jumps_or_gaps(fast: bool) -> None:
    async with running(fast) as (factory, fanout, _clock):
        (session, client), = await join_listeners(factory, fanout, 1, FLOOR)
        await client.wait_recorded(0.6)
        assert_hears(client, 440, 660)
        fanout.switch(session.peer_id, FRENCH)
        assert fanout.keys_in_use() == {FRENCH}
        await client.wait_recorded(0.8)
        assert_hears(client, 660, 440)
        fanout.switch(session.peer_id, FLOOR)
        await client.wait_recorded(0.8)
        assert_hears(client, 440, 660)
        assert_continuous(client)
        assert fanout.key_of(session.peer_id) == FLOOR
        await client.close()


async def test_the_fast_path_drives_a_real_listener() -> None:
    """The internals it needs are media/compat.py's (tests/media/test_compat.py checks them)."""
    async with running(True) as (factory, fanout, _clock):
        (session, client), = await join_listeners(factory, fanout, 1, FLOOR)
        await client.wait_recorded(0.2)
        entry: Any = fanout._listeners[session.peer_id]
        assert entry.fast and entry.wire is not None and entry.wire.addr[0] == "127.0.0.1"
        assert fanout.stats()["fast"] == 1 and fanout.stats()["ready"] == 1
        await client.close()


async def test_sender_reports_follow_the_fast_path() -> None:
    async with running(True) as (factory, fanout, _clock):
        (_session, client), = await join_listeners(factory, fanout, 1, FLOOR)
        await until(lambda: len(client.sender_reports) >= 2, "two RTCP sender reports")
        sr = client.sender_reports[-1]
        rtp = [p for p in client.rtp if p.arrival <= sr.arrival]
        assert sr.ssrc == rtp[-1].ssrc
        # counts what was sent so far (give or take packets in flight), timestamps on our clock
        assert abs(sr.packet_count - len(rtp)) <= 5, (sr.packet_count, len(rtp))
        assert sr.octet_count > 50 * sr.packet_count
        assert abs(((sr.rtp_timestamp - rtp[-1].timestamp + 2**31) % 2**32) - 2**31) <= 5 * 960
        await client.close()


async def test_vanished_listener_is_gone_and_dropped() -> None:
    factory = PeerFactory(loopback_only=True, peer_timeout_s=1.5)
    fanout = Fanout()
    clock = Clock(fanout, TONES)
    clock.start()
    try:
        (s1, c1), (s2, c2) = await join_listeners(factory, fanout, 2, FLOOR)
        gone: list[str] = []

        def on_gone(reason: str) -> None:
            gone.append(reason)
            fanout.remove(s1.peer_id)

        s1.on_gone = on_gone
        await c1.wait_recorded(0.3)
        c1.vanish()
        await until(lambda: gone, "on_gone of the vanished listener")
        assert gone == ["timeout"] and fanout.stats()["listeners"] == 1
        # a listener whose transport just closes (no one told the fan-out) is dropped by it
        await c2.close()
        await until(lambda: fanout.stats()["listeners"] == 0, "closed listener dropped")
        assert fanout.stats()["listeners_dropped"] >= 1 or s2.gone_reason is not None
        await c1.close()
    finally:
        await clock.stop()
        await factory.close()


async def test_membership_and_bounds() -> None:
    async with running(True) as (factory, fanout, _clock):
        (session, client), = await join_listeners(factory, fanout, 1, FLOOR)
        assert session.sender is not None
        await client.wait_recorded(0.3)
        fanout.remove("nobody")
        fanout.switch("nobody", FRENCH)
        fanout.add(session.peer_id, session.sender, FRENCH)  # re-adding replaces
        assert fanout.keys_in_use() == {FRENCH} and fanout.stats()["listeners"] == 1
        # a key with no payload this tick: the listener gets nothing (and nothing breaks)
        sent = fanout.stats()["packets_sent"]
        fanout.publish(10**6, {FLOOR: b"\xfc\xff\xfe"})
        assert fanout.stats()["packets_sent"] == sent
        fanout.remove(session.peer_id)
        fanout.remove(session.peer_id)
        assert fanout.keys_in_use() == frozenset()
        await fanout.close()
        await fanout.close()
        fanout.add(session.peer_id, session.sender, FLOOR)  # after close: ignored
        assert fanout.stats()["listeners"] == 0
        await client.close()


async def test_feed_track_queue_is_bounded_and_stop_ends_an_idle_recv() -> None:
    track = FeedTrack(depth=2)
    for i in range(10):
        p = av.Packet(b"\xfc\xff\xfe")
        p.pts = i * 960
        track.push(p)
    assert track.queued == 2 and track.dropped == 8
    first: Any = await track.recv()
    assert first.pts == 8 * 960
    await track.recv()
    idle = asyncio.ensure_future(track.recv())  # what aiortc's sender does on the fast path
    for _ in range(5):  # let the loop run it: nothing wakes an idle recv but stop()
        await asyncio.sleep(0)
    assert not idle.done()
    track.stop()
    with pytest.raises(MediaStreamError):
        await asyncio.wait_for(idle, 5)
    with pytest.raises(MediaStreamError):
        await track.recv()


async def test_a_sender_the_fast_path_cannot_drive_uses_the_public_path() -> None:
    async with running(True) as (factory, fanout, _clock):
        session = factory.create_peer("odd")
        client = RtcClient(name="odd")
        await client.connect(session.accept_offer)
        session.feed_track.binding = None  # e.g. a sender not made by Peer
        assert session.sender is not None
        fanout.add("odd", session.sender, FRENCH)
        assert fanout.stats()["fallback"] == 1
        await client.wait_connected()
        await client.wait_recorded(0.6)
        assert_hears(client, 660, 440)
        await client.close()


async def test_a_listener_whose_socket_backs_up_loses_packets_not_latency() -> None:
    async with running(True) as (factory, fanout, _clock):
        (session, client), = await join_listeners(factory, fanout, 1, FLOOR)
        await client.wait_recorded(0.2)
        entry: Any = fanout._listeners[session.peer_id]
        assert entry.ready

        class Backlogged:
            def __init__(self, real: Any) -> None:
                self.real = real

            def is_closing(self) -> bool:
                return bool(self.real.is_closing())

            def get_write_buffer_size(self) -> int:
                return 10**6

            def sendto(self, data: bytes, addr: Any) -> None:
                raise AssertionError("sent into a backed-up socket")

        real = entry.wire.udp
        entry.wire.udp = Backlogged(real)
        dropped = fanout.stats()["packets_dropped"]
        await until(lambda: fanout.stats()["packets_dropped"] >= dropped + 5, "drops")
        assert fanout.stats()["listeners"] == 1  # kept: only packets are dropped
        entry.wire.udp = real
        since = client.recorded_seconds
        await client.wait_recorded(0.5, since=since)
        assert_hears(client, 440, 660)
        await client.close()
