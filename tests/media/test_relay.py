"""The relay without a network: an origin engine's datagrams handed straight to an edge's Relay.

What is checked: the edge fans out the very bytes the origin encoded (no decode, no encode: the
edge's engine has no encoder for a relayed key), a stale epoch is fenced, loss, lateness and
duplicates are counted and never forwarded out of order, bad datagrams are counted and never
raise, and the relay's messages and stats survive the media process's wire.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from itertools import pairwise
from typing import Any

import numpy as np
import pytest

from mirp.errors import InvalidInput
from mirp.media import wire
from mirp.media.engine import MediaEngine
from mirp.media.mixer import FRAME_SAMPLES
from mirp.media.plan import FeedKey, MixPlan
from mirp.media.relay import Relay
from mirp.media.relay_format import (
    ANNOUNCE,
    DATA,
    HEADER,
    MAGIC,
    SOURCE,
    SOURCE_ANNOUNCE,
    VERSION,
    Address,
    RelayStats,
    key_json,
)
from tests.media.fake_fanout import FakeFanout
from tests.media.test_encoder import decode_all
from tests.support.audio import opus_packets, peak_hz, tone

FLOOR = FeedKey("m/floor")
FR = FeedKey("m/fr", -12, "p9")
EDGE: Address = ("127.0.0.1", 40000)


class Pair:
    """An origin engine relaying to an edge engine; datagrams go through `wire` (a list)."""

    def __init__(self) -> None:
        self.origin_fan, self.edge_fan = FakeFanout(), FakeFanout()
        self.origin = MediaEngine(self.origin_fan)
        self.edge = MediaEngine(self.edge_fan)
        self.datagrams: list[bytes] = []
        self.out = Relay(self.origin, send=lambda addr, data: self.datagrams.append(data))
        self.origin.relay = self.out
        self.into = Relay(self.edge)
        self.edge.relay = self.into

    def deliver(self) -> list[bytes]:
        sent, self.datagrams = self.datagrams, []
        for data in sent:
            self.into.received(data)
        return sent

    async def close(self) -> None:
        await self.origin.close()
        await self.edge.close()


@pytest.fixture
async def pair() -> AsyncIterator[Pair]:
    p = Pair()
    yield p
    await p.close()


def datagram(kind: int, fid: int, epoch: int, seq: int, pts: int, body: bytes) -> bytes:
    return HEADER.pack(MAGIC, VERSION, kind, 0, fid, epoch, seq, pts, 0) + body


async def test_the_edge_fans_out_the_origins_packets_without_encoding(pair: Pair) -> None:
    signal = tone(440, 1.0)
    pair.origin.add_source("alice")
    pair.origin.apply(MixPlan.of({FLOOR: (("alice", 1.0),)}))
    pair.out.relay_to("edge-1", EDGE, [FLOOR], epoch=3)
    pair.into.relay_accept([FLOOR])
    pair.edge.add_listener("bob", None, FLOOR)
    for tick in range(50):
        pair.origin.push_pcm("alice", signal[tick * FRAME_SAMPLES:(tick + 1) * FRAME_SAMPLES])
        pair.origin.run_tick()
        pair.edge.run_tick()
        pair.deliver()
    encoded = pair.origin_fan.payloads(FLOOR)  # no listener at the origin: encoded for the edge
    relayed = pair.edge_fan.payloads(FLOOR)
    assert len(encoded) == 50 and relayed == encoded  # the very bytes, in order
    assert abs(peak_hz(decode_all(relayed)[4800:]) - 440) < 15
    origin, edge = pair.origin.stats(), pair.edge.stats()
    assert origin.encoders == 1 and origin.listeners == 0
    assert edge.encoders == 0 and edge.feeds_in_use == 0 and edge.listeners == 1
    (feed,) = pair.into.stats().feeds_in
    assert (feed.key, feed.epoch, feed.received, feed.lost, feed.late) == (FLOOR, 3, 50, 0, 0)
    out = pair.out.stats()
    assert out.links == 1 and out.feeds_out == 1 and out.packets_out >= 51  # + announces
    # the edge's own ticks published nothing for the relayed key: only the relay did
    assert len([p for _, p in pair.edge_fan.published if FLOOR in p]) == 50


async def test_an_older_epoch_is_fenced_and_a_newer_one_takes_over(pair: Pair) -> None:
    pair.into.relay_accept([FLOOR])
    pair.into.received(datagram(ANNOUNCE, 7, 5, 0, 0, key_json(FLOOR)))
    pair.into.received(datagram(DATA, 7, 5, 0, 960, b"new"))
    # the stale origin (epoch 4), with its own feed id: its announce and data are dropped
    pair.into.received(datagram(ANNOUNCE, 1, 4, 0, 0, key_json(FLOOR)))
    pair.into.received(datagram(DATA, 1, 4, 10, 1920, b"stale"))
    pair.into.received(datagram(DATA, 7, 4, 11, 1920, b"stale"))  # an id it never announced
    assert pair.edge_fan.payloads(FLOOR) == [b"new"]
    (feed,) = pair.into.stats().feeds_in
    assert feed.epoch == 5 and feed.fenced == 1 and feed.received == 1
    assert pair.into.stats().unknown == 1
    # a newer origin: its own sequence numbers start over, it is heard at once
    pair.into.received(datagram(ANNOUNCE, 2, 6, 0, 0, key_json(FLOOR)))
    pair.into.received(datagram(DATA, 2, 6, 0, 480_000, b"newer"))
    pair.into.received(datagram(DATA, 7, 5, 1, 1920, b"old"))  # its names forgotten: unknown
    pair.into.received(datagram(ANNOUNCE, 7, 5, 0, 0, key_json(FLOOR)))  # every second
    pair.into.received(datagram(DATA, 7, 5, 2, 2880, b"old"))
    assert pair.edge_fan.payloads(FLOOR) == [b"new", b"newer"]
    (feed,) = pair.into.stats().feeds_in
    assert feed.epoch == 6 and feed.fenced == 2 and feed.received == 2


async def test_loss_lateness_and_duplicates_are_counted_never_reordered(pair: Pair) -> None:
    pair.into.relay_accept([FLOOR])
    pair.into.received(datagram(ANNOUNCE, 1, 1, 0, 0, key_json(FLOOR)))
    for seq in (0, 1, 3, 2, 3, 4, 8):
        pair.into.received(datagram(DATA, 1, 1, seq, seq * 960, bytes([seq])))
    assert pair.edge_fan.payloads(FLOOR) == [bytes([s]) for s in (0, 1, 3, 4, 8)]
    (feed,) = pair.into.stats().feeds_in
    assert (feed.received, feed.lost, feed.late) == (5, 1 + 3, 2)
    # the pts are rebased to the edge's clock, on the frame grid, steps kept
    pts = [p for p, packets in pair.edge_fan.published if FLOOR in packets]
    assert [(b - a) & 0xFFFFFFFF for a, b in pairwise(pts)] == [960, 1920, 960, 3840]


async def test_one_clock_for_the_feeds_of_one_epoch(pair: Pair) -> None:
    pair.into.relay_accept([FLOOR, FR])
    pair.into.received(datagram(ANNOUNCE, 1, 1, 0, 0, key_json(FLOOR)))
    pair.into.received(datagram(ANNOUNCE, 2, 1, 0, 0, key_json(FR)))
    pair.into.received(datagram(DATA, 1, 1, 0, 96_000, b"a"))
    pair.into.received(datagram(DATA, 2, 1, 0, 96_000, b"b"))
    (p1, _), (p2, _) = pair.edge_fan.published
    assert p1 == p2 and p1 % 960 == 0


async def test_bad_and_unwanted_datagrams_are_counted_and_dropped(pair: Pair) -> None:
    pair.into.relay_accept([FLOOR])
    for data in (b"", b"x" * 10, b"\x00" * HEADER.size, datagram(9, 1, 1, 0, 0, b""),
                 datagram(ANNOUNCE, 1, 1, 0, 0, b"{not json"),
                 datagram(ANNOUNCE, 1, 1, 0, 0, b"[1]"), b"M" * 5000):
        pair.into.received(data)
    assert pair.into.stats().malformed == 7
    pair.into.received(datagram(ANNOUNCE, 3, 1, 0, 0, key_json(FR)))
    pair.into.received(datagram(DATA, 3, 1, 0, 0, b"not declared here"))
    assert pair.into.stats().unwanted == 1 and pair.edge_fan.published == []


async def test_a_locally_mixed_key_is_not_relayed_in(pair: Pair) -> None:
    """Until relay_accept names it, a key is the engine's own: a relayed packet of it is dropped
    rather than mixed into what the engine encodes."""
    pair.edge.add_listener("bob", None, FLOOR)
    pair.into.received(datagram(ANNOUNCE, 1, 1, 0, 0, key_json(FLOOR)))
    pair.into.received(datagram(DATA, 1, 1, 0, 0, b"relayed"))
    pair.edge.run_tick()
    assert pair.into.stats().unwanted == 1
    assert pair.edge.stats().encoders == 1 and b"relayed" not in pair.edge_fan.payloads(FLOOR)


async def test_links_change_and_stop(pair: Pair) -> None:
    pair.origin.apply(MixPlan.of({FLOOR: (), FR: ()}))
    pair.out.relay_to("e1", EDGE, [FLOOR, FR], 1)
    pair.out.relay_to("e2", ("127.0.0.1", 40001), [FLOOR], 1)
    assert pair.out.keys_out() == {FLOOR, FR}
    pair.origin.run_tick()
    assert pair.origin.stats().encoders == 2
    sent = pair.deliver()
    data = [HEADER.unpack_from(d) for d in sent if HEADER.unpack_from(d)[2] == DATA]
    assert len(data) == 3  # FLOOR to both edges, FR to one: each packet once per edge
    pair.out.relay_to("e1", EDGE, [FLOOR], 1)
    assert pair.out.keys_out() == {FLOOR}
    pair.out.relay_stop("e1")
    pair.out.relay_stop("e2")
    pair.out.relay_stop("nobody")
    assert pair.out.keys_out() == frozenset() and pair.out.stats().links == 0
    with pytest.raises(InvalidInput):
        pair.out.relay_to("e3", EDGE, [FLOOR], -1)
    with pytest.raises(InvalidInput):
        pair.out.relay_to("e3", EDGE, [FLOOR], 2**32)


def test_relay_messages_and_stats_cross_the_wire() -> None:
    key = wire.key_to_wire(FR)
    for message in (wire.RelayListen(3, "127.0.0.1", 0), wire.RelayAccept([key], ["p1"]),
                    wire.RelayTo("e1", "::1", 5000, [key], 7, ["p2"]), wire.RelayStop("e1")):
        assert wire.decode(wire.encode(message)[4:]) == message
    p = Relay(MediaEngine(FakeFanout()))
    p.relay_accept([FR])
    p.received(datagram(ANNOUNCE, 1, 2, 0, 0, key_json(FR)))
    p.received(datagram(DATA, 1, 2, 0, 0, b"x"))
    stats = p.stats()
    again = RelayStats.from_wire(wire.decode(wire.encode(wire.Reply(1, stats.to_wire(), None))[4:])
                                 .result)  # type: ignore[union-attr]
    assert again == stats and again.feeds_in[0].key == FR
    assert RelayStats.from_wire({}) == RelayStats()
    assert np.isfinite(stats.hop_p95_ms)


async def test_an_origin_restarted_under_the_same_epoch_goes_on(pair: Pair) -> None:
    """A media process restarted under the same lease epoch: its sequence numbers come from the
    wall clock, so they go on upwards (the gap counted lost, nothing dropped as late), and its
    clock, restarted at 0, is rebased so that the listeners' timestamps go on too."""
    pair.into.relay_accept([FLOOR])
    pair.into.received(datagram(ANNOUNCE, 1, 4, 0, 0, key_json(FLOOR)))
    for seq in range(100, 105):
        pair.into.received(datagram(DATA, 1, 4, seq, 5_000_000 + seq * 960, b"before"))
    pair.into.received(datagram(ANNOUNCE, 1, 4, 0, 0, key_json(FLOOR)))
    for i, seq in enumerate(range(110, 113)):
        pair.into.received(datagram(DATA, 1, 4, seq, i * 960, b"after"))
    (feed,) = pair.into.stats().feeds_in
    assert (feed.received, feed.lost, feed.late) == (8, 5, 0)
    pts = [p for p, packets in pair.edge_fan.published if FLOOR in packets]
    assert [(b - a) & 0xFFFFFFFF for a, b in pairwise(pts)] == [960] * 4 + [6 * 960] + [960] * 2


async def test_the_origin_numbers_packets_by_wall_clock_ticks(pair: Pair) -> None:
    pair.origin.apply(MixPlan.of({FLOOR: ()}))
    pair.out.relay_to("e1", EDGE, [FLOOR], 1)
    for _ in range(3):
        pair.origin.run_tick()
    seqs = [HEADER.unpack_from(d)[6] for d in pair.datagrams if HEADER.unpack_from(d)[2] == DATA]
    assert [b - a for a, b in pairwise(seqs)] == [1, 1]
    later = Relay(pair.origin, send=lambda addr, data: pair.datagrams.append(data))
    assert later._seq_base >= pair.out._seq_base  # a restarted process numbers on from here


async def test_an_edge_microphone_reaches_the_origin_undecoded_and_is_mixed_there() -> None:
    """Edge -> origin: the edge forwards the Opus payloads of the sources it is told to (its
    own plan does not use them: parked, never decoded); the origin feeds them into a Source of
    that id, which its plan mixes. A source not named is not forwarded; a stale epoch is
    fenced; a source the origin did not accept is dropped."""
    edge_fan, origin_fan = FakeFanout(), FakeFanout()
    edge, origin = MediaEngine(edge_fan), MediaEngine(origin_fan)
    up: list[bytes] = []
    at_edge = Relay(edge, send=lambda addr, data: up.append(data))
    at_origin = Relay(origin)
    edge.relay, origin.relay = at_edge, at_origin
    try:
        edge.add_source("d1")
        edge.add_source("d2")  # parked at the origin too: not named, never forwarded
        origin.apply(MixPlan.of({FLOOR: (("d1", 1.0),)}))
        origin.add_listener("x", None, FLOOR)
        at_origin.relay_accept([], sources=["d1"])
        at_edge.relay_to("m@origin", EDGE, [], epoch=9, sources=["d1"])
        packets = opus_packets(tone(440, 1.0))
        for seq, payload in enumerate(packets):
            edge.push_rtp("d1", seq, payload)
            edge.push_rtp("d2", seq, payload)
            for data in up:
                at_origin.received(data)
            up.clear()
            edge.run_tick()
            origin.run_tick()
        heard = decode_all(origin_fan.payloads(FLOOR))
        assert abs(peak_hz(heard[9600:]) - 440) < 15
        assert edge.stats().decoding == 0 and edge.stats().packets_received == 0
        edge_stats, origin_stats = at_edge.stats(), at_origin.stats()
        assert edge_stats.sources_out == 1
        assert origin_stats.sources_in == 1 and origin_stats.source_packets_in == len(packets)
        # an older epoch (a stale edge link) is fenced; an unaccepted source is unwanted
        at_origin.received(HEADER.pack(MAGIC, VERSION, SOURCE_ANNOUNCE, 0, 5, 8, 0, 0, 0)
                           + b"d1")
        at_origin.received(HEADER.pack(MAGIC, VERSION, SOURCE, 0, 5, 8, 1, 0, 0) + b"x")
        at_origin.received(HEADER.pack(MAGIC, VERSION, SOURCE_ANNOUNCE, 0, 6, 9, 0, 0, 0)
                           + b"d2")
        at_origin.received(HEADER.pack(MAGIC, VERSION, SOURCE, 0, 6, 9, 1, 0, 0) + b"x")
        stats = at_origin.stats()
        assert stats.source_fenced == 1 and stats.unwanted == 1
        # stopping the link stops the forwarding; un-accepting removes the origin's source
        at_edge.relay_stop("m@origin")
        edge.push_rtp("d1", len(packets), packets[0])
        assert up == [] and at_edge.stats().sources_out == 0
        at_origin.relay_accept([])
        assert origin.source_of("d1") is None
    finally:
        at_edge.close()
        at_origin.close()
        await edge.close()
        await origin.close()


async def test_the_origin_sends_to_its_edges_before_its_own_fan_out(pair: Pair) -> None:
    """The edges' listeners must not wait for the origin's whole fan-out (800 listeners there
    are ~16 ms): the relay's few datagrams leave first."""
    order: list[str] = []
    publish = pair.origin_fan.publish

    def recording(pts: int, packets: Any) -> None:
        order.append("fan-out")
        publish(pts, packets)

    pair.origin_fan.publish = recording  # type: ignore[method-assign]
    relay = Relay(pair.origin, send=lambda addr, data: order.append("relay"))
    pair.origin.relay = relay
    pair.origin.apply(MixPlan.of({FLOOR: ()}))
    pair.origin.add_listener("here", None, FLOOR)
    relay.relay_to("e1", EDGE, [FLOOR], 1)
    pair.origin.run_tick()
    assert order == ["relay", "relay", "fan-out"]  # announce, data, then the local listeners
