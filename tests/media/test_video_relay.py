"""The relay's video datagrams without a network (media/video_relay.py): one plane's relay hands
its datagrams straight to another's. What is checked: a publisher's packet crosses whole (its
SSRC, sequence number, timestamp, marker and codec) only to a link that carries it and only
into a plane that takes it; keyframe requests go back the other way; a new watcher asks for a
keyframe at once; bad datagrams are counted, never raise; the link's video survives the media
process's wire."""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection
from typing import Any

import pytest

from mirp.media import wire
from mirp.media.engine import MediaEngine
from mirp.media.relay import Relay
from mirp.media.relay_format import (
    HEADER,
    MAGIC,
    MAX_DATAGRAM,
    MAX_VIDEO_DATAGRAM,
    VERSION,
    VIDEO,
    Address,
)
from mirp.media.video_relay import RELAYED_CODECS, RelayedPacket
from mirp.media.video_rtp import H264, VP8
from tests.media.fake_fanout import FakeFanout

A: Address = ("127.0.0.1", 40001)
B: Address = ("127.0.0.1", 40002)


class Host:
    """A recording forwarder (media/video_relay.py VideoHost)."""

    def __init__(self) -> None:
        self.remote: set[str] = set()
        self.packets: list[tuple[str, Any]] = []
        self.asked: list[tuple[str, bool]] = []

    def set_remote(self, publishers: Collection[str]) -> None:
        self.remote = set(publishers)

    def relayed(self, publisher_id: str, packet: Any) -> None:
        self.packets.append((publisher_id, packet))

    def keyframe_asked(self, publisher_id: str, at_once: bool) -> None:
        self.asked.append((publisher_id, at_once))


class Planes:
    """Plane A (the publisher's node) and plane B (a node watching it), wired both ways."""

    def __init__(self) -> None:
        self.engines = [MediaEngine(FakeFanout()), MediaEngine(FakeFanout())]
        self.to: dict[Address, list[bytes]] = {A: [], B: []}
        self.a = Relay(self.engines[0], send=lambda addr, data: self.to[addr].append(data))
        self.b = Relay(self.engines[1], send=lambda addr, data: self.to[addr].append(data))
        self.host_a, self.host_b = Host(), Host()
        self.a.video.attach(self.host_a)
        self.b.video.attach(self.host_b)

    def deliver(self) -> int:
        n = 0
        for address, relay in ((A, self.a), (B, self.b)):
            sent, self.to[address] = self.to[address], []
            for data in sent:
                relay.received(data)
            n += len(sent)
        return n

    async def close(self) -> None:
        for engine in self.engines:
            await engine.close()


@pytest.fixture
async def planes() -> AsyncIterator[Planes]:
    p = Planes()
    yield p
    await p.close()


def packet(seq: int, *, marker: int = 0, payload: bytes = b"\x10\x00frame") -> RelayedPacket:
    return RelayedPacket(0xABCD, seq, 90_000 + seq * 3000, marker, 0, payload)


async def test_a_camera_crosses_whole_to_the_node_watching_it(planes: Planes) -> None:
    planes.a.relay_to("m>b", B, [], 7, videos=["p1"])
    planes.b.relay_to("m<a", A, [], 7, video_from=["p1"])
    assert planes.host_b.remote == {"p1"} and planes.host_a.remote == set()
    assert planes.host_a.asked == [("p1", True)]  # a node starts watching: a keyframe now

    planes.a.video.send("p1", packet(65535, marker=1), VP8)
    planes.a.video.send("p1", packet(3, payload=b"\x00h264"), H264)
    planes.a.video.send("p2", packet(4), VP8)  # carried by no link: sent nowhere
    assert planes.deliver() == 2
    (pid, first), (_, second) = planes.host_b.packets
    assert pid == "p1" and first == packet(65535, marker=1)
    assert (RELAYED_CODECS[first.payload_type], RELAYED_CODECS[second.payload_type]) == (VP8, H264)
    assert second.payload == b"\x00h264" and second.marker == 0

    planes.b.video.ask("p1", False)  # a viewer on B waits: asked of A
    planes.b.video.ask("p9", True)  # not taken from anywhere: nothing to ask
    planes.deliver()
    assert planes.host_a.asked[1:] == [("p1", False)]
    a, b = planes.a.stats(), planes.b.stats()
    assert (a.video_out, b.video_in, b.video_plis_out, a.video_plis_in) == (2, 2, 1, 1)


async def test_a_node_that_takes_no_such_camera_drops_it(planes: Planes) -> None:
    planes.a.relay_to("m>b", B, [], 7, videos=["p1"])
    planes.a.video.send("p1", packet(1), VP8)
    planes.deliver()
    assert planes.host_b.packets == [] and planes.b.stats().video_unwanted == 1
    planes.b.relay_to("m<a", A, [], 7, video_from=["p1"])
    planes.b.relay_stop("m<a")
    assert planes.host_b.remote == set()
    planes.a.relay_to("m>b", B, [], 7)  # B watches no more: the link carries nothing
    planes.a.video.send("p1", packet(2), VP8)
    assert planes.deliver() == 0 and not planes.a.video.wants("p1")


async def test_bad_video_datagrams_are_counted_never_raised(planes: Planes) -> None:
    planes.b.relay_to("m<a", A, [], 7, video_from=["p1"])

    def video(body: bytes, kind: int = VIDEO) -> bytes:
        return HEADER.pack(MAGIC, VERSION, kind, 0, 1, 7, 1, 1, 0) + body

    for data in (video(b""), video(b"\x09p1"), video(b"\x02\xff\xfe"),
                 video(b"\x02p1" + bytes(MAX_VIDEO_DATAGRAM)),
                 video(bytes(MAX_DATAGRAM + 10), kind=1)):  # an Opus datagram that big: no
        planes.b.received(data)
    assert planes.b.stats().malformed == 5 and planes.host_b.packets == []
    planes.b.received(video(b"\x02p1" + bytes(MAX_DATAGRAM)))  # a big video packet is fine
    assert len(planes.host_b.packets) == 1


def test_the_links_video_crosses_the_media_process_wire() -> None:
    link = wire.RelayTo("m>b", "127.0.0.1", 40002, [], 7, [], ["p1"], ["p2"])
    assert wire.decode(wire.encode(link)[4:]) == link
    old = wire.RelayTo("m>b", "127.0.0.1", 40002, [], 7, [])  # a link without video
    assert wire.decode(wire.encode(old)[4:]) == old
