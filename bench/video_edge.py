"""`python -m bench.video_edge`: what a camera relayed between nodes costs (media/video_relay.py).

- `video_edge_us_per_packet_out`: at the publisher's node, per packet of a camera one other node
  watches and no local viewer does: the forwarder's keyframe check and the relay's datagram
  (header, id, payload) sent on a real UDP socket to a sink on 127.0.0.1.
- `video_edge_us_per_packet_in`: at the receiving node, per relayed packet, up to the forwarder:
  the relay's header parse and kind dispatch, the publisher id, the packet handed to a
  forwarder that has no viewer of it (what a node pays before its first viewer's rewrite).
- `video_edge_us_per_packet_in_{1,10}_viewers`: the same with 1 and 10 local viewers (each:
  rewrite, SRTP with a real libsrtp session, `sendto`), per packet (not per viewer): compare
  with bench.video's `video_us_per_packet_viewer` (the per-viewer cost on the publisher's node).
Real VP8 packets (libvpx, 640x360 at ~500 kbit/s, bench.video's `vp8_stream`); CPU time
(`process_time`) ÷ packets, the 2 s stream replayed 20 times. Writes
bench/results/video_edge.json. A few seconds.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
import time
from typing import Any

from aiortc.rtp import RtpPacket
from pylibsrtp import Policy, Session

from bench.video import RESULTS, _Dtls, _Receiver, _Sender, vp8_stream
from mirp.media import compat
from mirp.media.relay import Relay
from mirp.media.relay_format import Address
from mirp.media.video import VideoForwarder
from mirp.media.video_rtp import VP8

SINK_LINK = "bench>sink"
ROUNDS = 20  # the 2 s stream replayed: ~2,800 packets a measure


class _Engine:
    """The relay's engine stub: video needs none of it."""

    tick = 0


def datagrams(packets: list[RtpPacket]) -> list[bytes]:
    """The VIDEO datagrams a publisher's node sends for these packets."""
    out: list[bytes] = []
    relay = Relay(_Engine(), send=lambda addr, data: out.append(data))  # type: ignore[arg-type]
    relay.relay_to(SINK_LINK, ("127.0.0.1", 9), [], 1, videos=["pub"])
    for packet in packets:
        relay.video.send("pub", packet, VP8)
    return out


async def cost_out(packets: list[RtpPacket], sink: Address) -> float:
    relay = Relay(_Engine())  # type: ignore[arg-type]
    fwd = VideoForwarder()
    fwd.relay = relay.video
    relay.video.attach(fwd)
    fwd.add_publisher("pub", _Receiver())  # type: ignore[arg-type]
    relay.relay_to(SINK_LINK, sink, [], 1, videos=["pub"])
    start = time.process_time()
    for _ in range(ROUNDS):
        for packet in packets:
            fwd._on_packet("pub", packet)
    spent = time.process_time() - start
    sent = relay.stats().video_out
    relay.close()
    fwd.close()
    return spent / max(1, sent) * 1e6


async def cost_in(data: list[bytes], viewers: int, sink: Address) -> float:
    loop = asyncio.get_running_loop()
    relay = Relay(_Engine())  # type: ignore[arg-type]
    fwd = VideoForwarder()
    fwd.relay = relay.video
    relay.video.attach(fwd)
    relay.relay_to("bench<origin", ("127.0.0.1", 9), [], 1, video_from=["pub"])
    fwd.set_wanted({f"v{i}": "pub" for i in range(viewers)})
    transports = []
    for i in range(viewers):
        udp, _ = await loop.create_datagram_endpoint(asyncio.DatagramProtocol,
                                                     local_addr=("127.0.0.1", 0))
        transports.append(udp)
        policy = Policy(key=os.urandom(30), ssrc_type=Policy.SSRC_ANY_OUTBOUND,
                        srtp_profile=Policy.SRTP_PROFILE_AES128_CM_SHA1_80)
        fwd.add_viewer(f"v{i}", _Sender(), 96, b"")  # type: ignore[arg-type]
        viewer = fwd._viewers[f"v{i}"]
        viewer.wire = compat.SenderWire(_Dtls(), Session(policy=policy),  # type: ignore[arg-type]
                                        udp, sink, 5000 + i)
        viewer.rewriter.ssrc = 5000 + i
    received = relay.received
    received(data[0])  # the keyframe: every viewer starts
    start = time.process_time()
    for _ in range(ROUNDS):
        for datagram in data:
            received(datagram)
    spent = time.process_time() - start
    stats = relay.stats()
    assert stats.video_in == 1 + ROUNDS * len(data) and stats.malformed == 0, stats
    if viewers:
        assert fwd.stats()["packets_sent"] == viewers * stats.video_in, fwd.stats()
    for udp in transports:
        udp.close()
    relay.close()
    fwd.close()
    return spent / (ROUNDS * len(data)) * 1e6


async def main() -> dict[str, Any]:
    packets = vp8_stream()
    data = datagrams(packets)
    sink_sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink_sock.bind(("127.0.0.1", 0))
    sink = sink_sock.getsockname()
    try:
        result = {
            "video_edge_us_per_packet_out": round(await cost_out(packets, sink), 2),
            "video_edge_us_per_packet_in": round(await cost_in(data, 0, sink), 2),
            "video_edge_us_per_packet_in_1_viewers": round(await cost_in(data, 1, sink), 2),
            "video_edge_us_per_packet_in_10_viewers": round(await cost_in(data, 10, sink), 2),
            "video_edge_packets": len(packets),
            "video_edge_mean_datagram_bytes": round(sum(map(len, data)) / len(data)),
        }
    finally:
        sink_sock.close()
    return result


if __name__ == "__main__":
    result = asyncio.run(main())
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "video_edge.json").write_text(json.dumps(result, indent=2) + "\n")
    sys.stdout.write(json.dumps(result, indent=2) + "\n")
