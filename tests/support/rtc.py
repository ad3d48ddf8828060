"""An aiortc test client: a real WebRTC peer for media, signaling and bench tests.

It offers one audio m-line (like web/js/rtc.js): `sendrecv` with a generated sine as its
microphone, or `recvonly` for a pure listener. What it receives is decoded and recorded
continuously (48 kHz mono float32 ring buffer), and every RTP packet's header is logged, so a
test can check both the sound (FFT, tests/support/audio.py) and the stream (sequence numbers,
timestamps, RTCP sender reports). ICE gathers 127.0.0.1 only by default (the suite runs where
`lo` is the only interface).

Typical use::

    client = RtcClient(tone_hz=440)      # or RtcClient() for recvonly, RtcClient(samples=x)
    await client.connect(session.accept_offer)            # offer -> answer via any transport
    await client.wait_connected()
    await client.wait_recorded(1.0)                       # 1 s of received audio
    assert abs(peak_hz(client.recorded(1.0)) - 660) < 15
    await client.close()

With signaling over a WebSocket, hand `connect` a coroutine that sends the offer and returns the
answer, or use `offer()` / `accept_answer()` yourself; `local_candidates()` lists what the offer
carries (aiortc puts every candidate in the SDP, so no trickle is needed).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import av
import numpy as np
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from aiortc.rtp import RtcpSrPacket

from mirp.media.compat import loopback_gathering
from tests.support.audio import FRAME, RATE, to_s16, tone
from tests.support.wait import Seen, until


class LoopTrack(MediaStreamTrack):
    """A microphone that loops the given mono float samples (48 kHz), paced in real time
    (aiortc's sender does no pacing: the track's recv() sets the timing)."""

    kind = "audio"

    def __init__(self, samples: np.ndarray) -> None:
        super().__init__()
        table = to_s16(np.asarray(samples, dtype=np.float32))
        if len(table) < FRAME:
            raise ValueError("need at least 20 ms of samples")
        self._table = np.concatenate([table, table[:FRAME]])  # a frame may wrap around
        self._period = len(table)
        self._pts = 0
        self._start: float | None = None

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if self._start is None:
            self._start = time.monotonic()
        due = self._start + self._pts / RATE
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        i = self._pts % self._period
        chunk = self._table[i:i + FRAME]
        frame = av.AudioFrame.from_ndarray(chunk.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = RATE
        frame.pts = self._pts
        frame.time_base = Fraction(1, RATE)
        self._pts += FRAME
        return frame


class ToneTrack(LoopTrack):
    """A microphone that plays a sine (1 s table: seamless for whole-Hz frequencies)."""

    def __init__(self, freq: float, dbfs: float = -12.0) -> None:
        super().__init__(tone(freq, 1.0, dbfs))
        self.freq, self.dbfs = freq, dbfs


@dataclass(frozen=True, slots=True)
class RtpSeen:
    """One received RTP packet's header, as the client saw it (after SRTP)."""

    sequence_number: int
    timestamp: int
    ssrc: int
    payload_type: int
    marker: int
    arrival: float  # time.monotonic()


@dataclass(frozen=True, slots=True)
class SenderReport:
    """One RTCP sender report the client received about the stream it hears."""

    ssrc: int
    packet_count: int
    octet_count: int
    rtp_timestamp: int
    ntp_timestamp: int
    arrival: float


class RtcClient:
    """One aiortc peer: offers, records what it hears, logs RTP headers."""

    def __init__(self, tone_hz: float | None = None, tone_dbfs: float = -12.0, *,
                 samples: np.ndarray | None = None, loopback_only: bool = True,
                 keep_seconds: float = 10.0, name: str = "client") -> None:
        """tone_hz: send a sine; samples: send these (looped) instead; neither: recvonly."""
        self.name = name
        self.loopback_only = loopback_only
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.mic: LoopTrack | None = None
        if samples is not None:
            self.mic = LoopTrack(samples)
        elif tone_hz is not None:
            self.mic = ToneTrack(tone_hz, tone_dbfs)
        if self.mic is not None:
            self.transceiver = self.pc.addTransceiver(self.mic, direction="sendrecv")
        else:
            self.transceiver = self.pc.addTransceiver("audio", direction="recvonly")
        self._buf = np.zeros(int(keep_seconds * RATE), dtype=np.float32)
        self._written = 0  # total samples ever recorded
        self.frames = 0
        self.rtp: deque[RtpSeen] = deque(maxlen=int(keep_seconds * 60))
        self.sender_reports: deque[SenderReport] = deque(maxlen=100)
        self._recorder: asyncio.Task[None] | None = None
        self._closed = False
        self._hook_rtp(self.transceiver.receiver)
        self.pc.on("track", self._on_track)

    # signaling

    async def offer(self) -> str:
        """Create and apply our offer; returns its SDP (carrying all our candidates)."""
        offer = await self.pc.createOffer()
        with contextlib.ExitStack() as stack:
            if self.loopback_only:
                stack.enter_context(loopback_gathering())
            await self.pc.setLocalDescription(offer)
        return str(self.pc.localDescription.sdp)

    async def accept_answer(self, sdp: str) -> None:
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="answer"))

    async def connect(self, signal: Callable[[str], Awaitable[str]]) -> None:
        """offer -> `signal(offer_sdp)` returns the answer SDP -> apply it."""
        await self.accept_answer(await signal(await self.offer()))

    def local_candidates(self) -> list[dict[str, Any]]:
        """Our candidates as a browser's `candidate.toJSON()` would give them."""
        out = []
        for line in str(self.pc.localDescription.sdp).splitlines():
            if line.startswith("a=candidate:"):
                out.append({"candidate": line[2:], "sdpMid": self.transceiver.mid,
                            "sdpMLineIndex": 0})
        return out

    async def wait_connected(self, within_s: float = 10.0) -> None:
        def connected() -> bool | Seen:
            state = self.pc.connectionState
            assert state not in ("failed", "closed"), f"{self.name}: not connected: {state}"
            return state == "connected" or Seen(state)

        await until(connected, f"{self.name}: connected", within_s, step=0.02, tolerate=())

    # recording

    def _hook_rtp(self, receiver: Any) -> None:
        original = receiver._handle_rtp_packet

        async def handle(packet: Any, arrival_time_ms: int) -> None:
            self.rtp.append(RtpSeen(packet.sequence_number, packet.timestamp, packet.ssrc,
                                    packet.payload_type, packet.marker, time.monotonic()))
            await original(packet, arrival_time_ms=arrival_time_ms)

        receiver._handle_rtp_packet = handle
        original_rtcp = receiver._handle_rtcp_packet

        async def handle_rtcp(packet: Any) -> None:
            if isinstance(packet, RtcpSrPacket):
                info = packet.sender_info
                self.sender_reports.append(SenderReport(
                    packet.ssrc, info.packet_count, info.octet_count, info.rtp_timestamp,
                    info.ntp_timestamp, time.monotonic()))
            await original_rtcp(packet)

        receiver._handle_rtcp_packet = handle_rtcp

    def _on_track(self, track: MediaStreamTrack) -> None:
        if track.kind == "audio" and self._recorder is None:
            self._recorder = asyncio.ensure_future(self._record(track))

    async def _record(self, track: MediaStreamTrack) -> None:
        with contextlib.suppress(MediaStreamError, asyncio.CancelledError):
            while True:
                frame: Any = await track.recv()
                data = frame.to_ndarray()
                channels = len(frame.layout.channels)
                mono = data.reshape(-1, channels)[:, 0] if data.ndim == 2 else data
                if mono.dtype == np.int16:
                    samples = mono.astype(np.float32) / 32768.0
                else:
                    samples = mono.astype(np.float32)
                self._append(samples)
                self.frames += 1

    def _append(self, samples: np.ndarray) -> None:
        n, size = len(samples), len(self._buf)
        samples = samples[-size:]
        start = self._written % size
        first = min(len(samples), size - start)
        self._buf[start:start + first] = samples[:first]
        self._buf[:len(samples) - first] = samples[first:]
        self._written += n

    @property
    def recorded_seconds(self) -> float:
        return self._written / RATE

    def recorded(self, seconds: float | None = None) -> np.ndarray:
        """The last `seconds` (default: all kept) of received audio, 48 kHz mono float32."""
        size = len(self._buf)
        n = min(self._written, size if seconds is None else int(seconds * RATE), size)
        end = self._written % size
        if n <= end:
            return self._buf[end - n:end].copy()
        return np.concatenate([self._buf[size - (n - end):], self._buf[:end]])

    async def wait_recorded(self, seconds: float, within_s: float = 10.0,
                            since: float | None = None) -> None:
        """Wait until `seconds` more audio than `since` (default: now) have been recorded."""
        base = self.recorded_seconds if since is None else since

        def recorded() -> bool | Seen:
            got = self.recorded_seconds - base
            return got >= seconds or Seen(f"{got:.2f} s; state {self.pc.connectionState}")

        await until(recorded, f"{self.name}: {seconds} s of audio recorded", within_s, step=0.02)

    # ending

    def vanish(self) -> None:
        """Disappear without a goodbye: close our UDP sockets, send no BYE and no DTLS alert."""
        for t in self.pc.getTransceivers():
            conn = t.receiver.transport.transport._connection
            for protocol in list(conn._protocols):
                transport = getattr(protocol, "transport", None)
                if transport is not None:
                    transport.abort()
        if self._recorder is not None:
            self._recorder.cancel()

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._recorder is not None:
            self._recorder.cancel()
        with contextlib.suppress(Exception):
            await self.pc.close()
