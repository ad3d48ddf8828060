"""`python -m bench.video`: what forwarding the floor video costs, and how fast a switch shows.

- `video_us_per_packet_viewer`: the forwarder's own loop (media/video.py `_on_packet`: keyframe
  check, per-viewer rewrite, SRTP protect with a real libsrtp session, `sendto` on a real UDP
  socket to a sink on 127.0.0.1, the sender-report counters, the NACK cache) over N viewers, fed
  real VP8 packets (libvpx, 640x360 at ~500 kbit/s); CPU time (`process_time`) ÷ (packets × N).
  The aiortc receive path of the one publisher is a constant per publisher, not per viewer, and
  is not in it. Compare with the audio fan-out's ~20 µs (docs/media.md), with packets ~10x
  larger here (SRTP is per byte).
- `video_viewers_per_core`: 1 s of CPU ÷ (that cost × packets a second of a 500 kbit/s stream).
  A projection from the measured cost, not a ramp of real peers.
- `video_switch_ms_p50` / `_p95`: real aiortc peers on 127.0.0.1 through a LocalPlane (two
  publishers sending the synthetic camera of tests/media/video_peer.py, one viewer decoding);
  from the plan naming the other publisher to the viewer's first decoded frame of it, 12 times.
- `lipsync_ms`: a speaker claps once a second (a 1 kHz burst and white frames on one clock);
  picture time − sound time (ms; BT.1359's sign: negative = sound late, goal +45/−125) of each
  clap, each mapped to the server's NTP time by a fit to the last 20 sender reports of its stream
  sent before it, as a syncing browser does; the median of `LIPSYNC_S` seconds, with `_p5`/`_p95`
  and `_spread` (max − min). `lipsync_loaded_ms*`: the same while `--load N` (default 2) busy
  processes of the bench's own compete for the cores, so the mixer's ticks run late and the
  audio's jitter buffer holds more. `lipsync_uncompensated_ms*`: the same under load with the
  forwarder's sender reports on the forwarding time alone (no audio delay added), the old
  behaviour, for comparison (docs/video.md, "Lip sync").

`python -m bench.video [--load N] [--lipsync-only]`. Writes bench/results/video.json and
video.md (not with --lipsync-only). About 60 s.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import json
import multiprocessing
import os
import socket
import sys
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
from aiortc.codecs import get_encoder
from aiortc.mediastreams import MediaStreamTrack
from aiortc.rtcdtlstransport import State as DtlsState
from aiortc.rtcrtpparameters import RTCRtpCodecParameters
from aiortc.rtp import RtcpSrPacket, RtpPacket
from pylibsrtp import Policy, Session
from tests.media.video_peer import VideoPeer
from tests.support.audio import tone
from tests.support.rtc import LoopTrack

from mirp.media import compat
from mirp.media.local import LocalPlane
from mirp.media.plan import FeedKey, MixPlan
from mirp.media.plane import PlaneConfig
from mirp.media.video import VideoForwarder

RESULTS = Path(__file__).resolve().parent / "results"
BITRATE = 500_000
PULSE_S = 0.2  # the clap: a 1 kHz burst and a white picture, once a second
LIPSYNC_S = 15.0  # claps measured per condition (one a second)
VP8 = RTCRtpCodecParameters(mimeType="video/VP8", clockRate=90_000, payloadType=96)


def percentile(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def vp8_stream(seconds: float = 2.0, fps: int = 30) -> list[RtpPacket]:
    """Real VP8 RTP packets of a moving 640x360 picture at BITRATE."""
    encoder: Any = get_encoder(VP8)
    encoder.target_bitrate = BITRATE
    rng = np.random.default_rng(1)
    base = rng.integers(0, 255, (360, 640), dtype=np.uint8)
    packets, seq = [], 0
    for n in range(int(seconds * fps)):
        img = np.roll(base, n * 4, axis=1)
        frame = av.VideoFrame.from_ndarray(img, format="gray")
        frame.pts, frame.time_base = n * 3000, Fraction(1, 90_000)
        payloads, ts = encoder.encode(frame, force_keyframe=(n == 0))
        for i, payload in enumerate(payloads):
            packets.append(RtpPacket(payload_type=96, sequence_number=seq, timestamp=ts,
                                     ssrc=1234, marker=int(i == len(payloads) - 1),
                                     payload=payload))
            seq = (seq + 1) & 0xFFFF
    return packets


class _Dtls:
    _state = DtlsState.CONNECTED


class _Sender:
    """Stands in for a viewer's RTCRtpSender: the forwarder only writes its SR counters and
    hooks its RTCP handler."""

    async def _handle_rtcp_packet(self, packet: Any) -> None:
        return None


class _Receiver:
    _RTCRtpReceiver__jitter_buffer = None

    async def _send_rtcp_pli(self, media_ssrc: int) -> None:
        return None


async def forward_cost(viewers: int, packets: list[RtpPacket], sink: tuple[str, int]) -> float:
    loop = asyncio.get_running_loop()
    fwd = VideoForwarder()
    fwd.add_publisher("pub", _Receiver())  # type: ignore[arg-type]
    fwd.set_wanted({f"v{i}": "pub" for i in range(viewers)})
    transports = []
    for i in range(viewers):
        udp, _ = await loop.create_datagram_endpoint(asyncio.DatagramProtocol,
                                                     local_addr=("127.0.0.1", 0))
        transports.append(udp)
        policy = Policy(key=os.urandom(30), ssrc_type=Policy.SSRC_ANY_OUTBOUND,
                        srtp_profile=Policy.SRTP_PROFILE_AES128_CM_SHA1_80)
        sender = _Sender()
        fwd.add_viewer(f"v{i}", sender, 96, b"")  # type: ignore[arg-type]
        viewer = fwd._viewers[f"v{i}"]
        viewer.wire = compat.SenderWire(_Dtls(), Session(policy=policy),  # type: ignore[arg-type]
                                        udp, sink, 5000 + i)
        viewer.rewriter.ssrc = 5000 + i
    on_packet = fwd._on_packet
    on_packet("pub", packets[0])  # the keyframe: every viewer starts
    start = time.process_time()
    for packet in packets[1:]:
        on_packet("pub", packet)
    spent = time.process_time() - start
    sent = fwd.stats()["packets_sent"] - viewers
    for udp in transports:
        udp.close()
    fwd.close()
    return spent / max(1, sent) * 1e6


async def switch_times(rounds: int = 12) -> list[float]:
    plane = LocalPlane(PlaneConfig(loopback_only=True))
    await plane.start()
    peers: list[VideoPeer] = []
    try:
        for pid, tag in (("a", 1), ("b", 2), ("v", None)):
            peer = VideoPeer(440 if tag else None, camera_tag=tag, name=pid)
            peers.append(peer)
            await peer.connect(functools.partial(plane.offer, pid))
            await peer.wait_connected()
        viewer = peers[2]
        times = []
        for n in range(rounds + 1):
            source, tag = ("a", 1) if n % 2 == 0 else ("b", 2)
            start = time.monotonic()
            plane.apply(MixPlan.of(video={"v": source}))
            while viewer.last_tag() != tag:
                if time.monotonic() - start > 10:
                    raise RuntimeError(f"no frame of {source} after 10 s")
                await asyncio.sleep(0.002)
            if n:  # the first one waits for the connection's first keyframe
                times.append((viewer.frames_of(tag, start)[0].arrival - start) * 1000)
            await asyncio.sleep(0.4)  # a few frames of this speaker before the next switch
        return times
    finally:
        for peer in peers:
            await peer.close()
        await plane.close()


class FlashCamera(MediaStreamTrack):
    """A camera showing white for the first PULSE_S of every second, black otherwise, on the
    same clock as the pulsing microphone (`start`): what a speaker's clap looks like."""

    kind = "video"

    def __init__(self, start: float) -> None:
        super().__init__()
        self.start, self.count = start, 0

    async def recv(self) -> av.VideoFrame:
        due = self.start + self.count / 30
        if due > time.monotonic():
            await asyncio.sleep(due - time.monotonic())
        luma = 235 if (self.count / 30) % 1.0 < PULSE_S else 16
        frame = av.VideoFrame.from_ndarray(np.full((180, 320), luma, dtype=np.uint8),
                                           format="gray")
        frame.pts, frame.time_base = self.count * 3000, Fraction(1, 90_000)
        self.count += 1
        return frame


class SyncViewer(VideoPeer):
    """Records what a browser's A/V sync uses: each stream's sender reports (RTP <-> NTP), the
    RTP timestamp of each audio packet with its level, each decoded frame's RTP timestamp and
    brightness."""

    def __init__(self) -> None:
        super().__init__(name="viewer")
        self.video_srs: list[tuple[int, int]] = []  # (rtp, ntp), in arrival order
        self.audio_levels: list[tuple[int, float]] = []  # (rtp ts, rms)
        self.flashes: list[tuple[int, float]] = []  # (rtp ts, mean luma)
        decoder = av.CodecContext.create("opus", "r")
        audio: Any = self.transceiver.receiver
        on_rtp = audio._handle_rtp_packet

        async def handle_audio(packet: Any, arrival_time_ms: int) -> None:
            for frame in decoder.decode(av.Packet(packet.payload)):
                rms = float(np.sqrt(np.mean(frame.to_ndarray().astype(np.float64) ** 2)))
                self.audio_levels.append((packet.timestamp, rms))
            await on_rtp(packet, arrival_time_ms=arrival_time_ms)

        audio._handle_rtp_packet = handle_audio
        video: Any = self.video.receiver
        on_rtcp = video._handle_rtcp_packet

        async def handle_rtcp(packet: Any) -> None:
            if isinstance(packet, RtcpSrPacket):
                self.video_srs.append((packet.sender_info.rtp_timestamp,
                                       packet.sender_info.ntp_timestamp))
            await on_rtcp(packet)

        video._handle_rtcp_packet = handle_rtcp

    async def _read(self, track: MediaStreamTrack) -> None:
        with contextlib.suppress(Exception):
            while True:
                frame: Any = await track.recv()
                origin = self.video_rtp[0].timestamp if self.video_rtp else 0
                luma = float(frame.to_ndarray(format="gray").mean())
                self.flashes.append(((origin + frame.pts) & 0xFFFFFFFF, luma))


SYNC_REPORTS = 20  # sender reports a receiver fits its RTP -> NTP line to (Chromium: 20)


def _ntp_s(srs: list[tuple[int, int]], rtp: int, clock: int) -> float | None:
    """The sender's NTP time (s) of RTP timestamp `rtp` as a syncing receiver estimates it: a
    line of slope 1/clock fitted to the last SYNC_REPORTS sender reports sent before that
    timestamp (the first report while none is). One report alone carries the lateness of the
    packet it was taken from; the fit, like a browser's, averages that out."""
    if not srs:
        return None

    def ticks_after(sr: tuple[int, int]) -> int:
        return ((rtp - sr[0] + (1 << 31)) & 0xFFFFFFFF) - (1 << 31)

    before = [sr for sr in srs if ticks_after(sr) >= 0][-SYNC_REPORTS:] or srs[:1]
    return sum(sr[1] / (1 << 32) + ticks_after(sr) / clock for sr in before) / len(before)


def _onsets(series: list[tuple[int, float]], threshold: float) -> list[int]:
    out, was = [], True
    for ts, value in series:
        now = value > threshold
        if now and not was:
            out.append(ts)
        was = now
    return out


async def lipsync(seconds: float = LIPSYNC_S, *,
                  compensate: bool = True) -> tuple[list[float], dict[str, float | None]]:
    """Sound minus picture offset (ms, positive: sound first, BT.1359's sign) that a receiver
    syncing on the server's sender reports would show, per clap; and where the time goes: the
    speaker's voice's hold in the mixer's jitter buffer at the end (`hold_ms`, what the video's
    reports add), and how late each stream reached the server (`audio_lag_ms`, `video_lag_ms`:
    the median of arrival − RTP time, over its minimum: the speaker's pacing and encoding,
    and the loop, under load). `compensate=
    False`: the video's reports on the forwarding time alone (without that hold)."""
    plane = LocalPlane(PlaneConfig(loopback_only=True))
    if not compensate:
        plane.video.audio_delay = None
    await plane.start()
    start = time.monotonic() + 0.5
    pulse = np.zeros(48_000, dtype=np.float32)
    pulse[:int(PULSE_S * 48_000)] = tone(1000, PULSE_S)
    speaker = VideoPeer(440, camera_tag=1, name="speaker")
    mic = LoopTrack(pulse)
    mic._start = start
    speaker.transceiver.sender.replaceTrack(mic)
    speaker.video.sender.replaceTrack(FlashCamera(start))
    viewer = SyncViewer()
    try:
        for pid, peer in (("s", speaker), ("v", viewer)):
            await peer.connect(functools.partial(plane.offer, pid))
            await peer.wait_connected()
        lags = _watch_arrivals(plane._peers["s"].pc)
        plane.apply(MixPlan.of({FeedKey("floor"): (("s", 1.0),)}, video={"v": "s"}))
        plane.listen("v", FeedKey("floor"))
        await asyncio.sleep(seconds)
        source = plane.engine.source_of("s")
        hold = round(source.jitter.hold_ms, 1) if source is not None else None
        audio_srs = [(r.rtp_timestamp, r.ntp_timestamp) for r in viewer.sender_reports]
        sounds = [_ntp_s(audio_srs, ts, 48_000) for ts in _onsets(viewer.audio_levels, 0.05)]
        pictures = [_ntp_s(viewer.video_srs, ts, 90_000) for ts in _onsets(viewer.flashes, 128)]
        offsets = []
        for sound in sounds:
            near = [p for p in pictures if p is not None and sound is not None
                    and abs(p - sound) < 0.5]
            if near and sound is not None:
                offsets.append((near[0] - sound) * 1000)
        return offsets, {"hold_ms": hold, **{f"{kind}_lag_ms": _excess_ms(values)
                                             for kind, values in lags.items()}}
    finally:
        for peer in (speaker, viewer):
            await peer.close()
        await plane.close()


def _watch_arrivals(pc: Any) -> dict[str, list[float]]:
    """Per stream of this server-side peer: arrival time − RTP time (s) of each new frame."""
    lags: dict[str, list[float]] = {"audio": [], "video": []}
    for receiver in pc.getReceivers():
        kind = receiver.track.kind
        clock, seen, original = 48_000 if kind == "audio" else 90_000, [-1], \
            receiver._handle_rtp_packet

        async def handle(packet: Any, arrival_time_ms: int, _o: Any = original,
                         _l: list[float] = lags[kind], _c: int = clock,
                         _s: list[int] = seen) -> None:
            if packet.timestamp != _s[0]:
                _s[0] = packet.timestamp
                _l.append(time.monotonic() - packet.timestamp / _c)
            await _o(packet, arrival_time_ms=arrival_time_ms)

        receiver._handle_rtp_packet = handle
    return lags


def _excess_ms(values: list[float]) -> float | None:
    if not values:
        return None
    low = min(values)
    return round((percentile([v - low for v in values], 50) or 0.0) * 1000, 1)


def _spin() -> None:
    while True:
        pass


@contextlib.contextmanager
def cpu_load(processes: int) -> Any:
    """`processes` busy loops of our own, for as long as the block runs: the load the mixer's
    clock and the publishers' pacing must live with (a machine shared with other work)."""
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_spin, daemon=True) for _ in range(processes)]
    for proc in procs:
        proc.start()
    try:
        yield
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.join()


def spread(name: str, run: tuple[list[float], dict[str, float | None]]) -> dict[str, Any]:
    """`name` (the median), its 5th and 95th percentiles, max − min, every value, and where
    the time went (`lipsync`)."""
    offsets, parts = run
    where = {f"{name}_{k}": v for k, v in parts.items()}
    if not offsets:
        return {name: None, **where}
    r = functools.partial(round, ndigits=1)
    return {name: r(percentile(offsets, 50) or 0.0), **where,
            f"{name}_p5": r(percentile(offsets, 5) or 0.0),
            f"{name}_p95": r(percentile(offsets, 95) or 0.0),
            f"{name}_spread": r(max(offsets) - min(offsets)),
            f"{name}_each": [r(t) for t in offsets]}


async def lipsyncs(load: int) -> dict[str, Any]:
    out = {"lipsync_load_processes": load, "loadavg_1min_at_start": os.getloadavg()[0],
           **spread("lipsync_ms", await lipsync())}
    with cpu_load(load):
        out.update(spread("lipsync_loaded_ms", await lipsync()))
        out.update(spread("lipsync_uncompensated_ms", await lipsync(compensate=False)))
    return out


async def main(load: int = 2) -> dict[str, Any]:
    packets = vp8_stream()
    pps = len(packets) / 2.0
    sink_sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink_sock.bind(("127.0.0.1", 0))
    sink = sink_sock.getsockname()
    costs = {n: await forward_cost(n, packets, sink) for n in (10, 50, 200)}
    sink_sock.close()
    cost = costs[200]
    switches = await switch_times()
    return {
        "video_us_per_packet_viewer": round(cost, 2),
        "video_us_per_packet_viewer_by_viewers": {str(k): round(v, 2) for k, v in costs.items()},
        "video_packets_per_s_at_500kbit": round(pps, 1),
        "video_mean_packet_bytes": round(sum(len(p.payload) for p in packets) / len(packets)),
        "video_viewers_per_core": int(1e6 / (cost * pps)),
        "video_switch_ms_p50": round(percentile(switches, 50) or 0, 1),
        "video_switch_ms_p95": round(percentile(switches, 95) or 0, 1),
        "video_switch_ms": [round(t, 1) for t in switches],
        **await lipsyncs(load),
    }


def table(result: dict[str, Any]) -> str:
    rows = [(k, v) for k, v in result.items() if not isinstance(v, list | dict)]
    return "| key | value |\n|---|---|\n" + "\n".join(f"| `{k}` | {v} |" for k, v in rows) + "\n"


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.video")
    parser.add_argument("--load", type=int, default=2, help="busy processes for the loaded runs")
    parser.add_argument("--lipsync-only", action="store_true",
                        help="only the lip sync runs; print them, write no results")
    args = parser.parse_args()
    if args.lipsync_only:
        print(json.dumps(asyncio.run(lipsyncs(args.load)), indent=2))
        sys.exit(0)
    result = asyncio.run(main(args.load))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "video.json").write_text(json.dumps(result, indent=2) + "\n")
    (RESULTS / "video.md").write_text("# bench.video\n\n" + table(result))
    sys.stdout.write(table(result))
