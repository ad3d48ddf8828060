"""An aiortc peer with a camera for the video tests: it sends synthetic VP8 whose frames carry
their publisher's tag and a frame counter, drawn as big black/white blocks (they survive VP8
compression at any bitrate), and reads both back from every frame it decodes.

Frame layout (160x128, gray): the top 32 rows are 4 blocks of 40 px, the tag's 4 bits; the
rest are 8 blocks of 20 px, the counter's low 8 bits.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import av
import numpy as np
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from tests.support.rtc import RtcClient

WIDTH, HEIGHT, FPS = 160, 128, 15
VIDEO_CLOCK = 90_000
BLACK, WHITE = 16, 235


def draw(tag: int, counter: int) -> np.ndarray:
    img = np.full((HEIGHT, WIDTH), BLACK, dtype=np.uint8)
    for bit in range(4):
        if tag >> bit & 1:
            img[:32, bit * 40:(bit + 1) * 40] = WHITE
    for bit in range(8):
        if counter >> bit & 1:
            img[32:, bit * 20:(bit + 1) * 20] = WHITE
    return img


def read(img: np.ndarray) -> tuple[int, int]:
    """(tag, counter mod 256) from a decoded gray frame (block centres only)."""
    tag = sum(1 << bit for bit in range(4)
              if img[8:24, bit * 40 + 10:bit * 40 + 30].mean() > 128)
    counter = sum(1 << bit for bit in range(8)
                  if img[48:112, bit * 20 + 5:bit * 20 + 15].mean() > 128)
    return tag, counter


class CounterCamera(MediaStreamTrack):
    """A camera at FPS frames a second, paced in real time, drawing (tag, frame number)."""

    kind = "video"

    def __init__(self, tag: int) -> None:
        super().__init__()
        self.tag = tag
        self.count = 0
        self._start: float | None = None

    async def recv(self) -> av.VideoFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if self._start is None:
            self._start = time.monotonic()
        delay = self._start + self.count / FPS - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        frame = av.VideoFrame.from_ndarray(draw(self.tag, self.count), format="gray")
        frame.pts = self.count * (VIDEO_CLOCK // FPS)
        frame.time_base = Fraction(1, VIDEO_CLOCK)
        self.count += 1
        return frame


@dataclass(frozen=True, slots=True)
class FrameSeen:
    arrival: float
    tag: int
    counter: int


@dataclass(frozen=True, slots=True)
class VideoRtp:
    sequence_number: int
    timestamp: int
    ssrc: int
    arrival: float


class VideoPeer(RtcClient):
    """An RtcClient (audio: a tone or recvonly) plus a video m-line: a CounterCamera sendrecv,
    or recvonly without a camera. Records decoded frames and the video RTP headers."""

    def __init__(self, tone_hz: float | None = None, *, camera_tag: int | None = None,
                 name: str = "client") -> None:
        super().__init__(tone_hz, name=name)
        self.camera = CounterCamera(camera_tag) if camera_tag is not None else None
        if self.camera is not None:
            self.video = self.pc.addTransceiver(self.camera, direction="sendrecv")
        else:
            self.video = self.pc.addTransceiver("video", direction="recvonly")
        self.frames_seen: list[FrameSeen] = []
        self.video_rtp: list[VideoRtp] = []
        self.keyframe_requests = 0  # PLIs/FIRs our camera's sender received
        self._reader: asyncio.Task[None] | None = None
        self._hook_video()
        self.pc.on("track", self._on_video_track)

    def _hook_video(self) -> None:
        receiver: Any = self.video.receiver
        original = receiver._handle_rtp_packet

        async def handle(packet: Any, arrival_time_ms: int) -> None:
            self.video_rtp.append(VideoRtp(packet.sequence_number, packet.timestamp,
                                           packet.ssrc, time.monotonic()))
            await original(packet, arrival_time_ms=arrival_time_ms)

        receiver._handle_rtp_packet = handle
        sender: Any = self.video.sender
        original_rtcp = sender._handle_rtcp_packet

        async def handle_rtcp(packet: Any) -> None:
            if getattr(packet, "fmt", None) in (1, 4) and type(packet).__name__ == \
                    "RtcpPsfbPacket":
                self.keyframe_requests += 1
            await original_rtcp(packet)

        sender._handle_rtcp_packet = handle_rtcp

    def _on_video_track(self, track: MediaStreamTrack) -> None:
        if track.kind == "video" and self._reader is None:
            self._reader = asyncio.ensure_future(self._read(track))

    async def _read(self, track: MediaStreamTrack) -> None:
        with contextlib.suppress(MediaStreamError, asyncio.CancelledError):
            while True:
                frame: Any = await track.recv()
                tag, counter = read(frame.to_ndarray(format="gray"))
                self.frames_seen.append(FrameSeen(time.monotonic(), tag, counter))

    def last_tag(self) -> int | None:
        return self.frames_seen[-1].tag if self.frames_seen else None

    def frames_of(self, tag: int, since: float = 0.0) -> list[FrameSeen]:
        return [f for f in self.frames_seen if f.tag == tag and f.arrival >= since]

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
        await super().close()
