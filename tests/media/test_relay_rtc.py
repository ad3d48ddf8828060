"""Two media processes relaying over loopback UDP, with real aiortc peers.

An origin plane (a media worker process) hears a delegate's tone and relays its feed to an edge
plane (another worker process); a listener connected to the edge hears the tone (FFT), the edge
never decodes or encodes it (0 encoders), the origin encodes it once. A stale origin (an older
epoch) is fenced; a newer one takes over. The origin's worker killed: the edge sees the feed go
silent and keeps running; the origin's restarted worker relays again to the same edge, and the
listener, never renegotiated, hears the delegate again once the delegate re-offers.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest

from mirp.media.plan import FeedKey, MixPlan
from mirp.media.plane import PlaneConfig, PlaneStats
from mirp.media.process import ProcessPlane
from mirp.media.relay_format import (
    ANNOUNCE,
    DATA,
    HEADER,
    MAGIC,
    VERSION,
    RelayFeedStats,
    key_json,
)
from tests.support.audio import level_db_at, opus_packets, peak_hz, tone
from tests.support.rtc import RtcClient
from tests.support.wait import Seen, until

pytestmark = [pytest.mark.process, pytest.mark.rtc]

FLOOR = FeedKey("m1/floor")
EPOCH = 7


class Cluster:
    def __init__(self) -> None:
        self.origin = ProcessPlane(PlaneConfig(loopback_only=True), request_timeout_s=20.0)
        self.edge = ProcessPlane(PlaneConfig(loopback_only=True), request_timeout_s=20.0)
        self.clients: list[RtcClient] = []

    async def client(self, plane: ProcessPlane, peer_id: str, tone_hz: float | None
                     ) -> RtcClient:
        client = RtcClient(tone_hz, name=peer_id)
        self.clients.append(client)
        await client.connect(lambda sdp: plane.offer(peer_id, sdp))
        await client.wait_connected()
        return client

    async def close(self) -> None:
        for client in self.clients:
            await client.close()
        await asyncio.gather(self.origin.close(), self.edge.close())


@pytest.fixture
async def cluster() -> AsyncIterator[Cluster]:
    c = Cluster()
    await asyncio.gather(c.origin.start(), c.edge.start())
    try:
        yield c
    finally:
        await c.close()


def feed_in(stats: PlaneStats, key: FeedKey) -> RelayFeedStats | None:
    return next((f for f in stats.relay.feeds_in if f.key == key), None)


async def hears(client: RtcClient, hz: float, what: str) -> None:
    async def check() -> Any:
        await client.wait_recorded(0.5)
        got = client.recorded(0.5)
        peak = peak_hz(got)
        ok = abs(peak - hz) < 15 and level_db_at(got, hz) > -40
        return ok or Seen(f"peak {peak:.0f} Hz")

    await until(check, what, within=30.0)


async def setup_relay(c: Cluster) -> tuple[RtcClient, tuple[str, int]]:
    await c.client(c.origin, "delegate", 440)
    c.origin.apply(MixPlan.of({FLOOR: (("delegate", 1.0),)}))
    address = await c.edge.relay_listen("127.0.0.1")
    c.edge.relay_accept([FLOOR])
    c.origin.relay_to("edge-1", address, [FLOOR], EPOCH)
    listener = await c.client(c.edge, "listener", None)
    c.edge.listen("listener", FLOOR)
    await hears(listener, 440, "the listener on the edge hears the delegate on the origin")
    return listener, address


async def test_a_listener_on_the_edge_hears_the_origins_feed_encoded_once(
        cluster: Cluster) -> None:
    _, address = await setup_relay(cluster)
    origin, edge = await cluster.origin.stats(), await cluster.edge.stats()
    assert origin.engine.encoders == 1 and origin.engine.listeners == 0
    assert edge.engine.encoders == 0 and edge.engine.feeds_in_use == 0
    assert edge.engine.listeners == 1 and edge.engine.decoding == 0
    feed = feed_in(edge, FLOOR)
    assert feed is not None and feed.epoch == EPOCH and feed.received > 0, edge.relay
    assert origin.relay.links == 1 and origin.relay.feeds_out == 1
    assert edge.relay.listen == address and edge.relay.hop_p95_ms >= 0.0


def stale_sender(address: tuple[str, int], hz: float, epoch: int) -> asyncio.Task[None]:
    """Another origin sending `hz` for FLOOR under `epoch`, paced at 20 ms a packet."""
    async def run() -> None:
        packets = opus_packets(tone(hz, 1.0))
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.setblocking(False)
            seq = 0
            while True:
                for payload in packets:
                    if seq % 25 == 0:
                        sock.sendto(HEADER.pack(MAGIC, VERSION, ANNOUNCE, 0, 99, epoch, 0, 0, 0)
                                    + key_json(FLOOR), address)
                    sock.sendto(HEADER.pack(MAGIC, VERSION, DATA, 0, 99, epoch, seq,
                                            seq * 960, 0) + payload, address)
                    seq += 1
                    await asyncio.sleep(0.02)  # media pacing, not a wait for a state

    return asyncio.create_task(run())


async def test_an_older_epoch_is_fenced_a_newer_one_takes_over(cluster: Cluster) -> None:
    listener, address = await setup_relay(cluster)
    stale = stale_sender(address, 880, EPOCH - 1)
    try:
        async def fenced() -> Any:
            feed = feed_in(await cluster.edge.stats(), FLOOR)
            return (feed is not None and feed.fenced >= 50) or Seen(feed)

        await until(fenced, "the stale origin's packets fenced")
        await hears(listener, 440, "still the origin of the newest epoch")
        assert level_db_at(listener.recorded(0.5), 880) < -40
    finally:
        stale.cancel()
    newer = stale_sender(address, 880, EPOCH + 1)
    try:
        await hears(listener, 880, "the origin of a newer epoch heard at once")

        async def old_fenced() -> Any:
            feed = feed_in(await cluster.edge.stats(), FLOOR)
            return (feed is not None and feed.epoch == EPOCH + 1 and feed.fenced >= 100
                    ) or Seen(feed)

        await until(old_fenced, "the former origin (now stale) fenced")
    finally:
        newer.cancel()


async def test_a_killed_origin_goes_silent_and_its_successor_is_heard_again(
        cluster: Cluster) -> None:
    listener, _ = await setup_relay(cluster)
    edge_pid, origin_pid = cluster.edge.pid, cluster.origin.pid
    assert edge_pid is not None and origin_pid is not None
    cluster.origin.restart_delay_s = 3.0  # a silence long enough to be seen by polling
    os.kill(origin_pid, signal.SIGKILL)

    async def silent() -> Any:
        feed = feed_in(await cluster.edge.stats(), FLOOR)
        return (feed is not None and feed.idle_ms > 500) or Seen(feed)

    await until(silent, "the edge sees the relayed feed go silent")
    # the origin's plane restarts its worker, given the plan and the relay link again
    await until(lambda: cluster.origin.pid not in (None, origin_pid), "a new origin worker")
    before = feed_in(await cluster.edge.stats(), FLOOR)
    assert before is not None

    async def flowing() -> Any:
        feed = feed_in(await cluster.edge.stats(), FLOOR)
        return (feed is not None and feed.received > before.received + 25 and feed.idle_ms < 200
                ) or Seen(feed)

    await until(flowing, "the restarted origin relays again")
    await cluster.client(cluster.origin, "delegate", 660)  # the delegate's client re-offers
    await hears(listener, 660, "the listener hears the delegate again, not renegotiated")
    edge = await cluster.edge.stats()
    assert cluster.edge.pid == edge_pid and cluster.edge.restarts == 0 and edge.peers == 1
    feed = feed_in(edge, FLOOR)
    assert feed is not None and feed.late == 0 and feed.epoch == EPOCH
    assert feed.lost >= 100  # the silence, counted as lost packets: the sequence went on


async def test_a_delegate_on_the_edge_is_mixed_at_the_origin_and_heard_on_the_edge(
        cluster: Cluster) -> None:
    """Both directions: the delegate's microphone arrives at the edge, goes to the origin as
    Opus payloads (never decoded on the edge), is mixed and encoded there once, and comes back
    relayed to a listener on the edge."""
    c = cluster
    origin_address = await c.origin.relay_listen("127.0.0.1")
    edge_address = await c.edge.relay_listen("127.0.0.1")
    c.origin.relay_accept([], sources=["delegate"])
    c.origin.apply(MixPlan.of({FLOOR: (("delegate", 1.0),)}))
    c.origin.relay_to("edge-1", edge_address, [FLOOR], EPOCH)
    c.edge.relay_accept([FLOOR])
    c.edge.relay_to("m1@origin", origin_address, [], EPOCH, sources=["delegate"])
    await c.client(c.edge, "delegate", 550)
    listener = await c.client(c.edge, "listener", None)
    c.edge.listen("listener", FLOOR)
    await hears(listener, 550, "the edge's delegate, mixed at the origin, heard on the edge")
    origin, edge = await c.origin.stats(), await c.edge.stats()
    assert edge.engine.decoding == 0 and edge.engine.encoders == 0
    assert edge.engine.packets_received == 0  # parked on the edge: forwarded, not decoded
    assert edge.relay.sources_out == 1
    assert origin.engine.decoding == 1 and origin.engine.encoders == 1
    assert origin.relay.sources_in == 1 and origin.relay.source_packets_in > 0


async def test_a_restarted_edge_worker_listens_on_the_same_address_again(
        cluster: Cluster) -> None:
    """The origins keep sending to the address they were given: a restarted media process of
    the edge opens its relay socket there again and is given the relayed keys again."""
    _, address = await setup_relay(cluster)
    edge_pid = cluster.edge.pid
    assert edge_pid is not None
    os.kill(edge_pid, signal.SIGKILL)
    await until(lambda: cluster.edge.pid not in (None, edge_pid), "a new edge worker")

    async def receiving_again() -> Any:
        stats = await cluster.edge.stats()
        feed = feed_in(stats, FLOOR)
        return (stats.relay.listen == address and feed is not None and feed.received > 25
                ) or Seen(stats.relay)

    await until(receiving_again, "the new edge worker receives the relayed feed")
    assert cluster.edge.restarts == 1
