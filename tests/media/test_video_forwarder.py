"""The video forwarder's decisions (media/video.py) driven by hand: a clock we move, publishers
whose RTCP requests are counted, viewers whose wire records what it sends. No sockets: the
real-peer behaviour is in test_video_rtc.py; here each rule is checked exactly."""

from __future__ import annotations

import asyncio
from typing import Any

from aiortc.rtcdtlstransport import State as DtlsState
from aiortc.rtp import RtpPacket

from mirp.media import compat
from mirp.media.video import VideoForwarder, mixer_delay

KEY = bytes([0x10, 0x00])  # VP8 descriptor S=1 PID=0, frame header P=0: a keyframe starts
DELTA = bytes([0x10, 0x01])


class Publisher:
    _RTCRtpReceiver__jitter_buffer = None
    _RTCRtpReceiver__rtcp_ssrc = 99

    def __init__(self) -> None:
        self.plis = 0
        self.rembs: list[Any] = []

    async def _send_rtcp_pli(self, media_ssrc: int) -> None:
        self.plis += 1

    async def _send_rtcp(self, packet: Any) -> None:
        self.rembs.append(packet)


class Udp:
    def __init__(self) -> None:
        self.sent: list[bytes] = []

    def sendto(self, data: bytes, addr: Any) -> None:
        self.sent.append(data)

    def is_closing(self) -> bool:
        return False

    def get_write_buffer_size(self) -> int:
        return 0


class Dtls:
    _state = DtlsState.CONNECTED


class Srtp:
    def protect(self, data: bytes) -> bytes:
        return data


class Sender:
    async def _handle_rtcp_packet(self, packet: Any) -> None:
        return None


class Rig:
    def __init__(self, **kw: Any) -> None:
        self.now = 0.0
        self.fwd = VideoForwarder(clock=lambda: self.now, **kw)
        self.pubs: dict[str, Publisher] = {}
        self.udp: dict[str, Udp] = {}
        self.seq = 0

    def publisher(self, pid: str) -> Publisher:
        pub = self.pubs[pid] = Publisher()
        assert self.fwd.add_publisher(pid, pub)  # type: ignore[arg-type]
        return pub

    def viewer(self, vid: str) -> Udp:
        self.fwd.add_viewer(vid, Sender(), 96)  # type: ignore[arg-type]
        udp = self.udp[vid] = Udp()
        viewer = self.fwd._viewers[vid]
        viewer.wire = compat.SenderWire(Dtls(), Srtp(), udp, ("127.0.0.1", 9), 1000)  # type: ignore[arg-type]
        viewer.rewriter.ssrc = 1000
        return udp

    def send(self, pid: str, payload: bytes, ts: int) -> None:
        self.seq += 1
        packet = RtpPacket(payload_type=96, sequence_number=self.seq, timestamp=ts,
                           ssrc=hash(pid) & 0xFFFF, payload=payload)
        self.fwd._on_packet(pid, packet)


def sources(udp: Udp) -> list[bytes]:
    return [data[12:] for data in udp.sent]


async def test_a_viewer_switches_at_the_new_publishers_keyframe_only() -> None:
    rig = Rig()
    a, b = rig.publisher("a"), rig.publisher("b")
    v = rig.viewer("v")
    rig.fwd.set_wanted({"v": "a"})
    rig.send("a", DELTA + b"a0", 0)  # not before a keyframe
    rig.send("a", KEY + b"a1", 3000)
    rig.send("b", KEY + b"b0", 9000)  # nobody watches b: dropped at the tap
    assert sources(v) == [KEY + b"a1"]
    rig.now = 1.0
    rig.fwd.set_wanted({"v": "b"})
    await asyncio.sleep(0)
    assert b.plis == 1 and a.plis == 1  # asked at once (a: when v first wanted it)
    rig.send("a", DELTA + b"a2", 6000)  # a goes on until b's keyframe
    rig.send("b", DELTA + b"b1", 12000)
    rig.send("b", KEY + b"b2", 15000)
    rig.send("a", DELTA + b"a3", 9000)  # then never again
    assert sources(v) == [KEY + b"a1", DELTA + b"a2", KEY + b"b2"]
    seqs = [int.from_bytes(d[2:4]) for d in v.sent]
    assert [s - seqs[0] for s in seqs] == [0, 1, 2]


async def test_video_off_sends_nothing_and_on_again_waits_for_a_keyframe() -> None:
    rig = Rig()
    rig.publisher("a")
    v, w = rig.viewer("v"), rig.viewer("w")
    rig.fwd.set_wanted({"v": "a", "w": "a"})
    rig.send("a", KEY + b"1", 0)
    rig.fwd.set_wanted({"w": "a"})  # v turned video off
    rig.send("a", DELTA + b"2", 3000)
    rig.fwd.set_wanted({"v": "a", "w": "a"})
    rig.send("a", DELTA + b"3", 6000)
    rig.send("a", KEY + b"4", 9000)
    assert sources(v) == [KEY + b"1", KEY + b"4"]
    assert len(w.sent) == 4
    assert rig.fwd.stats()["viewers_off"] == 0


async def test_keyframe_requests_from_viewers_are_coalesced() -> None:
    rig = Rig(pli_interval_s=0.5)
    a = rig.publisher("a")
    rig.viewer("v")
    rig.fwd.set_wanted({"v": "a"})
    rig.send("a", KEY + b"1", 0)
    await asyncio.sleep(0)
    first = a.plis
    viewer = rig.fwd._viewers["v"]
    for i in range(100):  # 100 PLIs from the viewer over 1 s
        rig.now = 1.0 + i / 100
        rig.fwd._on_feedback("v", viewer, "pli", [])
    await asyncio.sleep(0)
    assert a.plis - first <= 3, a.plis
    assert rig.fwd.stats()["plis_from_viewers"] == 100


async def test_nacks_are_answered_from_the_cache_within_a_budget() -> None:
    rig = Rig(retransmits_per_s=10.0)
    rig.publisher("a")
    v = rig.viewer("v")
    rig.fwd.set_wanted({"v": "a"})
    for i in range(5):
        rig.send("a", (KEY if i == 0 else DELTA) + bytes([i]), i * 3000)
    sent = list(v.sent)
    seqs = [int.from_bytes(d[2:4]) for d in sent]
    viewer = rig.fwd._viewers["v"]
    rig.fwd._on_feedback("v", viewer, "nack", seqs * 4)  # 20 NACKs at once: burst of 2.5
    assert v.sent[5:] == sent[:2]  # the same bytes again, as many as the budget allows
    stats = rig.fwd.stats()
    assert stats["nacks_answered"] == 2 and stats["nacks_refused"] == 18


async def test_the_bitrate_cap_goes_to_each_watched_publisher_every_second() -> None:
    rig = Rig(bitrate_cap=300_000)
    a = rig.publisher("a")
    rig.viewer("v")
    rig.fwd.set_wanted({"v": "a"})
    for i in range(30):
        rig.now = i / 10
        rig.send("a", (KEY if i == 0 else DELTA) + b"x", i * 3000)
    await asyncio.sleep(0)
    assert len(a.rembs) == 3  # at 0, 1 and 2 s


async def test_a_viewer_not_yet_connected_at_the_keyframe_gets_the_next_one(monkeypatch) -> None:
    """A viewer is added at its answer, before its DTLS is up: the keyframe asked for it may
    pass while it cannot be sent to. It must not wait for a keyframe nobody asks for (Chromium
    asks none of a stream it never got a packet of): the delegate page that showed no video."""
    rig = Rig()
    a = rig.publisher("a")
    rig.fwd.add_viewer("w", Sender(), 96)  # type: ignore[arg-type]
    udp = Udp()
    wire: list[compat.SenderWire] = []
    monkeypatch.setattr(compat, "sender_wire", lambda sender: wire[0] if wire else None)
    rig.fwd.set_wanted({"w": "a"})
    rig.send("a", DELTA + b"0", 0)  # the publisher's SSRC is known: the PLI goes out
    rig.send("a", KEY + b"1", 3000)  # its answer, while w's DTLS is still connecting
    await asyncio.sleep(0)
    asked = a.plis
    wire.append(compat.SenderWire(Dtls(), Srtp(), udp, ("127.0.0.1", 9), 1000))  # type: ignore[arg-type]
    for i in range(2, 40):  # w connected: a's delta frames go on, for over a second
        rig.now = i / 30
        rig.send("a", DELTA + bytes([i]), i * 3000)
    await asyncio.sleep(0)
    assert a.plis > asked, "nobody asked the publisher for a keyframe for the late viewer"
    rig.send("a", KEY + b"k", 40 * 3000)
    assert sources(udp) == [KEY + b"k"]


async def test_sender_reports_carry_the_audio_s_delay_through_the_mixer(monkeypatch) -> None:
    """Lip sync: the mixed audio's reports map each tick to when it is sent, after the voice
    waited in the mixer; the forwarded picture's reports must map to that same clock, or a
    browser syncing on them plays the sound late by that wait (−166 ms seen under load)."""
    now = 1000 << 32
    monkeypatch.setattr(compat, "ntp_now", lambda: now)
    delays: dict[str, float | None] = {"a": 0.12}
    rig = Rig(audio_delay=lambda pid: delays[pid])
    rig.publisher("a")
    rig.viewer("v")
    rig.fwd.set_wanted({"v": "a"})
    sender: Any = rig.fwd._viewers["v"].sender
    rig.send("a", KEY + b"1", 3000)
    assert sender._RTCRtpSender__ntp_timestamp == now + round(0.12 * (1 << 32))
    assert sender._RTCRtpSender__rtp_timestamp == 0  # the viewer's own rebased timeline
    delays["a"] = None  # its voice left the mix (the chair's camera, nobody speaking)
    rig.send("a", DELTA + b"2", 6000)
    assert sender._RTCRtpSender__ntp_timestamp == now + round(0.12 * (1 << 32))  # last known


async def test_the_mixer_delay_is_the_source_s_jitter_buffer_hold() -> None:
    class Jitter:
        hold_ms, played = 80.0, 5

    class Source:
        active, jitter = True, Jitter()

    source = Source()
    delay = mixer_delay(lambda pid: source if pid == "a" else None)
    assert delay("a") == 0.08
    assert delay("b") is None
    source.active = False
    assert delay("a") is None
