"""Sources: one microphone each, drained from the moment it is accepted, decoded only when used.

The lean receive path. aiortc's receiver runs every audio packet through a fixed jitter buffer
(capacity 16, prefetch 4: about 80 ms) and a decoder thread into an unbounded track queue. We keep
everything of aiortc's receive path that matters on the wire (SRTP, RTX unwrapping, the RTCP
receiver statistics and reports) and replace only its jitter buffer, on that one receiver
instance, with a tap: the Opus payload goes straight into our `LeanJitterBuffer` (1 to 3 packets,
adaptive), and aiortc's decoder thread and track queue never see a packet, so nothing can pile up
there. Each tick the engine pulls one 20 ms frame from every source the plan uses; a source the
plan does not use is parked: the tap drops its packets at the cost of a method call, no decode.

The tap replaces a private attribute of aiortc's receiver, through media/compat.py (its
`receive_tap` feature; tests/media/test_engine_rtc.py covers it with real peers). When the
start-up self-check finds that internal changed, the source reads decoded frames from
`track.recv()` instead (the stock path, ~80 ms later), and the self-check says so.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import av
import numpy as np
import numpy.typing as npt
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from mirp.media import compat
from mirp.media.mixer import FRAME_SAMPLES, SAMPLE_RATE, SILENCE_DBFS, Frame

log = logging.getLogger(__name__)

_FADE = np.linspace(1.0, 0.0, FRAME_SAMPLES, dtype=np.float32)


class LeanJitterBuffer:
    """A small adaptive playout buffer of Opus payloads keyed by RTP sequence number.

    Playout starts once `target` packets (1 at first) are waiting. Each tick takes the next
    sequence number: present -> play it; missing while later ones wait -> lost, conceal and move
    on; nothing waiting -> underrun, conceal and wait for it (the stream stays in order). A packet
    that arrives after its slot was given up, or that ends a short underrun, is jitter: the target
    depth grows by one (at most `max_depth`). Ten calm seconds shrink it again, and a queue that
    stays deeper than the target for half a second is trimmed by one packet, so latency returns
    to the minimum the network allows. Every queue here is bounded (`capacity`).
    """

    def __init__(self, min_depth: int = 1, max_depth: int = 3, capacity: int = 16) -> None:
        self.min_depth = min_depth
        self.max_depth = max_depth
        self.capacity = capacity
        self.target = min_depth
        self._buf: dict[int, bytes] = {}
        self._high: int | None = None  # highest extended sequence number seen
        self._next: int | None = None  # next extended sequence number to play
        self._starving = 0  # consecutive underrun ticks
        self._over = 0  # consecutive ticks deeper than target
        self._calm = 0  # ticks since the last sign of jitter
        self.received = self.played = self.lost = self.late = 0
        self.underruns = self.trimmed = self.overflows = 0
        self._arrival: dict[int, float] = {}
        self.hold_ms = 0.0  # average time a packet waits here before it is played (EWMA)

    @property
    def depth(self) -> int:
        return len(self._buf)

    def reset(self) -> None:
        """Forget the queue and the playout position (after parking); keep the learned target."""
        self._buf.clear()
        self._arrival.clear()
        self._high = None
        self._next = None
        self._starving = self._over = 0

    def _extend(self, seq: int) -> int:
        if self._high is None:
            self._high = seq
            return seq
        delta = ((seq - (self._high & 0xFFFF) + 0x8000) & 0xFFFF) - 0x8000
        ext = self._high + delta
        self._high = max(self._high, ext)
        return ext

    def _jitter_seen(self) -> None:
        self.target = min(self.max_depth, self.target + 1)
        self._calm = 0

    def put(self, seq: int, payload: bytes, now: float | None = None) -> None:
        """Store one packet; `now` (seconds, monotonic) lets the buffer report its hold time."""
        ext = self._extend(seq & 0xFFFF)
        self.received += 1
        if self._next is not None and ext < self._next:
            self.late += 1  # its slot was concealed already; playing it now would add delay
            self._jitter_seen()
            return
        if ext in self._buf:
            return
        if 0 < self._starving <= 3:
            self._jitter_seen()  # a short gap then arrival: jitter, not a pause in the stream
        self._starving = 0
        self._buf[ext] = payload
        if now is not None:
            self._arrival[ext] = now
        while len(self._buf) > self.capacity:
            oldest = min(self._buf)
            del self._buf[oldest]
            self._arrival.pop(oldest, None)
            self.overflows += 1
            if self._next is not None and self._next <= oldest:
                self._next = oldest + 1

    def take(self, now: float | None = None) -> bytes | None:
        """The payload for this tick, or None when the tick must be concealed."""
        self._calm += 1
        if self._calm > 500 and self.target > self.min_depth:
            self.target -= 1
            self._calm = 0
        if self._next is None:
            if len(self._buf) < self.target:
                return None  # prefilling
            self._next = min(self._buf)
        payload = self._buf.pop(self._next, None)
        if payload is not None:
            arrived = self._arrival.pop(self._next, None)
            if now is not None and arrived is not None:
                self.hold_ms += ((now - arrived) * 1000.0 - self.hold_ms) * 0.05
            self._next += 1
            self.played += 1
            self._trim()
            return payload
        if not self._buf:
            self.underruns += 1
            self._starving += 1
            return None
        first = min(self._buf)
        if first - self._next > self.capacity:
            self._next = first  # the sender jumped (restart): resync without counting losses
            return self.take(now)
        self.lost += 1
        self._next += 1
        return None

    def _trim(self) -> None:
        # steady state at depth T leaves T - 1 waiting after a take; more, for long, is latency
        if len(self._buf) >= self.target:
            self._over += 1
            if self._over >= 25 and self._next is not None:
                self._buf.pop(self._next, None)
                self._arrival.pop(self._next, None)
                self._next += 1
                self.trimmed += 1
                self._over = 0
        else:
            self._over = 0


class OpusDecoder:
    """libopus decoder to float32 mono at 48 kHz (whatever the packet's channel count)."""

    def __init__(self) -> None:
        ctx = av.CodecContext.create("libopus", "r")
        ctx.sample_rate = SAMPLE_RATE
        ctx.layout = "mono"
        self._ctx = ctx

    def decode(self, payload: bytes) -> Frame:
        if not payload:  # an empty av.Packet means "flush": the decoder would never decode again
            return np.zeros(0, dtype=np.float32)
        parts = [_mono_float(f) for f in self._ctx.decode(av.Packet(payload))]
        if not parts:
            return np.zeros(0, dtype=np.float32)
        return parts[0] if len(parts) == 1 else np.concatenate(parts)


def _mono_float(frame: Any) -> Frame:
    """An av.AudioFrame (s16 or flt, packed or planar, any channel count) as float32 mono."""
    arr = frame.to_ndarray()
    channels = len(frame.layout.channels)
    if frame.format.is_planar:
        data = arr.mean(axis=0) if channels > 1 else arr[0]
    else:
        data = arr.reshape(-1, channels).mean(axis=1) if channels > 1 else arr.reshape(-1)
    if np.issubdtype(data.dtype, np.integer):
        data = data.astype(np.float32) / 32768.0
    out: Frame = np.asarray(data, dtype=np.float32)
    return out


class Source:
    """One microphone: RTP payloads (lean path) or PCM (fallback, tests) in, 20 ms frames out."""

    def __init__(self, source_id: str, max_backlog_frames: int = 10) -> None:
        self.id = source_id
        self.active = False
        self.jitter = LeanJitterBuffer()
        self.tapped = False
        self.ended = False
        self.parked_drops = 0
        self.decode_errors = 0
        self.concealed = 0
        self._decoder: OpusDecoder | None = None
        self._staged: deque[Frame] = deque()
        self._staged_n = 0
        self._max_staged = max_backlog_frames * FRAME_SAMPLES
        self._last: Frame | None = None
        self._level_sq = 0.0
        self._level_n = 0
        self._tap: compat.ReceiverTap | None = None
        self._drain: asyncio.Task[None] | None = None
        # every tapped payload also goes here, parked or not: an edge relaying this microphone
        # to the origin that mixes it (media/relay_sources.py); never decoded for that
        self.forward: Callable[[int, bytes], None] | None = None

    # -- inputs (on the event loop) ---------------------------------------------------------
    def attach(self, receiver: Any, track: MediaStreamTrack | None) -> None:
        """Tap the receiver's packets and drain its track for as long as the source lives."""
        if receiver is not None:
            self._tap = compat.tap_receiver(receiver, self.feed_rtp)
            self.tapped = self._tap is not None
            if not self.tapped:
                log.warning("source %s: no receive tap (compat self-check: %s); decoding "
                            "track.recv()", self.id, "receive_tap on, but a foreign receiver"
                            if compat.enabled("receive_tap") else "receive_tap off")
        if track is not None:
            self._drain = asyncio.get_running_loop().create_task(
                self._drain_track(track), name=f"source-drain-{self.id}"
            )

    async def _drain_track(self, track: MediaStreamTrack) -> None:
        """Read every frame the track yields: tapped, only the end (or a few early frames)."""
        try:
            while True:
                frame = await track.recv()
                if not self.tapped and self.active:
                    self.feed_pcm(_mono_float(frame))
        except MediaStreamError:
            pass
        except Exception:
            log.exception("source %s: track failed", self.id)
        self.ended = True

    def feed_rtp(self, seq: int, payload: bytes) -> None:
        if self.forward is not None:
            try:
                self.forward(seq, payload)
            except Exception:
                log.exception("source %s: forwarding failed", self.id)
        if not self.active:
            self.parked_drops += 1
            return
        self.jitter.put(seq, payload, time.monotonic())

    def feed_pcm(self, samples: npt.NDArray[Any]) -> None:
        """Queue mono samples (float32 in [-1, 1], or int16); bounded: the oldest are dropped."""
        if not self.active:
            self.parked_drops += 1
            return
        data = np.asarray(samples).reshape(-1)
        if not (np.issubdtype(data.dtype, np.integer) or np.issubdtype(data.dtype, np.floating)):
            raise TypeError(f"samples of dtype {data.dtype} are not audio")
        if np.issubdtype(data.dtype, np.integer):
            data = data.astype(np.float32) / 32768.0
        self._stage(data.astype(np.float32, copy=False))

    def set_active(self, active: bool) -> None:
        if active == self.active:
            return
        self.active = active
        if not active:
            self.jitter.reset()
            self._staged.clear()
            self._staged_n = 0
            self._last = None
        self._level_sq, self._level_n = 0.0, 0

    # -- output (once per tick, on the clock) -----------------------------------------------
    def pull(self) -> Frame | None:
        """This tick's 20 ms frame, a concealment frame, or None (nothing to play)."""
        if self._staged_n < FRAME_SAMPLES:
            payload = self.jitter.take(time.monotonic())
            if payload is not None:
                if self._decoder is None:
                    self._decoder = OpusDecoder()
                try:
                    self._stage(self._decoder.decode(payload))
                except av.FFmpegError as exc:
                    self.decode_errors += 1
                    log.debug("source %s: undecodable packet: %s", self.id, exc)
                    if isinstance(exc, av.EOFError):
                        self._decoder = None  # a drained decoder never decodes again
        if self._staged_n >= FRAME_SAMPLES:
            frame = self._unstage()
            self._last = frame
            self._level_sq += float(np.dot(frame, frame))
            self._level_n += FRAME_SAMPLES
            return frame
        return self._conceal()

    def _conceal(self) -> Frame | None:
        """Mirror-and-fade: the last frame played backwards, fading out, then silence.

        Mirroring keeps the waveform continuous at the joint (no click) and the fade hides the
        repetition; a second missing frame in a row is silence. Cheap, and free of decoder state.
        """
        last, self._last = self._last, None
        if last is None:
            self._level_n += FRAME_SAMPLES
            return None
        self.concealed += 1
        frame = (last[::-1] * _FADE).astype(np.float32)
        self._level_sq += float(np.dot(frame, frame))
        self._level_n += FRAME_SAMPLES
        return frame

    def _stage(self, data: Frame) -> None:
        if data.size == 0:
            return
        self._staged.append(data)
        self._staged_n += data.size
        excess = self._staged_n - self._max_staged
        while excess > 0:  # drop the oldest samples: live speech is worth nothing late
            head = self._staged[0]
            if head.size <= excess:
                self._staged.popleft()
                self._staged_n -= head.size
                excess -= head.size
            else:
                self._staged[0] = head[excess:]
                self._staged_n -= excess
                excess = 0

    def _unstage(self) -> Frame:
        parts: list[Frame] = []
        need = FRAME_SAMPLES
        while need:
            head = self._staged[0]
            if head.size <= need:
                parts.append(self._staged.popleft())
                need -= head.size
            else:
                parts.append(head[:need])
                self._staged[0] = head[need:]
                need = 0
        self._staged_n -= FRAME_SAMPLES
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def take_level(self) -> float:
        """RMS level in dBFS since the last call (silence reads -100)."""
        sq, n = self._level_sq, self._level_n
        self._level_sq, self._level_n = 0.0, 0
        if n == 0 or sq <= 0.0:
            return SILENCE_DBFS
        rms = (sq / n) ** 0.5
        return max(SILENCE_DBFS, 20.0 * float(np.log10(max(rms, 1e-12))))

    def close(self) -> asyncio.Task[None] | None:
        """Stop tapping (later packets are dropped by the tap) and stop draining; idempotent."""
        if self._tap is not None:
            self._tap.detach()
        self.active = False
        self._staged.clear()
        self._staged_n = 0
        task, self._drain = self._drain, None
        if task is not None and not task.done():
            task.cancel()
        return task


async def wait_closed(tasks: list[asyncio.Task[None] | None]) -> None:
    live = [t for t in tasks if t is not None]
    if live:
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*live, return_exceptions=True)
